"""`POST /api/chat-stream/message`: chat with Claude over server-sent events.

Only a body that is not JSON is refused before the stream starts (400, text `Invalid JSON`,
as upstream). Everything else (an invalid request, a missing or malformed Bearer token, no
Anthropic key, Claude failing) is reported inside the stream as an `error` event, and `done`
always comes last. Hence no `body=` model or `auth="bearer"` on the route: the request model
is documented here and checked in the stream (`dj.chat.session`).
"""

from __future__ import annotations

import json

from dj.chat.session import run_chat
from runtime import Context, Response, Router, jsonsafe
from runtime.sse import SSE, EventStream, before_stream

router = Router(tags=["chat"])

MAX_BODY = 64 * 1024
BODY_STATE = "chat.body"


async def read_json(c: Context) -> Response | None:
    """Parse the body before streaming: 400 `Invalid JSON` (text) when it is not JSON."""
    raw = await c.req.bytes()
    if len(raw) > MAX_BODY:
        return Response.text("Payload too large", 413)
    try:
        body = jsonsafe.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return Response.text("Invalid JSON", 400)
    c.state[BODY_STATE] = (body, len(raw))
    return None


@router.post(
    "/message",
    stream=SSE(done=True),
    summary="Chat with Claude (server-sent events)",
    description=(
        "JSON body `{message: 1-2000 chars, conversationHistory?: [{role, content}] (max 20), "
        "mode?: analyze|create|dj|edit}` and `Authorization: Bearer <Spotify token>`. "
        'Events are `data: {"data": ..., "type": ...}` with types debug, log, thinking, '
        "tool_start, tool_end, content, error and done (always last). Only a body that is "
        "not JSON is refused up front (400)."
    ),
    responses={200: None, 400: None, 413: None},
)
@before_stream(read_json)
async def message(c: Context, stream: EventStream) -> None:
    body, size = c.state.pop(BODY_STATE)
    await run_chat(c, stream, body, size)
