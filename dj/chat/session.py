"""One chat request, from the parsed JSON body to the last event (the route's whole job).

Event order (`log` events, mirrored from the request's logger, may come in between):

    debug {buildInfo, requestId, serverTime}
    -- the body is checked: a problem ends here with `error` (the issues, as JSON text)
    debug {historyLength, messageLength, mode, rawMessage (first 100 chars), requestId}
    log   "Playlist ID extracted: <id>" | "No playlist ID found in message" (warn)
    -- Bearer token: missing or malformed → `error` "Unauthorized - ..."
    -- Anthropic key: missing → `error` "Anthropic API key is not configured"
    thinking <narrated "started" line>
    debug {hasPlaylistContext, playlistId, systemPromptLength}
    thinking "Analyzing your request..." → content* → (tools: see `loop`) → ...
    content <apology> when Claude produced no text at all
    done  (always last, added by the runtime)

Secrets never reach an event: the key and the token are only ever in request headers, log
records are redacted by the logger, and a mirrored `log` event carries no stack trace.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from runtime.auth import bearer_token
from runtime.context import current_or_none
from runtime.logging import redact
from runtime.sse import StreamError
from runtime.validation import issues_from

from ..anthropic import AnthropicClient, AnthropicSettings
from ..spotify import SpotifyClient
from .loop import ChatFailure, ChatLoop
from .models import ChatRequest, split_playlist_prefix
from .narrator import Narrator
from .prompts import DJContext, NowPlaying, dj_prompt, standard_prompt
from .tools import registry
from .tools.common import artist_names
from .tools.registry import ToolContext

if TYPE_CHECKING:
    from runtime.context import Context
    from runtime.sse import EventStream

UNAUTHORIZED = "Unauthorized - Missing or invalid Authorization header"
NO_API_KEY = "Anthropic API key is not configured"
EMPTY_ANSWER = (
    "I could not put an answer together this time. Please try rephrasing or simplifying "
    "your request."
)
BUILD_INFO = {"branch": "main", "buildTime": "", "commitHash": "current", "version": "1.0.0"}


def _iso(ts: float) -> str:
    whole = int(ts)
    return (
        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{int((ts - whole) * 1000):03d}Z"
    )


def mirror_logs(c: Context, stream: EventStream) -> None:
    """Send every log record this request makes as a `log` event (redacted, no traces).

    The app's logger is shared by concurrent requests, so a record is mirrored only when the
    code that logged it runs in this request's context."""

    def listener(record: dict[str, Any]) -> None:
        if current_or_none() is not c or stream.closed:
            return
        event: dict[str, Any] = {
            "level": record.get("level", "info"),
            "message": f"[{record.get('service', '')}] {record.get('msg', '')}",
        }
        fields = record.get("fields")
        if isinstance(fields, dict):
            data = {k: v for k, v in fields.items() if k != "trace"}
            if data:
                event["data"] = redact(data)
        stream.send_nowait("log", event)

    listeners = c.log.listeners
    listeners.append(listener)

    def detach() -> None:
        if listener in listeners:
            listeners.remove(listener)

    stream.on_close(detach)


async def dj_context(spotify: SpotifyClient) -> DJContext | None:
    """What is playing and how long the queue is, for the DJ prompt (None if unknown)."""
    playing, queue = await asyncio.gather(
        spotify.player("GET", "/currently-playing"), spotify.player("GET", "/queue")
    )
    now: NowPlaying | None = None
    depth: int | None = None
    if playing.ok and playing.status != 204 and playing.body.strip():
        data = playing.json()
        item = data.get("item") if isinstance(data, dict) else None
        if isinstance(item, dict):
            progress = int(data.get("progress_ms") or 0) // 1000
            duration = int(item.get("duration_ms") or 0) // 1000
            now = NowPlaying(
                track=str(item.get("name") or "Unknown"),
                artist=artist_names(item) or "Unknown",
                progress=f"{progress}s / {duration}s",
            )
    if queue.ok and queue.body.strip():
        data = queue.json()
        items = data.get("queue") if isinstance(data, dict) else None
        depth = len(items) if isinstance(items, list) else 0
    if now is None and depth is None:
        return None
    return DJContext(now, depth)


async def run_chat(c: Context, stream: EventStream, body: Any, body_size: int) -> None:
    """The handler's work after the JSON body parsed; problems end in an `error` event."""
    mirror_logs(c, stream)
    rid = c.request_id or "-"
    log = c.log.child("chat")
    now = _iso(time.time())
    await stream.send(
        "debug",
        {"buildInfo": dict(BUILD_INFO, buildTime=now), "requestId": rid, "serverTime": now},
    )
    await stream.send(
        "log",
        {"level": "info", "message": f"[{rid}] Request received - Body size: {body_size} bytes"},
    )
    try:
        request = ChatRequest.model_validate(body, strict=True)
    except ValidationError as exc:
        issues = issues_from(exc, "body")
        raise StreamError(json.dumps(issues, separators=(",", ":"), ensure_ascii=False)) from None
    await stream.send(
        "debug",
        {
            "historyLength": len(request.conversationHistory),
            "messageLength": len(request.message),
            "mode": request.mode,
            "rawMessage": request.message[:100],
            "requestId": rid,
        },
    )
    playlist_id, text = split_playlist_prefix(request.message)
    if playlist_id:
        await stream.send(
            "log", {"level": "info", "message": f"[{rid}] Playlist ID extracted: {playlist_id}"}
        )
    else:
        await stream.send(
            "log", {"level": "warn", "message": f"[{rid}] No playlist ID found in message"}
        )

    token = bearer_token(c.req.headers)
    if token is None:
        raise StreamError(UNAUTHORIZED)
    await stream.send("log", {"level": "info", "message": f"[{rid}] Auth token present"})
    settings = AnthropicSettings.from_context(c)
    if not settings.configured:
        log.error("ANTHROPIC_API_KEY is not set")
        raise StreamError(NO_API_KEY)

    anthropic = AnthropicClient(settings)
    spotify = SpotifyClient.for_request(c, token)
    narrator = Narrator(anthropic, logger=c.log.child("narrator"))
    stream.check()
    started = await narrator.message("started", user_request=text)
    await stream.send("thinking", started)

    context = None
    if request.mode == "dj":
        stream.check()
        context = await dj_context(spotify)
        system = dj_prompt(context)
    else:
        system = standard_prompt(playlist_id, request.mode)
    await stream.send(
        "log",
        {
            "level": "info",
            "message": f"[{rid}] System prompt includes playlist: {'YES' if playlist_id else 'NO'}",
        },
    )
    await stream.send(
        "debug",
        {
            "hasPlaylistContext": playlist_id is not None,
            "playlistId": playlist_id,
            "systemPromptLength": len(system),
        },
    )
    messages: list[dict[str, Any]] = [
        {"role": m.role, "content": m.content}
        for m in request.conversationHistory
        if m.content.strip()
    ]
    messages.append({"role": "user", "content": text})
    await stream.send(
        "log",
        {"level": "info", "message": f"[{rid}] Messages prepared: {len(messages)} total"},
    )
    tool_context = ToolContext(
        spotify=spotify,
        anthropic=anthropic,
        events=stream,
        narrator=narrator,
        logger=c.log.child("tools"),
        token=token,
        playlist_id=playlist_id,
        mode=request.mode,
        user_request=text,
        request=c,
    )
    loop = ChatLoop(
        client=anthropic,
        events=stream,
        tools=registry(),
        tool_context=tool_context,
        system=system,
        logger=log,
    )
    try:
        answer = await loop.run(messages)
    except ChatFailure as exc:
        raise StreamError(str(exc)) from None
    if not answer:
        await stream.send("content", EMPTY_ANSWER)
    log.info(
        "chat finished",
        turns=loop.stats.turns,
        anthropic_calls=loop.stats.anthropic_calls,
        tools=loop.stats.tools_run,
        final_call=loop.stats.final_call,
    )
