"""Mix sessions: mounted at `/api/mix` (reference §1.2 "Mix sessions", §7).

Every route needs a Bearer token (the runtime answers 401 without one). All but
`queue/spotify` derive the Spotify user id from it (`GET /me`, once per request), need the
MIX_SESSIONS binding (500 `Mix sessions not available`) and, except `start` and `current`,
an existing session (404 `No active session`).

Differences from upstream (docs/dj-differences.md, "Mix routes"): GET routes never change
anything (upstream's `GET /current` ran a blocking auto-fill); a vibe change is saved whether
or not auto-fill finds tracks; `DELETE /end` answers 404 only when there is no session;
bad track-played input is a 400, not a 500; `queue/add` honours `position`.
The steer stream is in `routes/steer.py`.
"""

import uuid
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from dj.autofill import tracks_needed
from dj.js_compat import iso_from_ms
from dj.mix.autofill import fill_save_mirror, schedule_background_fill
from dj.mix.deadline import DeadlineExceeded, with_deadline
from dj.mix.seed import seed_session
from dj.mix.sessions import MixService, now_ms
from dj.mix.spotify_calls import TRACK_URI_RE, MixSpotify, track_id_from_uri
from dj.mix.steer import interpret
from dj.mix.suggestions import SuggestionEngine
from dj.mix_rules import (
    InvalidPositionError,
    QueueFullError,
    VibeUpdate,
    add_to_queue,
    apply_user_vibe_update,
    clear_queue,
    create_session,
    end_stats,
    find_in_queue,
    last_played,
    played_from_queued,
    record_played_track,
    remove_from_queue,
    reorder_queue,
    user_queued_track,
)
from dj.models.mix import (
    BpmRange,
    CamelModel,
    EnergyDirection,
    MixSession,
    PlayedTrack,
    QueuedTrack,
    SessionPreferences,
    Suggestion,
    VibeProfile,
)
from dj.scoring import based_on_vibe_profile
from dj.spotify import SpotifyClient, failure_status, upstream_error
from dj.spotify_models import BadRequest, ErrorBody
from runtime import Context, HTTPError, Router, jsonsafe

router = Router(tags=["mix"], auth="bearer")

SUGGESTIONS_DEADLINE = 25.0
SAVE_DESCRIPTION = "DJ Mix created on {date}"
NO_DEVICE = "No active Spotify device. Start playing on a device first."
PREMIUM_REQUIRED = "Spotify Premium required"

# -- requests --------------------------------------------------------------------------------

TrackUri = Annotated[
    str, Field(pattern=TRACK_URI_RE.pattern, examples=["spotify:track:4uLU6hMCjMI75M1A2tKUQC"])
]


class StartRequest(CamelModel):
    preferences: SessionPreferences | None = None
    seed_playlist_id: str | None = Field(None, min_length=1, max_length=200)


class QueueAddRequest(CamelModel):
    track_uri: TrackUri
    position: int | None = Field(None, ge=0)


class QueuePosition(BaseModel):
    position: int = Field(ge=0)


class ReorderRequest(BaseModel):
    from_: int = Field(alias="from", ge=0)
    to: int = Field(ge=0)


class VibeUpdateRequest(CamelModel):
    energy_level: float | None = Field(None, ge=1, le=10)
    energy_direction: EnergyDirection | None = None
    bpm_range: BpmRange | None = None


class SteerRequest(CamelModel):
    direction: str = Field(min_length=1, max_length=500)
    intensity: int = Field(5, ge=1, le=10, description="Accepted and ignored, as upstream.")


class SuggestionsQuery(BaseModel):
    count: int = Field(5, ge=1, le=10)


class SaveRequest(CamelModel):
    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(None, max_length=500)
    include_queue: bool = True


class TrackPlayedRequest(CamelModel):
    track_id: str = Field(min_length=1, max_length=64)
    track_uri: str = Field(min_length=1, max_length=200)


class QueueSpotifyRequest(CamelModel):
    track_uri: TrackUri


class PreferencesRequest(CamelModel):
    auto_fill: bool | None = None


# -- responses -------------------------------------------------------------------------------
# Declared for the OpenAPI document and its clients. Handlers answer plain dicts and the runtime
# never validates a response, so these are not built when the Worker starts (`defer_build`).


class SessionResponse(CamelModel, defer_build=True):
    session: MixSession


class CurrentResponse(CamelModel, defer_build=True):
    session: MixSession | None


class EndResponse(CamelModel, defer_build=True):
    success: Literal[True] = True
    session_duration: int
    tracks_played: int


class QueueResponse(CamelModel, defer_build=True):
    queue: list[QueuedTrack]


class QueueChangeResponse(CamelModel, defer_build=True):
    queue: list[QueuedTrack]
    success: Literal[True] = True


class VibeResponse(CamelModel, defer_build=True):
    vibe: VibeProfile


class VibeChangeResponse(CamelModel, defer_build=True):
    queue: list[QueuedTrack]
    vibe: VibeProfile


class SteerResponse(CamelModel, defer_build=True):
    changes: list[str]
    queue: list[QueuedTrack]
    vibe: VibeProfile


class BasedOn(CamelModel, defer_build=True):
    current_track: str | None = Field(None, description="Absent when nothing has played yet.")
    vibe_profile: str


class SuggestionsResponse(CamelModel, defer_build=True):
    based_on: BasedOn
    suggestions: list[Suggestion]


class SaveResponse(CamelModel, defer_build=True):
    playlist_id: str
    playlist_url: str
    success: Literal[True] = True
    track_count: int


class TrackPlayedResponse(CamelModel, defer_build=True):
    moved_to_history: bool
    session: MixSession
    success: Literal[True] = True


class QueuedResponse(CamelModel, defer_build=True):
    queued: Literal[True] = True
    success: Literal[True] = True


class PreferencesResponse(CamelModel, defer_build=True):
    preferences: SessionPreferences
    session: MixSession
    success: Literal[True] = True


def _responses(ok: type[BaseModel], *errors: int) -> dict[int, type[BaseModel] | None]:
    out: dict[int, type[BaseModel] | None] = {200: ok, 400: BadRequest, 401: ErrorBody}
    for status in (*errors, 429, 500, 502, 503, 504):
        out[status] = ErrorBody
    return out


# -- session lifecycle -----------------------------------------------------------------------


@router.post(
    "/start",
    body=StartRequest,
    body_required=False,
    responses=_responses(SessionResponse),
    summary="Start a mix session (or return the running one)",
    description=(
        "Creates the session, seeds its vibe from `seedPlaylistId` or from the listener's top "
        "and recent tracks, fills the queue to five tracks (mirrored to Spotify's queue) and "
        "saves it. A running session is returned unchanged."
    ),
    operation_id="mixStart",
)
async def start(c: Context) -> dict[str, object]:
    body: StartRequest = c.body or StartRequest()
    svc = await MixService.for_request(c)
    existing = await svc.load()
    if existing is not None:
        return {"session": existing}
    session = create_session(
        session_id=str(uuid.uuid4()),
        user_id=svc.user_id,
        now_ms=now_ms(),
        preferences=body.preferences,
    )
    session = await seed_session(c, session, body.seed_playlist_id)
    result = await fill_save_mirror(c, svc, session)
    return {"session": result.session}


@router.get(
    "/current",
    responses=_responses(CurrentResponse),
    summary="The running session, or null",
    description="Read only: unlike upstream, no auto-fill runs here.",
    operation_id="mixCurrent",
)
async def current(c: Context) -> dict[str, object]:
    svc = await MixService.for_request(c)
    return {"session": await svc.load()}


@router.delete(
    "/end",
    responses=_responses(EndResponse, 404),
    summary="End the session",
    description="Deletes it and reports its length in seconds and the tracks played. 404 "
    "only when there is no session (a fresh one ends with zeros).",
    operation_id="mixEnd",
)
async def end(c: Context) -> dict[str, object]:
    svc = await MixService.for_request(c)
    session = await svc.require()
    stats = end_stats(session, now_ms())
    await svc.delete()
    return {"success": True, **stats.as_json()}


# -- queue -----------------------------------------------------------------------------------


@router.get(
    "/queue",
    responses=_responses(QueueResponse, 404),
    summary="The session's queue",
    operation_id="mixQueue",
)
async def queue(c: Context) -> dict[str, object]:
    session = await (await MixService.for_request(c)).require()
    return {"queue": session.queue}


@router.post(
    "/queue/add",
    body=QueueAddRequest,
    responses=_responses(QueueChangeResponse, 404),
    summary="Add a track to the session's queue",
    description="At `position` when given (the end otherwise). 400 `Queue is full (max 10 "
    "tracks)`; 400 `Failed to fetch track details` when Spotify does not know the track.",
    operation_id="mixQueueAdd",
)
async def queue_add(c: Context) -> dict[str, object]:
    body: QueueAddRequest = c.body
    svc = await MixService.for_request(c)
    session = await svc.require()
    if len(session.queue) >= 10:
        raise HTTPError(400, str(QueueFullError()))
    track_id = track_id_from_uri(body.track_uri) or ""
    info = await MixSpotify(c).track(track_id)
    if info is None:
        raise HTTPError(400, "Failed to fetch track details")
    track = user_queued_track(
        track_id=info.id,
        track_uri=info.uri,
        name=info.name,
        artist=info.artist,
        album_art=info.album_art,
    )
    try:
        session = add_to_queue(session, track, body.position)
    except (QueueFullError, InvalidPositionError) as exc:
        raise HTTPError(400, str(exc)) from None
    saved = await svc.save(session)
    return {"queue": saved.queue, "success": True}


@router.put(
    "/queue/reorder",
    body=ReorderRequest,
    responses=_responses(QueueChangeResponse, 404),
    summary="Move a queued track",
    description="400 `Invalid positions` when either position is outside the queue.",
    operation_id="mixQueueReorder",
)
async def queue_reorder(c: Context) -> dict[str, object]:
    body: ReorderRequest = c.body
    svc = await MixService.for_request(c)
    session = await svc.require()
    try:
        session = reorder_queue(session, body.from_, body.to)
    except InvalidPositionError as exc:
        raise HTTPError(400, str(exc)) from None
    saved = await svc.save(session)
    return {"queue": saved.queue, "success": True}


@router.delete(
    "/queue/{position}",
    path_params=QueuePosition,
    responses=_responses(QueueChangeResponse, 404),
    summary="Remove a queued track",
    description="400 `Invalid position` when there is no track at `position`.",
    operation_id="mixQueueRemove",
)
async def queue_remove(c: Context) -> dict[str, object]:
    svc = await MixService.for_request(c)
    session = await svc.require()
    try:
        session = remove_from_queue(session, c.params.position)
    except InvalidPositionError as exc:
        raise HTTPError(400, str(exc)) from None
    saved = await svc.save(session)
    return {"queue": saved.queue, "success": True}


@router.post(
    "/queue/spotify",
    body=QueueSpotifyRequest,
    responses=_responses(QueuedResponse, 403),
    summary="Add a track to the listener's Spotify queue",
    description="Spotify's 404 (no active device) becomes 403 with a hint; its 403 is passed "
    "on with Spotify's message; other refusals (a track Spotify does not accept) are 400 with "
    "Spotify's message (upstream: 500); Spotify failing is 502/504.",
    operation_id="mixQueueSpotify",
)
async def queue_spotify(c: Context) -> dict[str, object]:
    body: QueueSpotifyRequest = c.body
    result = await MixSpotify(c).add_to_queue(body.track_uri)
    if result.ok:
        return {"queued": True, "success": True}
    if result.error == "http_status":
        if result.status == 404:
            raise HTTPError(403, NO_DEVICE)
        if result.status == 403:
            raise HTTPError(403, _spotify_message(result.body) or PREMIUM_REQUIRED)
        if result.status in (401, 429):
            raise upstream_error(result, f"Spotify API error: {result.status}")
        # Spotify refusing the track (a 4xx) is the client's input: 400 (upstream: 500).
        message = f"Spotify API error: {result.status}"
        if result.status is not None and result.status < 500:
            message = _spotify_message(result.body) or message
        raise HTTPError(failure_status(result), message)
    raise HTTPError(failure_status(result), "Spotify API error")


def _spotify_message(body: bytes) -> str | None:
    try:
        data = jsonsafe.loads(body)
    except ValueError:
        return None
    error = data.get("error") if isinstance(data, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    return message if isinstance(message, str) and message else None


# -- vibe ------------------------------------------------------------------------------------


@router.get(
    "/vibe",
    responses=_responses(VibeResponse, 404),
    summary="The session's vibe",
    operation_id="mixVibe",
)
async def vibe(c: Context) -> dict[str, object]:
    session = await (await MixService.for_request(c)).require()
    return {"vibe": session.vibe}


@router.put(
    "/vibe",
    body=VibeUpdateRequest,
    responses=_responses(VibeChangeResponse, 404),
    summary="Change the vibe",
    description="Energy and direction are replaced, the BPM range too (upstream could only "
    "widen it). The queue is cleared and refilled; the new vibe is saved either way.",
    operation_id="mixVibeUpdate",
)
async def vibe_update(c: Context) -> dict[str, object]:
    body: VibeUpdateRequest = c.body
    svc = await MixService.for_request(c)
    session = await svc.require()
    update = VibeUpdate(
        energy_level=body.energy_level,
        energy_direction=body.energy_direction,
        bpm_range=body.bpm_range,
    )
    changed = clear_queue(session)
    changed.vibe = apply_user_vibe_update(session.vibe, update)
    result = await fill_save_mirror(c, svc, changed)
    return {"queue": result.session.queue, "vibe": result.session.vibe}


@router.post(
    "/vibe/steer",
    body=SteerRequest,
    responses=_responses(SteerResponse, 404),
    summary="Steer the vibe in words",
    description="A preset when one matches (`more energy`, `chill out`, `80s vibes`, ...), "
    "else Claude. The queue is cleared and refilled; the new vibe is saved either way. "
    "500 `AI vibe steering not available` when Claude is needed but not configured.",
    operation_id="mixVibeSteer",
)
async def vibe_steer(c: Context) -> dict[str, object]:
    body: SteerRequest = c.body
    svc = await MixService.for_request(c)
    session = await svc.require()
    new_vibe, changes = await interpret(c, session.vibe, body.direction)
    changed = clear_queue(session)
    changed.vibe = new_vibe
    result = await fill_save_mirror(c, svc, changed)
    return {"changes": changes, "queue": result.session.queue, "vibe": result.session.vibe}


# -- suggestions, save -----------------------------------------------------------------------


@router.get(
    "/suggestions",
    query=SuggestionsQuery,
    responses=_responses(SuggestionsResponse, 404),
    summary="Tracks that would fit next",
    description="Read only. Claude proposes, Spotify confirms, scoring orders (a Spotify "
    "search fallback runs when Claude cannot help).",
    operation_id="mixSuggestions",
)
async def suggestions(c: Context) -> dict[str, object]:
    session = await (await MixService.for_request(c)).require()
    try:
        found = await with_deadline(
            SuggestionEngine(c).generate(session, c.query.count), SUGGESTIONS_DEADLINE
        )
    except DeadlineExceeded:
        raise HTTPError(504, "Suggestions took too long") from None
    based_on: dict[str, str] = {"vibeProfile": based_on_vibe_profile(session.vibe)}
    previous = last_played(session)
    if previous is not None:
        based_on = {"currentTrack": previous.name, **based_on}
    return {"basedOn": based_on, "suggestions": found}


def _today() -> str:
    moment = iso_from_ms(now_ms())
    year, month, day = moment[:4], int(moment[5:7]), int(moment[8:10])
    return f"{month}/{day}/{year}"


@router.post(
    "/save",
    body=SaveRequest,
    responses=_responses(SaveResponse, 403, 404),
    summary="Save the mix as a private Spotify playlist",
    description="History oldest first, then the queue unless `includeQueue` is false. "
    "400 `No tracks to save`. `trackCount` is the number of tracks Spotify took.",
    operation_id="mixSave",
)
async def save(c: Context) -> dict[str, object]:
    body: SaveRequest = c.body
    session = await (await MixService.for_request(c)).require()
    uris = [t.track_uri for t in reversed(session.history)]
    if body.include_queue:
        uris += [t.track_uri for t in session.queue]
    if not uris:
        raise HTTPError(400, "No tracks to save")
    client = SpotifyClient.for_request(c)
    description = body.description
    if description is None:
        description = SAVE_DESCRIPTION.format(date=_today())
    created = await client.create_playlist(body.name, description, public=False)
    if not created.ok or created.data is None:
        raise upstream_error(created, "Failed to create playlist")
    playlist = created.data
    outcome = await client.add_items(playlist.id, uris)
    if not outcome.ok:
        c.log.warn(
            "save: Spotify took only part of the mix", applied=outcome.applied, total=len(uris)
        )
    url = playlist.external_urls.spotify or f"https://open.spotify.com/playlist/{playlist.id}"
    return {
        "playlistId": playlist.id,
        "playlistUrl": url,
        "success": True,
        "trackCount": outcome.applied,
    }


# -- playback, preferences -------------------------------------------------------------------


@router.post(
    "/playback/track-played",
    body=TrackPlayedRequest,
    responses=_responses(TrackPlayedResponse, 404),
    summary="Tell the mix a track was played",
    description="A queued track moves to the history (with its BPM when known) and the vibe "
    "follows it; another track is added to the history when Spotify knows it. The queue is "
    "refilled after the response. Bad input is a 400 (upstream: 500).",
    operation_id="mixTrackPlayed",
)
async def track_played(c: Context) -> dict[str, object]:
    body: TrackPlayedRequest = c.body
    svc = await MixService.for_request(c)
    session = await svc.require()
    spotify = MixSpotify(c)
    moved = False
    queued = find_in_queue(session, track_id=body.track_id, track_uri=body.track_uri)
    previous = last_played(session)
    if queued is not None:
        session = remove_from_queue(session, queued.position)
        info = await spotify.track(queued.track_id)
        bpm = await spotify.bpm(info) if info is not None else None
        played = played_from_queued(queued, played_at_ms=now_ms(), bpm=bpm)
        session = record_played_track(session, played)
        moved = True
    elif previous is None or previous.track_id != body.track_id:
        # Not queued by the mix (and not the track just recorded, e.g. by the player stream).
        info = await spotify.track(body.track_id)
        if info is not None:
            bpm = await spotify.bpm(info)
            played = PlayedTrack.model_validate(
                {
                    "trackId": info.id,
                    "trackUri": info.uri,
                    "name": info.name,
                    "artist": info.artist,
                    "albumArt": info.album_art,
                    "playedAt": iso_from_ms(now_ms()),
                    "bpm": bpm,
                    "energy": None,
                }
            )
            session = record_played_track(session, played)
            moved = True
    saved = await svc.save(session)
    if moved and tracks_needed(saved) > 0:
        schedule_background_fill(c, svc)
    return {"movedToHistory": moved, "session": saved, "success": True}


@router.patch(
    "/preferences",
    body=PreferencesRequest,
    responses=_responses(PreferencesResponse, 404),
    summary="Change session preferences",
    description="`autoFill: true` also fills the queue to five tracks.",
    operation_id="mixPreferences",
)
async def preferences(c: Context) -> dict[str, object]:
    body: PreferencesRequest = c.body
    svc = await MixService.for_request(c, failure_message="Failed to get user identity")
    session = await svc.require("No active mix session")
    changes = {"auto_fill": body.auto_fill} if body.auto_fill is not None else {}
    session = session.model_copy(
        update={"preferences": session.preferences.model_copy(update=changes)}, deep=True
    )
    if body.auto_fill and tracks_needed(session) > 0:
        saved = (await fill_save_mirror(c, svc, session)).session
    else:
        saved = await svc.save(session)
    return {"preferences": saved.preferences, "session": saved, "success": True}
