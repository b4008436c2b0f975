"""`POST /api/mix/vibe/steer-stream`: steer the mix in words and watch it happen (SSE).

Framing is data-only JSON, `data: {"data": ..., "type": ...}` (reference §2.2); the events
and their order are described in `dj.mix.steer`. Before the stream starts, plain JSON
answers: 400 `{"error": "Invalid request"}` for a bad body (the web client's contract), 401 without a Bearer token or when
Spotify refuses it, 500 `Mix sessions not available` / `AI not available`, 404 `No active
session`. Mounted at `/api/mix/vibe`.
"""

from typing import Any, ClassVar

from pydantic import Field

from dj.mix.ai import ai_available
from dj.mix.sessions import MixService
from dj.mix.steer import run_stream
from dj.models.mix import CamelModel, MixSession
from dj.spotify_models import BadRequest, ErrorBody
from runtime import Context, HTTPError, Response, Router
from runtime.sse import SSE, EventStream, before_stream

router = Router(tags=["mix"], auth="bearer")

STATE_KEY = "mix.steer"


class SteerStreamRequest(CamelModel):
    invalid_body_message: ClassVar[str] = "Invalid request"

    direction: str = Field(min_length=1, max_length=500)


async def _prepare(c: Context) -> Response | None:
    svc = await MixService.for_request(c)
    if not ai_available(c):
        raise HTTPError(500, "AI not available")
    session = await svc.require()
    c.state[STATE_KEY] = (svc, session)
    return None


@router.post(
    "/steer-stream",
    body=SteerStreamRequest,
    stream=SSE(framing="json", heartbeat=0),
    responses={
        200: None,
        400: BadRequest,
        401: ErrorBody,
        404: ErrorBody,
        500: ErrorBody,
        502: ErrorBody,
        504: ErrorBody,
    },
    summary="Steer the vibe, streamed",
    description=(
        'Server-sent events, `data: {"data":...,"type":...}`: ack, progress (analyzing), '
        "thinking*, vibe_update, progress (adjusting), progress (building), queue_update*, "
        "progress (playing, when playback restarted), suggestions, done; or error."
    ),
    operation_id="mixSteerStream",
)
@before_stream(_prepare)
async def steer_stream(c: Context, stream: EventStream) -> None:
    svc, session = c.state[STATE_KEY]
    session_typed: MixSession = session

    async def send(kind: str, data: Any) -> bool:
        return await stream.send(kind, data)

    await run_stream(c, send, svc, session_typed, c.body.direction)
