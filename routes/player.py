"""Playback control: a thin proxy over Spotify's `/me/player` endpoints.

Mounted at `/api/player`. The contract is the TypeScript worker's (reference §1.2, "Player
proxy"): reads answer Spotify's JSON as it came (`GET /me/player`'s 204 becomes
`{device: null, is_playing: false, item: null}`), commands answer `{success: true}`, and a
Spotify failure answers `{error: "<what failed>", details: "<Spotify's error text>"}` with
Spotify's own status for a refusal (404 NO_ACTIVE_DEVICE, 403 PREMIUM_REQUIRED, 429 with
`Retry-After`...); a Spotify outage (5xx) or garbage is a 502 (upstream: Spotify's 5xx).

Differences, deliberate: input is validated by models, so bad input is a 400 with the
validation envelope instead of the upstream's 500 (invalid JSON) or a route-specific 400;
a missing or malformed bearer token is the runtime's 401 with `WWW-Authenticate`; when
Spotify does not answer at all the status is 504 (timeout) or 502 (unreachable), not 500.
`GET /api/player/stream` (SSE) lives elsewhere.
"""

import math
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from dj.spotify import SpotifyClient, upstream_error
from dj.spotify_models import (
    BadRequest,
    Devices,
    PlaybackState,
    PlayerQueue,
    UpstreamErrorBody,
)
from runtime import Context, HTTPError, Router

router = Router(tags=["player"], auth="bearer")

PLAY_BODY_MAX = 64 * 1024
IDLE_STATE: dict[str, Any] = {"device": None, "is_playing": False, "item": None}

# -- models ----------------------------------------------------------------------------------


class PlayOffset(BaseModel):
    position: int | None = Field(None, ge=0)
    uri: str | None = None


class PlayRequest(BaseModel):
    """What to play; an empty or absent body resumes playback."""

    model_config = ConfigDict(extra="ignore")

    context_uri: str | None = None
    uris: list[str] | None = None
    offset: PlayOffset | None = None
    position_ms: int | None = Field(None, ge=0)


class SeekRequest(BaseModel):
    # the web client reads `error` as a string: the TS worker's message, not the envelope
    invalid_body_message: ClassVar[str] = "position_ms is required"

    position_ms: float = Field(ge=0, description="Rounded to whole milliseconds.")


class DeviceRequest(BaseModel):
    device_id: str = Field(min_length=1)
    play: bool = False


class VolumeRequest(BaseModel):
    invalid_body_message: ClassVar[str] = "volume_percent must be a number between 0 and 100"

    volume_percent: int | float = Field(ge=0, le=100, description="Rounded for Spotify.")


class QueueAddRequest(BaseModel):
    uri: str = Field(min_length=1)


class Success(BaseModel):
    success: bool = True


class VolumeResult(BaseModel):
    success: bool = True
    volume_percent: int | float


class QueueAddResult(BaseModel):
    success: bool = True
    uri: str


_FAILURES: dict[int, type[BaseModel]] = {
    400: BadRequest,
    **{status: UpstreamErrorBody for status in (401, 403, 404, 429, 502, 503, 504)},
}


def _responses(ok: type[BaseModel]) -> dict[int, type[BaseModel]]:
    return {200: ok, **_FAILURES}


# -- helpers ---------------------------------------------------------------------------------


def js_round(value: float) -> int:
    """`Math.round` (halves up), as the upstream rounded volume and seek positions."""
    return math.floor(value + 0.5)


def _failed(result: Any, message: str) -> HTTPError:
    return upstream_error(result, message, passthrough=True, details=True)


async def _read(c: Context, path: str, message: str) -> dict[str, Any] | None:
    """A player read: Spotify's JSON, or None for its 204 (nothing active)."""
    result = await SpotifyClient.for_request(c).player("GET", path)
    if not result.ok:
        raise _failed(result, message)
    if result.status == 204 or not result.body.strip():
        return None
    try:
        data = result.json()
    except ValueError:
        raise HTTPError(502, message, details="Spotify's answer was not JSON") from None
    if not isinstance(data, dict):
        raise HTTPError(502, message, details="Spotify's answer was not a JSON object")
    return data


async def _command(
    c: Context,
    method: str,
    path: str,
    message: str,
    *,
    params: dict[str, Any] | None = None,
    json_body: Any = None,
    idempotent: bool = True,
) -> None:
    result = await SpotifyClient.for_request(c).player(
        method, path, params=params, json_body=json_body, idempotent=idempotent
    )
    if not result.ok:
        raise _failed(result, message)


# -- reads -----------------------------------------------------------------------------------


@router.get(
    "/state",
    responses=_responses(PlaybackState),
    summary="Current playback (idle shape when nothing is active)",
    operation_id="getPlayerState",
)
async def state(c: Context) -> dict[str, Any]:
    data = await _read(c, "", "Failed to get playback state")
    return dict(IDLE_STATE) if data is None else data


@router.get(
    "/devices",
    responses=_responses(Devices),
    summary="The user's Spotify Connect devices",
    operation_id="getPlayerDevices",
)
async def devices(c: Context) -> dict[str, Any]:
    data = await _read(c, "/devices", "Failed to get devices")
    return {"devices": []} if data is None else data


@router.get(
    "/queue",
    responses=_responses(PlayerQueue),
    summary="The current track and the queue after it",
    operation_id="getPlayerQueue",
)
async def queue(c: Context) -> dict[str, Any]:
    data = await _read(c, "/queue", "Failed to get queue")
    return {"currently_playing": None, "queue": []} if data is None else data


# -- commands --------------------------------------------------------------------------------


@router.post(
    "/play",
    body=PlayRequest,
    body_required=False,
    max_body=PLAY_BODY_MAX,
    responses=_responses(Success),
    summary="Start or resume playback",
    description=(
        "Optional JSON body `{context_uri?, uris?, offset?, position_ms?}`; forwarded to "
        "Spotify only when it sets something, so an empty body resumes playback."
    ),
    operation_id="playerPlay",
)
async def play(c: Context) -> Success:
    body: PlayRequest = c.body or PlayRequest()
    payload = body.model_dump(exclude_none=True)
    await _command(c, "PUT", "/play", "Failed to start playback", json_body=payload or None)
    return Success()


@router.post(
    "/pause", responses=_responses(Success), summary="Pause playback", operation_id="playerPause"
)
async def pause(c: Context) -> Success:
    await _command(c, "PUT", "/pause", "Failed to pause playback")
    return Success()


@router.post(
    "/next",
    responses=_responses(Success),
    summary="Skip to the next track",
    operation_id="playerNext",
)
async def next_track(c: Context) -> Success:
    await _command(c, "POST", "/next", "Failed to skip track", idempotent=False)
    return Success()


@router.post(
    "/previous",
    responses=_responses(Success),
    summary="Go back to the previous track",
    operation_id="playerPrevious",
)
async def previous_track(c: Context) -> Success:
    await _command(c, "POST", "/previous", "Failed to go to previous track", idempotent=False)
    return Success()


@router.post(
    "/seek",
    body=SeekRequest,
    responses=_responses(Success),
    summary="Seek within the current track",
    operation_id="playerSeek",
)
async def seek(c: Context) -> Success:
    body: SeekRequest = c.body
    position = js_round(body.position_ms)
    await _command(c, "PUT", "/seek", "Failed to seek", params={"position_ms": position})
    return Success()


@router.put(
    "/device",
    body=DeviceRequest,
    responses=_responses(Success),
    summary="Transfer playback to a device",
    operation_id="playerTransfer",
)
async def device(c: Context) -> Success:
    body: DeviceRequest = c.body
    await _command(
        c,
        "PUT",
        "",
        "Failed to transfer playback",
        json_body={"device_ids": [body.device_id], "play": body.play},
    )
    return Success()


@router.put(
    "/volume",
    body=VolumeRequest,
    responses=_responses(VolumeResult),
    summary="Set the volume (0-100)",
    operation_id="playerVolume",
)
async def volume(c: Context) -> VolumeResult:
    body: VolumeRequest = c.body
    await _command(
        c,
        "PUT",
        "/volume",
        "Failed to set volume",
        params={"volume_percent": js_round(body.volume_percent)},
    )
    return VolumeResult(volume_percent=body.volume_percent)


@router.post(
    "/queue/add",
    body=QueueAddRequest,
    responses=_responses(QueueAddResult),
    summary="Add a track to the end of the queue",
    operation_id="playerQueueAdd",
)
async def queue_add(c: Context) -> QueueAddResult:
    body: QueueAddRequest = c.body
    await _command(
        c, "POST", "/queue", "Failed to add to queue", params={"uri": body.uri}, idempotent=False
    )
    return QueueAddResult(uri=body.uri)
