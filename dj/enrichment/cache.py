"""The enrichment entries in AUDIO_FEATURES_CACHE, in the upstream's formats (reference §3).

| key (runtime.keys)                         | value                                  | TTL (runtime.kv)        |
|--------------------------------------------|----------------------------------------|-------------------------|
| `bpm:{spotifyTrackId}`                     | envelope, field `enrichment`           | 90 d hit / 5 min miss   |
| `musicbrainz:isrc:{track}:{artist}:{s}s`   | text ISRC or `null`                    | 30 d                    |
| `lastfm:{hash}`                            | envelope, field `signals`              | 7 d hit / 5 min miss    |
| `lastfm:correction:{artist}:{track}`       | JSON `{artist, track}` or `null`       | 30 d                    |
| `artist_{hash}`                            | JSON artist info                       | 7 d                     |

Envelopes are `{<field>, fetched_at, is_miss, ttl}`; a miss stays in KV for 7 days (its
envelope still says 5 minutes, so it reads as stale) so that a retry can merge with it.
Everything is best effort: a KV failure or an exhausted KV budget reads as "not cached"
and skips the write (runtime.kv.EnvelopeCache). Keys never exceed 512 bytes (runtime.keys).
"""

from __future__ import annotations

from typing import Generic, TypeVar

from runtime import keys
from runtime.kv import (
    ARTIST_INFO_TTL,
    BPM_TTL,
    LASTFM_CORRECTION_TTL,
    LASTFM_SIGNALS_TTL,
    MUSICBRAINZ_ISRC_TTL,
    Cached,
    EnvelopeCache,
    Found,
)
from runtime.records import record

from .deezer import BPMEnrichment
from .lastfm import ArtistInfo, Correction, LastFmSignals

T = TypeVar("T")

BPM_FIELD = "enrichment"
SIGNALS_FIELD = "signals"


@record(frozen=True)
class Entry(Generic[T]):
    """What one read found: `usable` is a value to report now; `needs_fetch` asks for a refresh.

    * fresh hit or fresh miss → usable, no fetch;
    * stale entry (an old miss, an expired hit) → fetch; the old value is kept for the
      merge and, if the fetch cannot happen or fails, still reported;
    * nothing → fetch, nothing to report meanwhile.
    """

    value: T | None
    needs_fetch: bool
    cached: Cached[T] | None = None

    @property
    def old(self) -> T | None:
        return self.cached.value if self.cached is not None else None


def entry_from(cached: Cached[T] | None) -> Entry[T]:
    if cached is None:
        return Entry(None, True, None)
    return Entry(cached.value, cached.stale, cached)


class EnrichmentCache:
    """Typed reads and writes of the enrichment key families over an `EnvelopeCache`."""

    def __init__(self, cache: EnvelopeCache) -> None:
        self.cache = cache

    # -- Deezer --------------------------------------------------------------------------
    async def read_bpm(self, track_id: str) -> Entry[BPMEnrichment]:
        return entry_from(await self.cache.read(keys.bpm_key(track_id), BPM_FIELD, BPMEnrichment))

    async def write_bpm(self, track_id: str, value: BPMEnrichment) -> bool:
        """A hit (90 d) only with a BPM; otherwise a 5-minute miss (BPM 0 is stored as null)."""
        return await self.cache.write(
            keys.bpm_key(track_id), BPM_FIELD, value, policy=BPM_TTL, is_miss=value.is_miss
        )

    async def read_isrc(self, track: str, artist: str, duration_ms: int) -> Found[str] | None:
        return await self.cache.read_text(keys.musicbrainz_isrc_key(track, artist, duration_ms))

    async def write_isrc(self, track: str, artist: str, duration_ms: int, isrc: str | None) -> bool:
        return await self.cache.write_text(
            keys.musicbrainz_isrc_key(track, artist, duration_ms), isrc, policy=MUSICBRAINZ_ISRC_TTL
        )

    # -- Last.fm -------------------------------------------------------------------------
    async def read_signals(self, artist: str, track: str) -> Entry[LastFmSignals]:
        key = keys.lastfm_track_key(artist, track)
        return entry_from(await self.cache.read(key, SIGNALS_FIELD, LastFmSignals))

    async def write_signals(
        self, artist: str, track: str, value: LastFmSignals, *, is_miss: bool
    ) -> bool:
        key = keys.lastfm_track_key(artist, track)
        return await self.cache.write(
            key, SIGNALS_FIELD, value, policy=LASTFM_SIGNALS_TTL, is_miss=is_miss
        )

    async def read_correction(self, artist: str, track: str) -> Found[Correction] | None:
        return await self.cache.read_plain(keys.lastfm_correction_key(artist, track), Correction)

    async def write_correction(self, artist: str, track: str, value: Correction | None) -> bool:
        return await self.cache.write_plain(
            keys.lastfm_correction_key(artist, track), value, policy=LASTFM_CORRECTION_TTL
        )

    async def read_artist(self, artist: str) -> ArtistInfo | None:
        found = await self.cache.read_plain(keys.artist_info_key(artist), ArtistInfo)
        return found.value if found is not None else None

    async def write_artist(self, artist: str, value: ArtistInfo) -> bool:
        return await self.cache.write_plain(
            keys.artist_info_key(artist), value, policy=ARTIST_INFO_TTL
        )
