"""The Spotify calls the mix needs beyond `dj.spotify.SpotifyClient`'s named ones.

All go through `SpotifyClient.call` / `.player` (so through `runtime.outbound`, service
`spotify`): `GET /tracks/{id}`, `GET /me/top/tracks`, `GET /me/player/recently-played`,
`POST /me/player/queue?uri=`, `PUT /me/player/play {uris}`, plus track search and BPM from
the enrichment layer (Deezer, with MusicBrainz for a missing ISRC, cached in
AUDIO_FEATURES_CACHE under `bpm:{trackId}`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from pydantic import ValidationError

from dj.enrichment.cache import EnrichmentCache
from dj.enrichment.deezer import BPMEnrichment, DeezerClient
from dj.enrichment.enricher import DeezerEnricher
from dj.enrichment.musicbrainz import MusicBrainzClient
from dj.enrichment.playlist import PlaylistTrack
from dj.spotify import SpotifyClient
from dj.spotify_models import SearchResult, Track
from dj.upstreams import Upstreams
from runtime import kv, outbound
from runtime.context import Context
from runtime.records import record

TRACK_URI_RE = re.compile(r"^spotify:track:([A-Za-z0-9]{1,64})$")
SEED_LIMIT = 50


def track_id_from_uri(uri: str) -> str | None:
    match = TRACK_URI_RE.match(uri)
    return match.group(1) if match else None


@record(frozen=True)
class TrackInfo:
    """What the mix keeps of a Spotify track."""

    id: str
    uri: str
    name: str
    artist: str  # all artists, joined with ", "
    album_art: str | None
    release_date: str | None
    duration_ms: int
    popularity: int | None
    isrc: str | None
    artist_names: tuple[str, ...]

    @classmethod
    def from_track(cls, track: Track) -> TrackInfo | None:
        if not track.id or not track.uri or track.is_local or track.type != "track":
            return None
        names = tuple(a.name for a in track.artists if a.name)
        album = track.album
        art = next((i.url for i in (album.images if album else []) if i.url), None)
        isrc = track.external_ids.get("isrc")
        return cls(
            id=track.id,
            uri=track.uri,
            name=track.name,
            artist=", ".join(names) or "Unknown",
            album_art=art,
            release_date=album.release_date if album else None,
            duration_ms=track.duration_ms or 0,
            popularity=track.popularity,
            isrc=isrc if isinstance(isrc, str) and isrc else None,
            artist_names=names,
        )

    def as_playlist_track(self) -> PlaylistTrack:
        return PlaylistTrack.model_validate(
            {
                "id": self.id,
                "name": self.name,
                "duration_ms": self.duration_ms,
                "artists": [{"name": n} for n in self.artist_names],
                "album": {"release_date": self.release_date},
                "isrc": self.isrc,
            }
        )


def _tracks(items: Sequence[Any]) -> list[TrackInfo]:
    out: list[TrackInfo] = []
    for raw in items:
        if not isinstance(raw, dict):
            continue
        try:
            info = TrackInfo.from_track(Track.model_validate(raw))
        except ValidationError:
            continue
        if info is not None:
            out.append(info)
    return out


class MixSpotify:
    """Spotify for one request's mix work (the caller's token)."""

    def __init__(self, c: Context) -> None:
        self.c = c
        self.client = SpotifyClient.for_request(c)

    async def track(self, track_id: str) -> TrackInfo | None:
        """`GET /tracks/{id}`; None when it fails or is not a playable track."""
        result = await self.client.call("GET", f"/tracks/{quote(track_id, safe='')}", model=Track)
        if not result.ok or result.data is None:
            return None
        return TrackInfo.from_track(result.data)

    async def search_track(self, artist: str, name: str) -> TrackInfo | None:
        """The first hit of `artist:"A" track:"T"` (quotes in names are dropped)."""
        a, t = artist.replace('"', " ").strip(), name.replace('"', " ").strip()
        if not a or not t:
            return None
        found = await self.search(f'artist:"{a}" track:"{t}"', limit=1)
        return found[0] if found else None

    async def search(self, query: str, limit: int = 10) -> list[TrackInfo]:
        result = await self.client.search(query, "track", limit)
        if not result.ok or result.data is None:
            return []
        data: SearchResult = result.data
        if data.tracks is None:
            return []
        return [
            info
            for t in data.tracks.items
            if t is not None and (info := TrackInfo.from_track(t)) is not None
        ]

    async def playlist_tracks(self, playlist_id: str) -> list[TrackInfo]:
        entries, result = await self.client.playlist_entries(playlist_id, SEED_LIMIT, 0)
        if not result.ok:
            self.c.log.warn("seed playlist could not be read", status=result.status)
        out: list[TrackInfo] = []
        for entry in entries:
            track = getattr(entry, "track", None) or getattr(entry, "item", None)
            if isinstance(track, Track) and (info := TrackInfo.from_track(track)) is not None:
                out.append(info)
        return out

    async def top_tracks(self) -> list[TrackInfo]:
        result = await self.client.call(
            "GET", "/me/top/tracks", params={"time_range": "short_term", "limit": SEED_LIMIT}
        )
        return _tracks(_json(result).get("items") or []) if result.ok else []

    async def recently_played(self) -> list[TrackInfo]:
        result = await self.client.call(
            "GET", "/me/player/recently-played", params={"limit": SEED_LIMIT}
        )
        if not result.ok:
            return []
        items = _json(result).get("items") or []
        return _tracks([i.get("track") for i in items if isinstance(i, dict)])

    async def artist_genres(self, artist: str) -> list[str]:
        """Genres of the first artist a search finds (may be empty since 2026)."""
        result = await self.client.search(artist, "artist", 1)
        if not result.ok or result.data is None or result.data.artists is None:
            return []
        for found in result.data.artists.items:
            if found is not None:
                return list(found.genres)
        return []

    async def add_to_queue(self, uri: str) -> outbound.FetchResult[Any]:
        """`POST /me/player/queue?uri=` (sent once: a retry could queue the track twice)."""
        return await self.client.player("POST", "/queue", params={"uri": uri}, idempotent=False)

    async def play(self, uris: Sequence[str]) -> bool:
        result = await self.client.player("PUT", "/play", json_body={"uris": list(uris)})
        return result.ok

    async def bpm(self, track: TrackInfo, *, allow_musicbrainz: bool = True) -> float | None:
        """The track's BPM (20..220) from the cache or Deezer; None when unknown."""
        envelope = kv.audio_features_cache(self.c.env, logger=self.c.log.child("kv"))
        cache = EnrichmentCache(envelope) if envelope is not None else None
        value: BPMEnrichment | None = None
        try:
            if cache is not None:
                entry = await cache.read_bpm(track.id)
                value = entry.value
                if not entry.needs_fetch:
                    return _valid_bpm(value)
            if track.isrc is None and not allow_musicbrainz:
                return _valid_bpm(value)
            upstreams = Upstreams.from_context(self.c)
            http = outbound.client()
            enricher = DeezerEnricher(
                DeezerClient(http, upstreams.deezer),
                MusicBrainzClient(http, upstreams.musicbrainz),
                cache,
                self.c.log,
            )
            outcome = await enricher.fetch(track.as_playlist_track())
            if outcome.ok and outcome.value is not None:
                value = outcome.value
                if cache is not None:
                    await cache.write_bpm(track.id, value)
        except Exception as exc:  # best effort: BPM is a nice-to-have
            self.c.log.warn("bpm lookup failed", error=type(exc).__name__)
        return _valid_bpm(value)


def _valid_bpm(value: BPMEnrichment | None) -> float | None:
    if value is None or value.bpm is None:
        return None
    return value.bpm if 20 <= value.bpm <= 220 else None


def _json(result: outbound.FetchResult[Any]) -> dict[str, Any]:
    try:
        data = result.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
