"""The user's playlists: list, read entries, create, add/remove tracks.

Mounted at `/api/spotify`. Shapes are the web client's (reference §1.2, "Playlists"); the
Spotify calls are the February-2026 ones (see `dj.spotify`), mapped back:

* `GET playlists` → Spotify `GET /me/playlists`; each playlist's `items` ref is served as
  `tracks` (`{href, total}`), `images: null` as `[]`.
* `GET playlists/{id}/tracks` → Spotify `GET /playlists/{id}/items`, which caps a page at 50:
  a `limit` above 50 is fetched as two pages. Each entry's `item` is served as `track`.
* `POST playlists` → one `POST /me/playlists` (the upstream first read `/me` for the user id,
  then used `POST /users/{id}/playlists`, which now answers 403).
* `POST playlists/modify` → `POST|DELETE /playlists/{id}/items`, in batches of 100.
"""

from typing import Literal

from pydantic import BaseModel, Field

from dj.spotify import SpotifyClient, upstream_error
from dj.spotify_models import (
    BadRequest,
    ErrorBody,
    PlaylistEntry,
    PlaylistFull,
    PlaylistPage,
)
from runtime import Context, Router

router = Router(tags=["playlists"])

MODIFY_MAX_URIS = 500


class PlaylistsQuery(BaseModel):
    limit: int = Field(20, ge=1, le=50)
    offset: int = Field(0, ge=0)


class PlaylistPath(BaseModel):
    id: str = Field(min_length=1, max_length=200)


class TracksQuery(BaseModel):
    limit: int = Field(50, ge=1, le=100)
    offset: int = Field(0, ge=0)


class PlaylistTracks(BaseModel):
    items: list[PlaylistEntry]


class CreatePlaylist(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    description: str | None = Field(None, max_length=300)
    public: bool = False


class ModifyPlaylist(BaseModel):
    action: Literal["add", "remove"]
    playlistId: str = Field(min_length=1, max_length=200)
    trackUris: list[str] = Field(min_length=1, max_length=MODIFY_MAX_URIS)


class ModifyResult(BaseModel):
    action: Literal["added", "removed"]
    snapshot_id: str | None
    success: Literal[True] = True


class ModifyFailure(BaseModel, defer_build=True):
    error: str
    applied: int = Field(0, description="URIs applied by earlier batches before the failure.")


def _errors(*statuses: int) -> dict[int, type[BaseModel]]:
    return {status: ErrorBody for status in statuses}


@router.get(
    "/playlists",
    auth="bearer",
    query=PlaylistsQuery,
    responses={200: PlaylistPage, 400: BadRequest, **_errors(401, 403, 429, 502, 503, 504)},
    summary="The current user's playlists (a Spotify paging object)",
    operation_id="getUserPlaylists",
)
async def playlists(c: Context) -> PlaylistPage:
    q: PlaylistsQuery = c.query
    result = await SpotifyClient.for_request(c).my_playlists(q.limit, q.offset)
    if not result.ok:
        raise upstream_error(
            result,
            "Failed to get playlists",
            invalid="Invalid response from Spotify API",
        )
    return result.data


@router.get(
    "/playlists/{id}/tracks",
    auth="bearer",
    path_params=PlaylistPath,
    query=TracksQuery,
    responses={
        200: PlaylistTracks,
        400: BadRequest,
        **_errors(401, 403, 404, 429, 502, 503, 504),
    },
    summary="Entries of a playlist (playlist track objects with `track`)",
    description=(
        "Up to 100 entries from `offset`. Spotify serves at most 50 per page since 2026, so "
        "a larger `limit` costs two Spotify calls. Spotify answers 403 for playlists the user "
        "neither owns nor collaborates on (development-mode apps, 2026)."
    ),
    operation_id="getPlaylistTracks",
)
async def playlist_tracks(c: Context) -> PlaylistTracks:
    q: TracksQuery = c.query
    entries, result = await SpotifyClient.for_request(c).playlist_entries(
        c.params.id, q.limit, q.offset
    )
    if not result.ok:
        raise upstream_error(
            result,
            "Failed to get playlist tracks",
            messages={
                404: "Playlist not found",
                403: "Playlist entries are only available for playlists you own or collaborate on",
            },
            invalid="Invalid response from Spotify API",
        )
    return PlaylistTracks(items=entries)


@router.post(
    "/playlists",
    auth="bearer",
    body=CreatePlaylist,
    status=201,
    responses={201: PlaylistFull, 400: BadRequest, **_errors(401, 403, 429, 502, 503, 504)},
    summary="Create a playlist for the current user",
    operation_id="createPlaylist",
)
async def create_playlist(c: Context) -> PlaylistFull:
    body: CreatePlaylist = c.body
    result = await SpotifyClient.for_request(c).create_playlist(
        body.name, body.description, body.public
    )
    if not result.ok:
        raise upstream_error(
            result,
            "Failed to create playlist",
            invalid="Invalid response from Spotify API",
        )
    return result.data


@router.post(
    "/playlists/modify",
    auth="bearer",
    body=ModifyPlaylist,
    responses={
        200: ModifyResult,
        400: BadRequest,
        401: ModifyFailure,
        403: ModifyFailure,
        404: ModifyFailure,
        429: ModifyFailure,
        502: ModifyFailure,
        503: ModifyFailure,
        504: ModifyFailure,
    },
    summary="Add or remove tracks (sent to Spotify in batches of 100)",
    description=(
        "Accepts up to 500 URIs (the upstream: 100). If a batch fails, earlier batches stay "
        "applied and the error's `applied` says how many URIs they held."
    ),
    operation_id="modifyPlaylist",
)
async def modify_playlist(c: Context) -> ModifyResult:
    body: ModifyPlaylist = c.body
    client = SpotifyClient.for_request(c)
    if body.action == "add":
        outcome = await client.add_items(body.playlistId, body.trackUris)
        verb, message = "added", "Failed to add tracks"
    else:
        outcome = await client.remove_items(body.playlistId, body.trackUris)
        verb, message = "removed", "Failed to remove tracks"
    if outcome.failure is not None:
        raise upstream_error(
            outcome.failure,
            message,
            invalid="Invalid response from Spotify API",
            applied=outcome.applied,
        )
    return ModifyResult(action=verb, snapshot_id=outcome.snapshot_id)
