"""The two enrichment phases over a list of Spotify tracks, cache-first and best effort.

Each phase reads every track's cache entry once; that single read both decides what to
fetch and supplies the cached value to the aggregates (the upstream read twice and then
left cached tracks out: §12.3). Fetches run concurrently: the runtime's lanes cap how many
calls are in flight per service and its token bucket the rate; no code here holds a lane
slot, so nothing can nest (§5.2, §12.11). Results land in the report as each track
finishes, so a phase cut short by its deadline still reports what it got.

Costs per fetched track: Deezer 1-3 calls (+1 MusicBrainz without ISRC), 1 KV write
(+1 read, +1 write for the MusicBrainz ISRC); Last.fm 4 calls, 3 KV ops (correction read
and write, one signals write made after artist info is attached, so no rewrite). Per new
artist: 1 call, 2 KV ops.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from runtime.records import field, record

from .cache import EnrichmentCache, Entry
from .common import Outcome
from .deezer import BPMEnrichment, DeezerClient, merge_enrichment
from .lastfm import (
    ArtistInfo,
    Correction,
    LastFmClient,
    LastFmSignals,
    build_signals,
    merge_signals,
)
from .musicbrainz import MusicBrainzClient
from .playlist import PlaylistTrack

if TYPE_CHECKING:
    from runtime.logging import ServiceLogger

T = TypeVar("T")
R = TypeVar("R")

KV_READ_CONCURRENCY = 25
ARTIST_PROGRESS_EVERY = 10

Progress = Callable[[str], Awaitable[None]]


async def bounded_map(
    items: Iterable[T], call: Callable[[T], Awaitable[R]], limit: int = KV_READ_CONCURRENCY
) -> list[R]:
    """`call` over items with at most `limit` running (used for KV reads, not HTTP)."""
    gate = asyncio.Semaphore(limit)

    async def one(item: T) -> R:
        async with gate:
            return await call(item)

    return list(await asyncio.gather(*(one(item) for item in items)))


async def _noop_progress(message: str) -> None:
    return None


# -- Deezer --------------------------------------------------------------------------------


@record
class DeezerReport:
    values: dict[str, BPMEnrichment] = field(default_factory=dict)
    """Track id → the enrichment the aggregates use (cached or fetched)."""
    cached: int = 0
    fetched: int = 0
    failed: int = 0
    skipped: int = 0
    attempted: int = 0
    timed_out: bool = False

    @property
    def checked(self) -> int:
        """Tracks with a cached answer plus tracks we tried to fetch."""
        return self.cached + self.attempted


def use_cached(
    tracks: Sequence[PlaylistTrack],
    entries: dict[str, Entry[Any]],
    to_fetch: Sequence[PlaylistTrack],
    report: Any,
    found: dict[str, Any],
) -> None:
    """Count cached and skipped tracks in `report`; put what the cache holds into `found`.

    A track whose entry is fresh counts as cached; one that needed fetching but did not fit the
    budget counts as skipped and keeps its old (stale) value, if any.
    """
    chosen = {t.id for t in to_fetch}
    for track in tracks:
        entry = entries[track.id]
        if not entry.needs_fetch:
            report.cached += 1
            if entry.value is not None:
                found[track.id] = entry.value
        elif track.id not in chosen:
            report.skipped += 1
            if entry.old is not None:
                found[track.id] = entry.old


class DeezerEnricher:
    def __init__(
        self,
        deezer: DeezerClient,
        musicbrainz: MusicBrainzClient,
        cache: EnrichmentCache | None,
        logger: ServiceLogger | None = None,
    ) -> None:
        self.deezer = deezer
        self.musicbrainz = musicbrainz
        self.cache = cache
        self.logger = logger

    async def read(self, tracks: Sequence[PlaylistTrack]) -> dict[str, Entry[BPMEnrichment]]:
        if self.cache is None:
            return {t.id: Entry(None, True) for t in tracks}
        cache = self.cache
        entries = await bounded_map(tracks, lambda t: cache.read_bpm(t.id))
        return {t.id: e for t, e in zip(tracks, entries, strict=True)}

    async def find_isrc(self, track: PlaylistTrack) -> Outcome[str]:
        """The track's ISRC from MusicBrainz (cached 30 days, including "none")."""
        if self.cache is not None:
            found = await self.cache.read_isrc(track.name, track.first_artist, track.duration_ms)
            if found is not None:
                return Outcome.found(found.value) if found.value else Outcome.missing()
        outcome = await self.musicbrainz.find_isrc(
            track.name, track.first_artist, track.duration_ms
        )
        if not outcome.failed and self.cache is not None:
            await self.cache.write_isrc(
                track.name, track.first_artist, track.duration_ms, outcome.value
            )
        return outcome

    async def fetch(self, track: PlaylistTrack) -> Outcome[BPMEnrichment]:
        """Deezer data for one track: ok (found or a real miss) or failed (nothing learned)."""
        isrc = track.isrc
        via_musicbrainz = False
        if not isrc:
            found = await self.find_isrc(track)
            if found.failed:
                return Outcome.failure(found.error or "musicbrainz failed")
            if not found.value:
                return Outcome.found(BPMEnrichment.empty())
            isrc, via_musicbrainz = found.value, True
        lookup = await self.deezer.lookup(isrc, track.duration_ms)
        if lookup.failed:
            return Outcome.failure(lookup.error or "deezer failed")
        if lookup.value is None:
            return Outcome.found(BPMEnrichment.empty())
        source = "deezer-via-musicbrainz" if via_musicbrainz else "deezer"
        return Outcome.found(BPMEnrichment.from_track(lookup.value, source))

    async def enrich(
        self, track: PlaylistTrack, entry: Entry[BPMEnrichment], report: DeezerReport
    ) -> None:
        report.attempted += 1
        try:
            outcome = await self.fetch(track)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug or an odd answer costs this track, not the phase
            outcome = Outcome.failure(f"{type(exc).__name__}: {exc}")
            if self.logger is not None:
                self.logger.error("deezer enrichment of a track failed", exc, track=track.id)
        if outcome.failed or outcome.value is None:
            report.failed += 1
            if entry.old is not None:
                report.values[track.id] = entry.old  # the stale entry is still an answer
            return
        value = merge_enrichment(entry.old, outcome.value)
        report.values[track.id] = value
        report.fetched += 1
        if self.cache is not None:
            await self.cache.write_bpm(track.id, value)

    async def run(
        self,
        tracks: Sequence[PlaylistTrack],
        entries: dict[str, Entry[BPMEnrichment]],
        to_fetch: Sequence[PlaylistTrack],
        report: DeezerReport,
    ) -> DeezerReport:
        """Fill `report` with cached values and fetch `to_fetch` (already budgeted)."""
        use_cached(tracks, entries, to_fetch, report, report.values)
        await asyncio.gather(*(self.enrich(t, entries[t.id], report) for t in to_fetch))
        return report


# -- Last.fm -------------------------------------------------------------------------------


@record
class LastFmReport:
    signals: dict[str, LastFmSignals] = field(default_factory=dict)
    """Track id → signals the aggregates use (cached or fetched), artist info attached."""
    artists: dict[str, ArtistInfo] = field(default_factory=dict)
    """Lower-cased first-artist name → artist info (cached or fetched)."""
    cached: int = 0
    fetched: int = 0
    failed: int = 0
    skipped: int = 0
    artists_fetched: int = 0
    artists_failed: int = 0
    timed_out: bool = False


@record
class _Fetched:
    track: PlaylistTrack
    signals: LastFmSignals
    partial: bool


class LastFmEnricher:
    def __init__(
        self,
        client: LastFmClient,
        cache: EnrichmentCache | None,
        logger: ServiceLogger | None = None,
    ) -> None:
        self.client = client
        self.cache = cache
        self.logger = logger
        self._pending: list[_Fetched] = []
        self._corrections: dict[tuple[str, str], Correction | None] = {}
        self._corrections_read: set[tuple[str, str]] = set()

    async def read(self, tracks: Sequence[PlaylistTrack]) -> dict[str, Entry[LastFmSignals]]:
        if self.cache is None:
            return {t.id: Entry(None, True) for t in tracks}
        cache = self.cache
        entries = await bounded_map(tracks, lambda t: cache.read_signals(t.first_artist, t.name))
        return {t.id: e for t, e in zip(tracks, entries, strict=True)}

    async def read_corrections(self, tracks: Sequence[PlaylistTrack]) -> None:
        """Read the cached corrections of the tracks about to be fetched, all up front.

        Done before any call goes out, so the first wave of calls is not held up behind a
        hundred KV round trips between being granted a token and being sent.
        """
        if self.cache is None:
            return
        cache = self.cache
        pairs = list(dict.fromkeys((t.first_artist, t.name) for t in tracks))
        found = await bounded_map(pairs, lambda p: cache.read_correction(*p))
        self._corrections_read.update(pairs)
        for pair, entry in zip(pairs, found, strict=True):
            if entry is not None:
                self._corrections[pair] = entry.value

    async def correction(self, artist: str, track: str) -> Correction | None:
        if (artist, track) in self._corrections:
            return self._corrections[(artist, track)]
        if self.cache is not None and (artist, track) not in self._corrections_read:
            found = await self.cache.read_correction(artist, track)
            if found is not None:
                return found.value
        outcome = await self.client.correction(artist, track)
        if not outcome.failed and self.cache is not None:
            await self.cache.write_correction(artist, track, outcome.value)
        return outcome.value

    async def fetch(self, track: PlaylistTrack) -> Outcome[tuple[LastFmSignals, bool]]:
        """Signals for one track and whether any sub-call failed (a partial answer)."""
        artist, name = track.first_artist, track.name
        corrected = await self.correction(artist, name)
        canonical_artist = corrected.artist if corrected else artist
        canonical_track = corrected.track if corrected else name
        info, tags, similar = await asyncio.gather(
            self.client.track_info(canonical_artist, canonical_track),
            self.client.top_tags(canonical_artist, canonical_track),
            self.client.similar(canonical_artist, canonical_track),
        )
        parts = (info, tags, similar)
        if all(p.failed for p in parts):
            return Outcome.failure(info.error or "lastfm failed")
        signals = build_signals(canonical_artist, canonical_track, info, tags, similar)
        return Outcome.found((signals, any(p.failed for p in parts)))

    async def enrich(
        self, track: PlaylistTrack, entry: Entry[LastFmSignals], report: LastFmReport
    ) -> None:
        try:
            outcome = await self.fetch(track)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            outcome = Outcome.failure(f"{type(exc).__name__}: {exc}")
            if self.logger is not None:
                self.logger.error("last.fm enrichment of a track failed", exc, track=track.id)
        if outcome.failed or outcome.value is None:
            report.failed += 1
            if entry.old is not None:
                report.signals[track.id] = entry.old
            return
        fresh, partial = outcome.value
        merged = merge_signals(entry.old, fresh)
        report.signals[track.id] = merged
        report.fetched += 1
        self._pending.append(_Fetched(track, merged, partial))

    async def fetch_tracks(
        self,
        tracks: Sequence[PlaylistTrack],
        entries: dict[str, Entry[LastFmSignals]],
        to_fetch: Sequence[PlaylistTrack],
        report: LastFmReport,
    ) -> None:
        use_cached(tracks, entries, to_fetch, report, report.signals)
        await asyncio.gather(*(self.enrich(t, entries[t.id], report) for t in to_fetch))

    def artists_needed(self, tracks: Sequence[PlaylistTrack], report: LastFmReport) -> list[str]:
        """Unique first artists (playlist order) of tracks whose signals lack artist info."""
        seen: dict[str, str] = {}
        for track in tracks:
            signals = report.signals.get(track.id)
            if signals is None or signals.artist_info is not None:
                continue
            seen.setdefault(track.first_artist.lower(), track.first_artist)
        return list(seen.values())

    async def artist(self, name: str, report: LastFmReport, allowed: bool) -> None:
        info = await self.cache.read_artist(name) if self.cache is not None else None
        if info is None and allowed:
            outcome = await self.client.artist_info(name)
            if outcome.ok and outcome.value is not None:
                info = outcome.value
                report.artists_fetched += 1
                if self.cache is not None:
                    await self.cache.write_artist(name, info)
            elif outcome.failed:
                report.artists_failed += 1
        if info is not None:
            report.artists[name.lower()] = info

    async def fetch_artists(
        self,
        names: Sequence[str],
        report: LastFmReport,
        *,
        fetchable: int,
        progress: Progress = _noop_progress,
    ) -> None:
        """Artist info once per artist: cache first, then up to `fetchable` calls."""
        total = len(names)
        done = 0

        async def one(index: int, name: str) -> None:
            nonlocal done
            try:
                await self.artist(name, report, allowed=index < fetchable)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                report.artists_failed += 1
                if self.logger is not None:
                    self.logger.error("artist info failed", exc, artist=name)
            done += 1
            if done % ARTIST_PROGRESS_EVERY == 0 or done == total:
                await progress(f"Enriched {done}/{total} artists...")

        await asyncio.gather(*(one(i, n) for i, n in enumerate(names)))

    def attach_artists(self, tracks: Sequence[PlaylistTrack], report: LastFmReport) -> None:
        for track in tracks:
            signals = report.signals.get(track.id)
            if signals is None:
                continue
            if signals.artist_info is None:
                info = report.artists.get(track.first_artist.lower())
                if info is not None:
                    report.signals[track.id] = signals.model_copy(update={"artist_info": info})
            else:
                report.artists.setdefault(track.first_artist.lower(), signals.artist_info)

    async def write_fetched(self, report: LastFmReport) -> int:
        """One write per fetched track, with artist info attached (no later rewrite)."""
        if self.cache is None:
            self._pending.clear()
            return 0
        cache = self.cache
        pending, self._pending = self._pending, []

        async def write(item: _Fetched) -> bool:
            signals = report.signals.get(item.track.id, item.signals)
            # A partial answer (some sub-call failed) is kept only as a short-lived miss,
            # so the gaps are retried in 5 minutes and merged.
            is_miss = item.partial or signals.is_miss
            return await cache.write_signals(
                item.track.first_artist, item.track.name, signals, is_miss=is_miss
            )

        results = await bounded_map(pending, write)
        return sum(1 for r in results if r)
