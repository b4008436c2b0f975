"""Vibe steering (reference §7.5, §2.2): the plain route and the event stream.

Plain (`POST /api/mix/vibe/steer`): a preset when one matches (`dj.steering`), else the fast
model reads the request (energy is absolute, §12.8); the route then clears the queue, refills
it and saves the new vibe whatever the refill finds (§12.6).

Stream (`POST /api/mix/vibe/steer-stream`), events in this order:
`ack` → `progress` (analyzing) → `thinking`* (one per thinking block, first 500 characters)
→ `vibe_update` → `progress` (adjusting) → `progress` (building) → `queue_update`* (one per
track added) → `progress` (playing, only when Spotify started the new queue) → `suggestions`
→ `done`; on failure `error {message}` and no `done`. The main model interprets the request
with thinking; the fast model writes the two progress lines (a fixed line when it cannot);
the new queue comes from `SuggestionEngine.for_steering` (five tracks) and playback restarts
with it, as upstream's stream does; the session records that restart first (a `steer` signal,
see `dj.player_transitions`) so the player stream does not take it for the listener's skip.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from typing import Any

from dj.mix_rules import add_signal, clear_queue
from dj.models.mix import MixSession, VibeProfile
from dj.player_transitions import steer_marker
from dj.steering import (
    apply_adjustment,
    apply_stream_adjustment,
    build_steering_prompt,
    parse_claude_adjustment,
    steer_with_preset,
    steering_changes,
    stream_changes,
)
from runtime.context import Context
from runtime.errors import HTTPError

from . import ai
from .autofill import apply
from .sessions import MixService, now_ms
from .spotify_calls import MixSpotify
from .suggestions import SuggestionEngine

NOT_AVAILABLE = "AI vibe steering not available"
STEER_FAILED = "Could not work out how to steer the mix"
THINKING_PREVIEW = 500
STEER_SUGGESTIONS = 8
LINE_MAX = 120
ANALYZING = (
    "Listening to what you asked for...",
    "Sizing up the current vibe...",
    "Working out the new direction...",
)
FALLBACK_LINES = {
    "adjusting": "Reshaping the vibe...",
    "building": "Digging for tracks that fit...",
}
LINE_TASKS = {
    "adjusting": "the vibe is being reshaped to match",
    "building": "new tracks are being picked to match",
}


async def interpret(c: Context, vibe: VibeProfile, direction: str) -> tuple[VibeProfile, list[str]]:
    """Plain steering: preset, else the fast model. HTTPError 500 without a key, 502 when
    the model call fails."""
    preset = steer_with_preset(vibe, direction)
    if preset is not None:
        return preset
    if not ai.ai_available(c):
        raise HTTPError(500, NOT_AVAILABLE)
    try:
        answer = await ai.ask(
            c,
            build_steering_prompt(vibe, direction),
            fast=True,
            max_tokens=ai.STEER_MAX_TOKENS,
            temperature=ai.STEER_TEMPERATURE,
        )
    except ai.AnthropicError as exc:
        c.log.warn("steering: Claude failed", kind=exc.kind)
        raise HTTPError(502, STEER_FAILED) from None
    new = apply_adjustment(vibe, parse_claude_adjustment(answer.text))
    return new, steering_changes(vibe, new)


def thinking_preview(text: str) -> str:
    return text[:THINKING_PREVIEW] + ("..." if len(text) > THINKING_PREVIEW else "")


def _clean_line(text: str) -> str:
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    line = line.strip("\"'“” ")
    return line[:LINE_MAX]


async def progress_line(c: Context, stage: str, direction: str, changes: list[str]) -> str:
    """One short line from the fast model for `stage`; a fixed line when it cannot."""
    fallback = FALLBACK_LINES[stage]
    if not ai.ai_available(c):
        return fallback
    summary = "; ".join(changes) or "no big changes"
    prompt = (
        "Write one short status line (under 80 characters, no emojis, no quotes) for a DJ "
        f'app. The listener asked for "{direction}" and {LINE_TASKS[stage]} it '
        f"({summary}). Reply with the line only."
    )
    try:
        answer = await ai.ask(
            c,
            prompt,
            fast=True,
            max_tokens=ai.LINE_MAX_TOKENS,
            temperature=ai.LINE_TEMPERATURE,
            retries=0,
            timeout=10.0,
        )
    except ai.AnthropicError:
        return fallback
    return _clean_line(answer.text) or fallback


Send = Callable[[str, Any], Awaitable[bool]]


async def run_stream(
    c: Context, send: Send, svc: MixService, session: MixSession, direction: str
) -> None:
    """The steer stream's work after the pre-checks; every event goes through `send`."""
    try:
        await _run(c, send, svc, session, direction)
    except Exception as exc:
        c.log.error("steer stream failed", exc)
        message = exc.message if isinstance(exc, HTTPError) else STEER_FAILED
        await send("error", {"message": message})


async def _run(
    c: Context, send: Send, svc: MixService, session: MixSession, direction: str
) -> None:
    await send(
        "ack", {"direction": direction, "message": f'Got it! Steering towards "{direction}"...'}
    )
    await send("progress", {"message": random.choice(ANALYZING), "stage": "analyzing"})

    try:
        answer = await ai.ask(
            c,
            build_steering_prompt(session.vibe, direction),
            max_tokens=ai.STREAM_STEER_MAX_TOKENS,
            thinking_budget=ai.STREAM_STEER_THINKING,
        )
    except ai.AnthropicError as exc:
        c.log.warn("steer stream: Claude failed", kind=exc.kind)
        raise HTTPError(502, STEER_FAILED) from None
    for block in answer.thinking:
        await send("thinking", {"preview": thinking_preview(block)})
    old = session.vibe
    vibe = apply_stream_adjustment(old, parse_claude_adjustment(answer.text))
    changes = stream_changes(old, vibe)
    await send("vibe_update", {"changes": changes, "vibe": vibe.model_dump(mode="json")})

    pending = clear_queue(session.model_copy(update={"vibe": vibe}, deep=True))
    await send(
        "progress",
        {"message": await progress_line(c, "adjusting", direction, changes), "stage": "adjusting"},
    )
    await send(
        "progress",
        {"message": await progress_line(c, "building", direction, changes), "stage": "building"},
    )

    added = []
    try:
        found = await SuggestionEngine(c).for_steering(pending, direction, STEER_SUGGESTIONS)
        result = apply(pending, found)
        pending, added = result.session, result.added
    except Exception as exc:  # the vibe change is saved below even without new tracks
        c.log.error("steer stream: suggestions failed", exc)
    if added:
        # Playback restarts with the new queue below: mark the track change as ours, so the
        # player stream does not count it as the listener's skip.
        pending = add_signal(pending, steer_marker(pending.queue[0].track_id, now_ms()))
    saved = await svc.save(pending)
    for track in added:
        await send(
            "queue_update",
            {"queueSize": track.position + 1, "track": track.model_dump(mode="json")},
        )
    if added and await MixSpotify(c).play([t.track_uri for t in saved.queue]):
        await send("progress", {"message": "Starting your new mix...", "stage": "playing"})
    queue = [t.model_dump(mode="json") for t in saved.queue]
    await send("suggestions", {"count": len(queue)})
    await send(
        "done",
        {
            "changes": changes,
            "message": f"Vibes adjusted! {len(added)} new tracks in your queue.",
            "queue": queue,
            "vibe": saved.vibe.model_dump(mode="json"),
        },
    )
