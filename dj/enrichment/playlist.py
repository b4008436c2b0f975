"""A minimal Spotify reader for the analysis: a playlist and its first 100 tracks.

Spotify's February-2026 Web API (development-mode apps): `GET /playlists/{id}` carries the
first page of entries under `items` (formerly `tracks`), each entry's object under `item`
(formerly `track`); further pages come from `GET /playlists/{id}/items` (limit ≤ 50; the old
`/tracks` path answers 403). Track `popularity` is gone for such apps, so it is optional
here. The embedded page usually holds all 100 entries the analysis wants, so a playlist
costs one subrequest; the `/items` pages are read only for what is missing.

Lenient on purpose (the upstream's strict schemas failed a whole analysis on one odd entry):
removed entries (`item: null`), local files, podcast episodes and entries that do not parse
are skipped. The legacy `tracks`/`track` keys are read when the new ones are absent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from .common import to_int

if TYPE_CHECKING:
    from runtime.outbound import OutboundClient

SERVICE = "spotify"
MAX_TRACKS = 100
PAGE_LIMIT = 50

_LENIENT = ConfigDict(extra="ignore")


class ArtistRef(BaseModel):
    model_config = _LENIENT

    id: str | None = None
    name: str = ""


class AlbumRef(BaseModel):
    model_config = _LENIENT

    name: str | None = None
    release_date: str | None = None


class PlaylistTrack(BaseModel):
    model_config = _LENIENT

    id: str
    name: str = ""
    duration_ms: int = 0
    explicit: bool = False
    popularity: int | None = None
    artists: list[ArtistRef] = []
    album: AlbumRef | None = None
    isrc: str | None = None

    @field_validator("duration_ms", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> int:
        return to_int(value) or 0

    @field_validator("popularity", mode="before")
    @classmethod
    def _popularity(cls, value: Any) -> int | None:
        return to_int(value)

    @field_validator("explicit", mode="before")
    @classmethod
    def _explicit(cls, value: Any) -> bool:
        return bool(value)

    @property
    def first_artist(self) -> str:
        """The first artist's name, as the upstream keyed its caches ('Unknown' if none)."""
        return self.artists[0].name if self.artists and self.artists[0].name else "Unknown"

    @property
    def release_year(self) -> int | None:
        date = self.album.release_date if self.album else None
        if not date:
            return None
        head = date.split("-")[0]
        return int(head) if head.isdigit() else None


class Playlist(BaseModel):
    id: str
    name: str
    description: str | None
    total: int
    tracks: list[PlaylistTrack]


class SpotifyReadError(RuntimeError):
    """Spotify refused or failed; `status` is Spotify's (None if no response at all) and
    `error` the outbound error code (`http_status`, `timeout`, `invalid_json`, ...)."""

    def __init__(self, message: str, status: int | None, error: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.error = error


def track_from_entry(entry: Any) -> PlaylistTrack | None:
    """The track of a playlist entry, or None for a removed entry, local file or episode."""
    if not isinstance(entry, dict):
        return None
    obj = entry.get("item") if "item" in entry else entry.get("track")
    if not isinstance(obj, dict) or obj.get("is_local") or entry.get("is_local"):
        return None
    if obj.get("type", "track") != "track" or not obj.get("id"):
        return None
    ids = obj.get("external_ids")
    isrc = ids.get("isrc") if isinstance(ids, dict) else None
    try:
        track = PlaylistTrack.model_validate(obj)
    except ValidationError:
        return None
    if isinstance(isrc, str) and isrc.strip():
        track.isrc = isrc.strip()
    return track


def _page(container: Any) -> tuple[list[Any], int | None]:
    if not isinstance(container, dict):
        return [], None
    items = container.get("items")
    return (items if isinstance(items, list) else []), to_int(container.get("total"))


class PlaylistReader:
    def __init__(self, http: OutboundClient, api_base: str, token: str) -> None:
        self.http = http
        self.base = api_base.rstrip("/")
        self._token = token

    async def _get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        result = await self.http.fetch(
            service=SERVICE,
            url=f"{self.base}{path}",
            params=params,
            headers={"Authorization": f"Bearer {self._token}"},
        )
        if not result.ok:
            raise SpotifyReadError(
                f"Spotify request failed: {result.error}", result.status, result.error
            )
        try:
            return result.json()
        except ValueError:
            raise SpotifyReadError(
                "Spotify sent invalid JSON", result.status, "invalid_json"
            ) from None

    async def read(self, playlist_id: str, max_tracks: int = MAX_TRACKS) -> Playlist:
        """The playlist's name, description and its first `max_tracks` entries' tracks."""
        body = await self._get(f"/playlists/{playlist_id}")
        if not isinstance(body, dict):
            raise SpotifyReadError(
                "Spotify sent an unexpected playlist body", 200, "invalid_response"
            )
        container = body.get("items") if "items" in body else body.get("tracks")
        entries, total = _page(container)
        entries = entries[:max_tracks]
        wanted = min(max_tracks, total) if total is not None else max_tracks
        if total is None or len(entries) < wanted:
            entries, total = await self._pages(playlist_id, entries, wanted)
        tracks = [t for t in (track_from_entry(e) for e in entries) if t is not None]
        description = body.get("description")
        return Playlist(
            id=playlist_id,
            name=str(body.get("name") or ""),
            description=description if isinstance(description, str) else None,
            total=total if total is not None else len(entries),
            tracks=tracks,
        )

    async def _pages(
        self, playlist_id: str, entries: list[Any], wanted: int
    ) -> tuple[list[Any], int | None]:
        total: int | None = None
        collected = list(entries)
        while len(collected) < wanted:
            limit = min(PAGE_LIMIT, wanted - len(collected))
            page = await self._get(
                f"/playlists/{playlist_id}/items", {"limit": limit, "offset": len(collected)}
            )
            items, total = _page(page)
            collected.extend(items[:limit])
            if not items or total is None or len(collected) >= total:
                break
            wanted = min(wanted, total)
        return collected, total
