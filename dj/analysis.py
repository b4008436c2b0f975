"""`analyze_playlist`: a playlist's metadata statistics plus Deezer and Last.fm enrichment.

The pipeline of reference §4.6, with its bugs fixed:

1. The playlist and its first 100 tracks from Spotify (one call when the playlist's embedded
   page holds them, else `/items` pages of 50). A Spotify failure is the only error the
   analysis raises (`SpotifyReadError`); everything after it is best effort.
2. Metadata statistics. `popularity` is gone from dev-mode track objects (Feb 2026), so
   `avg_popularity` is the mean over tracks that still carry it, or null. Spotify's batch
   `/artists?ids=` is gone too: `top_genres` are the most frequent Last.fm artist tags over
   the playlist's artists (no extra call: artist info is fetched anyway), `[]` without
   Last.fm. `total_artists` counts every unique artist (no 50 cap: that came from the batch
   endpoint's limit).
3. One KV read per track and source (`bpm:`, `lastfm:`) decides what to fetch AND supplies the
   cached values, so cached tracks are part of the aggregates (§12.3: a warm analysis
   reports what the cold one did).
4. Budgets: Deezer gets ⌊(remaining − 10) / 2⌋ tracks (1 call each), Last.fm
   ⌊(remaining − Deezer tracks − 5) / 4⌋ (4 calls each), artists what is left after a reserve
   of 5; the tracker refuses any call past the limit anyway. The KV budget (1,000 ops per
   invocation) is planned too: a cold 100-track analysis needs about 700 ops, a warm one 200;
   when the remaining KV budget is smaller, the Last.fm batch shrinks first, then Deezer.
5. Deezer and Last.fm run concurrently (the runtime's lanes and token bucket pace them), each
   under one deadline; what is not done by then is left out and reported as not checked.
6. Spotify's audio features (energy, danceability, valence) in one call per 100 tracks,
   concurrently with the enrichment and under the same deadline. Spotify refuses them to
   apps created after 2024-11-27 (403): then `audio_features` is null and
   `audio_features_unavailable` says why. Never cached, never fatal.
7. `AnalysisResult` (step 9 of §4.6, plus the tempo histogram `deezer_analysis.bpm.distribution`
   and `audio_features`), progress through `on_progress(message)`.
"""

from __future__ import annotations

import asyncio
import inspect
import math
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from dj.enrichment.audio_features import (
    FEATURES,
    AudioFeaturesReport,
    calls_needed,
    failure_reason,
    fetch_audio_features,
)
from dj.enrichment.cache import EnrichmentCache
from dj.enrichment.common import Pacer, js_round
from dj.enrichment.deezer import (
    MAX_VALID_BPM,
    QUOTA_CALLS,
    QUOTA_WINDOW,
    BPMEnrichment,
    DeezerClient,
    is_valid_bpm,
)
from dj.enrichment.enricher import DeezerEnricher, DeezerReport, LastFmEnricher, LastFmReport
from dj.enrichment.lastfm import LastFmClient
from dj.enrichment.musicbrainz import RATE_CALLS, RATE_WINDOW, MusicBrainzClient
from dj.enrichment.playlist import Playlist, PlaylistReader, PlaylistTrack, SpotifyReadError
from dj.upstreams import Upstreams
from runtime.records import field, record

if TYPE_CHECKING:
    from runtime.budget import KVOpBudget, SubrequestTracker
    from runtime.context import Context
    from runtime.logging import ServiceLogger
    from runtime.outbound import OutboundClient

__all__ = [
    "AnalysisDeps",
    "AnalysisResult",
    "FetchPlan",
    "SpotifyReadError",
    "analyze_playlist",
    "audio_features_summary",
    "bpm_distribution",
    "feature_distribution",
    "plan_fetches",
]

DEFAULT_DEADLINE = 30.0
"""Seconds the enrichment phases may take together before what is unfinished is dropped."""
ARTIST_MIN_WINDOW = 5.0
"""After the deadline, cached artist info is still read (no calls) within this many seconds."""
ENRICHMENT_RESERVE = 10
LASTFM_RESERVE = 5
DEEZER_SHARE = 0.5
LASTFM_CALLS_PER_TRACK = 4
KV_RESERVE = 10
KV_PER_DEEZER_TRACK = 1
KV_PER_MUSICBRAINZ_TRACK = 2
KV_PER_LASTFM_TRACK = 3
KV_PER_ARTIST = 2
BPM_BUCKET = 10
"""Width of the tempo histogram's buckets (BPM); edges are multiples of it."""
FEATURE_BUCKETS = 5
"""Buckets of the 0-1 audio features' histograms (0.2 wide)."""

MESSAGE_ENRICHED = "Use get_playlist_tracks for track details."
MESSAGE_PLAIN = (
    "Use get_playlist_tracks to fetch track details in batches, or get_track_details for "
    "specific tracks."
)

Number = int | float
OnProgress = Callable[[str], Any]


# -- result --------------------------------------------------------------------------------


class NumberRange(BaseModel):
    max: Number
    min: Number


class Stat(BaseModel):
    avg: Number
    range: NumberRange
    sample_size: int


class Bucket(BaseModel):
    """One bar of a histogram: `count` values in [min, max) (the last bucket includes max)."""

    min: Number
    max: Number
    count: int


class BPMStat(Stat):
    distribution: list[Bucket] = Field(
        description=(
            "Tracks per 10-BPM bucket (edges at multiples of 10; the 210-220 bucket includes "
            "220), from the lowest to the highest non-empty bucket, empty ones in between."
        )
    )


class DeezerAnalysis(BaseModel):
    source: Literal["deezer"] = "deezer"
    total_checked: int = Field(description="Tracks with a cached Deezer answer or a lookup tried.")
    tracks_found: int = Field(description="Tracks Deezer knows (cached or fetched).")
    bpm: BPMStat | None = Field(None, description="BPM over values in 45-220 only.")
    rank: Stat | None = None
    gain: Stat | None = None


class FeatureStat(BaseModel):
    avg: float = Field(description="Mean over the sample, 0-1, two decimals.")
    distribution: list[Bucket] = Field(description="Five 0.2-wide buckets from 0 to 1.")


class AudioFeaturesAnalysis(BaseModel):
    """Spotify's audio features (only apps with extended access created before 2024-11-27)."""

    source: Literal["spotify"] = "spotify"
    sample_size: int = Field(description="Tracks Spotify has audio features for.")
    energy: FeatureStat
    danceability: FeatureStat
    valence: FeatureStat


class CrowdTag(BaseModel):
    count: int
    tag: str


class LastFmAnalysis(BaseModel):
    artists_enriched: int
    avg_listeners: int
    avg_playcount: int
    crowd_tags: list[CrowdTag]
    sample_size: int = Field(description="Tracks Last.fm has data for (cached or fetched).")
    similar_tracks: list[str]
    source: Literal["lastfm"] = "lastfm"


class ReleaseYearRange(BaseModel):
    average: int
    newest: int
    oldest: int


class MetadataAnalysis(BaseModel):
    avg_duration_minutes: float
    avg_duration_ms: int
    avg_popularity: int | None = Field(
        description="Mean Spotify popularity of tracks that still carry it; null when none do."
    )
    explicit_percentage: int
    explicit_tracks: int
    release_year_range: ReleaseYearRange | None
    top_genres: list[str] = Field(description="Most frequent Last.fm tags of the artists.")
    total_artists: int


class AnalysisResult(BaseModel):
    """What `analyze_playlist` returns (the chat tool's result, 2-5 KB)."""

    playlist_name: str
    playlist_description: str | None
    total_tracks: int
    track_ids: list[str]
    metadata_analysis: MetadataAnalysis
    deezer_analysis: DeezerAnalysis | None = None
    lastfm_analysis: LastFmAnalysis | None = None
    audio_features: AudioFeaturesAnalysis | None = Field(
        None, description="Energy, danceability and valence from Spotify; null when unavailable."
    )
    audio_features_unavailable: str | None = Field(
        None, description="Why `audio_features` is null (a sentence), e.g. Spotify's 403."
    )
    message: str


# -- dependencies --------------------------------------------------------------------------


@record
class AnalysisDeps:
    """Everything the analysis talks to; `from_context` builds it inside a request."""

    http: OutboundClient
    upstreams: Upstreams
    lastfm_api_key: str | None
    cache: EnrichmentCache | None
    subrequests: SubrequestTracker | None = None
    kv_budget: KVOpBudget | None = None
    logger: ServiceLogger | None = None
    deadline: float = DEFAULT_DEADLINE
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep
    pace_upstreams: bool = True

    @classmethod
    def from_context(cls, c: Context) -> AnalysisDeps:
        from runtime import budget, kv, outbound

        envelope = kv.audio_features_cache(c.env, logger=c.log.child("kv"))
        key = (c.var("LASTFM_API_KEY") or "").strip()
        return cls(
            http=outbound.client(),
            upstreams=Upstreams.from_context(c),
            lastfm_api_key=key or None,
            cache=EnrichmentCache(envelope) if envelope is not None else None,
            subrequests=budget.subrequests(),
            kv_budget=budget.kv_ops(),
            logger=c.log.child("analysis"),
        )

    def pacer(self, limit: int, window: float) -> Pacer | None:
        if not self.pace_upstreams:
            return None
        return Pacer(limit, window, clock=self.clock, sleep=self.sleep)


# -- planning ------------------------------------------------------------------------------


@record(frozen=True)
class FetchPlan:
    deezer: list[PlaylistTrack]
    lastfm: list[PlaylistTrack]
    deezer_budget: int | None = None
    """Tracks the subrequest budget allowed Deezer (None: no tracker)."""
    lastfm_budget: int | None = None
    kv_needed: int = 0


def _kv_cost(deezer: Sequence[PlaylistTrack], lastfm: Sequence[PlaylistTrack]) -> int:
    cost = sum(KV_PER_DEEZER_TRACK + (0 if t.isrc else KV_PER_MUSICBRAINZ_TRACK) for t in deezer)
    artists = {t.first_artist.lower() for t in lastfm}
    return cost + KV_PER_LASTFM_TRACK * len(lastfm) + KV_PER_ARTIST * len(artists)


def plan_fetches(
    deezer_need: Sequence[PlaylistTrack],
    lastfm_need: Sequence[PlaylistTrack],
    *,
    subrequests_remaining: int | None,
    kv_remaining: int | None,
) -> FetchPlan:
    """Which uncached tracks to fetch, given what the two per-invocation budgets have left."""
    deezer = list(deezer_need)
    lastfm = list(lastfm_need)
    deezer_budget: int | None = None
    lastfm_budget: int | None = None
    if subrequests_remaining is not None:
        deezer_budget = math.floor(
            max(0, subrequests_remaining - ENRICHMENT_RESERVE) * DEEZER_SHARE
        )
        deezer = deezer[:deezer_budget]
        lastfm_budget = (
            max(0, subrequests_remaining - len(deezer) - LASTFM_RESERVE) // LASTFM_CALLS_PER_TRACK
        )
        lastfm = lastfm[:lastfm_budget]
    if kv_remaining is not None:
        available = kv_remaining - KV_RESERVE
        while lastfm and _kv_cost(deezer, lastfm) > available:
            lastfm.pop()
        while deezer and _kv_cost(deezer, lastfm) > available:
            deezer.pop()
    return FetchPlan(deezer, lastfm, deezer_budget, lastfm_budget, _kv_cost(deezer, lastfm))


# -- aggregation ---------------------------------------------------------------------------


def _num(value: float) -> Number:
    """Integral floats as ints, so 120.0 serialises as 120 (as JavaScript would)."""
    return int(value) if float(value).is_integer() else value


def _stat(values: list[float], *, decimals: int | None = None) -> Stat | None:
    if not values:
        return None
    mean = sum(values) / len(values)
    avg: Number = round(mean, decimals) if decimals is not None else js_round(mean)
    return Stat(
        avg=_num(avg),
        range=NumberRange(max=_num(max(values)), min=_num(min(values))),
        sample_size=len(values),
    )


def bpm_distribution(values: Sequence[float]) -> list[Bucket]:
    """Tracks per 10-BPM bucket over the valid BPMs (45-220; others are ignored).

    Edges are multiples of 10 and a bucket holds [min, max), except the last possible one,
    210-220, which also holds 220 (the top of the valid range). The list runs from the lowest
    to the highest non-empty bucket; empty buckets in between are kept (count 0).
    """
    counts: Counter[int] = Counter()
    top = int(MAX_VALID_BPM) // BPM_BUCKET - 1
    for value in values:
        if is_valid_bpm(value):
            counts[min(int(value // BPM_BUCKET), top)] += 1
    if not counts:
        return []
    return [
        Bucket(min=i * BPM_BUCKET, max=(i + 1) * BPM_BUCKET, count=counts[i])
        for i in range(min(counts), max(counts) + 1)
    ]


def feature_distribution(values: Sequence[float]) -> list[Bucket]:
    """Five 0.2-wide buckets over 0-1 (1.0 falls in the last); values outside are ignored."""
    counts = [0] * FEATURE_BUCKETS
    for value in values:
        if 0.0 <= value <= 1.0:
            counts[min(int(value * FEATURE_BUCKETS), FEATURE_BUCKETS - 1)] += 1
    width = 1 / FEATURE_BUCKETS
    return [
        Bucket(min=_num(round(i * width, 2)), max=_num(round((i + 1) * width, 2)), count=n)
        for i, n in enumerate(counts)
    ]


def _feature(values: list[float]) -> FeatureStat:
    return FeatureStat(
        avg=round(sum(values) / len(values), 2), distribution=feature_distribution(values)
    )


def audio_features_summary(
    tracks: Sequence[PlaylistTrack], report: AudioFeaturesReport | None
) -> AudioFeaturesAnalysis | None:
    """Averages and histograms of the tracks Spotify has features for (None: none)."""
    if report is None:
        return None
    rows = [report.values[t.id] for t in tracks if t.id in report.values]
    if not rows:
        return None
    columns = {name: [row[name] for row in rows] for name in FEATURES}
    return AudioFeaturesAnalysis(
        sample_size=len(rows),
        energy=_feature(columns["energy"]),
        danceability=_feature(columns["danceability"]),
        valence=_feature(columns["valence"]),
    )


def metadata_stats(tracks: Sequence[PlaylistTrack]) -> MetadataAnalysis:
    count = len(tracks)
    avg_duration = sum(t.duration_ms for t in tracks) / count if count else 0.0
    popular = [t.popularity for t in tracks if t.popularity is not None]
    explicit = sum(1 for t in tracks if t.explicit)
    years = [y for y in (t.release_year for t in tracks) if y is not None]
    year_range = (
        ReleaseYearRange(
            average=js_round(sum(years) / len(years)), newest=max(years), oldest=min(years)
        )
        if years
        else None
    )
    artists: set[str] = set()
    for track in tracks:
        for artist in track.artists:
            artists.add(f"id:{artist.id}" if artist.id else f"name:{artist.name.lower()}")
    return MetadataAnalysis(
        avg_duration_minutes=js_round(avg_duration / 60000 * 10) / 10,
        avg_duration_ms=js_round(avg_duration),
        avg_popularity=js_round(sum(popular) / len(popular)) if popular else None,
        explicit_percentage=js_round(explicit / count * 100) if count else 0,
        explicit_tracks=explicit,
        release_year_range=year_range,
        top_genres=[],
        total_artists=len(artists),
    )


def deezer_summary(tracks: Sequence[PlaylistTrack], report: DeezerReport) -> DeezerAnalysis | None:
    values: list[BPMEnrichment] = [report.values[t.id] for t in tracks if t.id in report.values]
    found = [v for v in values if v.found]
    if not found:
        return None
    bpms = [v.bpm for v in values if v.bpm is not None and is_valid_bpm(v.bpm)]
    bpm = _stat(bpms)
    return DeezerAnalysis(
        total_checked=report.checked,
        tracks_found=len(found),
        bpm=None
        if bpm is None
        else BPMStat(**bpm.model_dump(), distribution=bpm_distribution(bpms)),
        rank=_stat([float(v.rank) for v in values if v.rank is not None and v.rank > 0]),
        gain=_stat([v.gain for v in values if v.gain is not None], decimals=1),
    )


def lastfm_summary(tracks: Sequence[PlaylistTrack], report: LastFmReport) -> LastFmAnalysis | None:
    ordered = [report.signals[t.id] for t in tracks if t.id in report.signals]
    with_data = [s for s in ordered if s.has_data]
    if not with_data:
        return None
    tags: Counter[str] = Counter()
    for signals in with_data:
        tags.update(dict.fromkeys(signals.top_tags, 1))
    crowd = sorted(tags.items(), key=lambda item: -item[1])[:10]  # stable: first seen first
    similar: list[str] = []
    for signals in with_data[:3]:
        for entry in signals.similar[:3]:
            line = f"{entry.artist} - {entry.name}"
            if line not in similar:
                similar.append(line)
    enriched = {
        t.first_artist.lower()
        for t in tracks
        if t.id in report.signals and report.signals[t.id].artist_info is not None
    }
    return LastFmAnalysis(
        artists_enriched=len(enriched),
        avg_listeners=js_round(sum(s.listeners for s in with_data) / len(with_data)),
        avg_playcount=js_round(sum(s.playcount for s in with_data) / len(with_data)),
        crowd_tags=[CrowdTag(count=n, tag=tag) for tag, n in crowd],
        sample_size=len(with_data),
        similar_tracks=similar[:10],
    )


def top_genres(tracks: Sequence[PlaylistTrack], report: LastFmReport | None) -> list[str]:
    """The ten most frequent Last.fm artist tags, each artist counted once."""
    if report is None:
        return []
    counts: Counter[str] = Counter()
    seen: set[str] = set()
    for track in tracks:
        name = track.first_artist.lower()
        signals = report.signals.get(track.id)
        info = signals.artist_info if signals is not None else None
        if info is None:
            info = report.artists.get(name)
        if info is None or name in seen:
            continue
        seen.add(name)
        counts.update(dict.fromkeys((t.lower() for t in info.tags), 1))
    return [tag for tag, _ in sorted(counts.items(), key=lambda item: -item[1])[:10]]


def summary_message(deezer: DeezerAnalysis | None, lastfm: LastFmAnalysis | None) -> str:
    sources: list[str] = []
    if deezer is not None:
        kinds = [
            name
            for name, present in (("BPM", deezer.bpm), ("rank", deezer.rank), ("gain", deezer.gain))
            if present is not None
        ]
        sources.append(f"Deezer ({', '.join(kinds)})")
    if lastfm is not None:
        sources.append("Last.fm (tags, popularity)")
    if not sources:
        return MESSAGE_PLAIN
    return f"Enriched with {' + '.join(sources)}! {MESSAGE_ENRICHED}"


# -- pipeline ------------------------------------------------------------------------------


def progress_sink(
    on_progress: OnProgress | None, logger: ServiceLogger | None = None
) -> Callable[[str], Awaitable[None]]:
    """`on_progress` (sync or async) made safe: its failures never reach the analysis."""

    async def notify(message: str) -> None:
        if on_progress is None:
            return
        try:
            outcome = on_progress(message)
            if inspect.isawaitable(outcome):
                await outcome
        except Exception as exc:
            if logger is not None:
                logger.warn("progress callback failed", reason=str(exc)[:200])

    return notify


@record
class _Run:
    deps: AnalysisDeps
    tracks: list[PlaylistTrack]
    notify: Callable[[str], Awaitable[None]]
    token: str = ""
    deadline_at: float = 0.0
    features: AudioFeaturesReport | None = None
    deezer: DeezerReport = field(default_factory=DeezerReport)
    lastfm: LastFmReport | None = None
    plan: FetchPlan | None = None
    calls: dict[str, int] = field(default_factory=dict)

    def remaining(self) -> float:
        return max(0.0, self.deadline_at - self.deps.clock())

    def _warn(self, message: str, exc: BaseException | None = None) -> None:
        log = self.deps.logger
        if log is not None:
            if exc is not None:
                log.error(message, exc)
            else:
                log.warn(message)

    async def enrich(self) -> None:
        deps = self.deps
        tracks = self.tracks
        deezer = DeezerEnricher(
            DeezerClient(
                deps.http, deps.upstreams.deezer, pacer=deps.pacer(QUOTA_CALLS, QUOTA_WINDOW)
            ),
            MusicBrainzClient(
                deps.http, deps.upstreams.musicbrainz, pacer=deps.pacer(RATE_CALLS, RATE_WINDOW)
            ),
            deps.cache,
            deps.logger,
        )
        lastfm = (
            LastFmEnricher(
                LastFmClient(deps.http, deps.upstreams.lastfm, deps.lastfm_api_key),
                deps.cache,
                deps.logger,
            )
            if deps.lastfm_api_key
            else None
        )
        deezer_entries, lastfm_entries = await asyncio.gather(
            deezer.read(tracks), lastfm.read(tracks) if lastfm else _nothing()
        )
        deezer_need = [t for t in tracks if deezer_entries[t.id].needs_fetch]
        lastfm_need = [
            t for t in tracks if lastfm_entries.get(t.id) and lastfm_entries[t.id].needs_fetch
        ]
        spotify_calls = calls_needed(len(tracks))
        plan = plan_fetches(
            deezer_need,
            lastfm_need if lastfm else [],
            subrequests_remaining=(
                max(0, deps.subrequests.remaining - spotify_calls) if deps.subrequests else None
            ),
            kv_remaining=deps.kv_budget.remaining if deps.kv_budget else None,
        )
        self.plan = plan
        if lastfm is not None:
            await lastfm.read_corrections(plan.lastfm)  # all KV reads before the first call
        self.deadline_at = deps.clock() + deps.deadline
        phases: list[Awaitable[None]] = [
            self._audio_features(),
            self._deezer(deezer, deezer_entries, plan),
        ]
        if lastfm is not None:
            self.lastfm = LastFmReport()
            phases.append(self._lastfm(lastfm, lastfm_entries, plan))
        await asyncio.gather(*phases)
        self.calls = {
            "deezer": deezer.deezer.calls,
            "musicbrainz": deezer.musicbrainz.calls,
            "lastfm": lastfm.client.calls if lastfm else 0,
            "spotify_audio_features": self.features.calls if self.features else 0,
        }

    async def _audio_features(self) -> None:
        from dj.spotify import SpotifyClient  # loaded by the Spotify routes anyway

        deps = self.deps
        client = SpotifyClient(deps.upstreams, self.token, http=deps.http)
        try:
            self.features = await asyncio.wait_for(
                fetch_audio_features(client, [t.id for t in self.tracks]), self.remaining()
            )
        except TimeoutError:
            self.features = AudioFeaturesReport(unavailable=failure_reason(None, "timeout"))
            self._warn("audio features hit the analysis deadline")
        except Exception as exc:
            self.features = AudioFeaturesReport(unavailable=failure_reason(None, None))
            self._warn("audio features failed", exc)

    async def _deezer(
        self, enricher: DeezerEnricher, entries: dict[str, Any], plan: FetchPlan
    ) -> None:
        cached = len(self.tracks) - sum(1 for e in entries.values() if e.needs_fetch)
        await self.notify(
            f"Checking Deezer for BPM, rank and gain: {cached} tracks cached, "
            f"looking up {len(plan.deezer)}..."
        )
        try:
            await asyncio.wait_for(
                enricher.run(self.tracks, entries, plan.deezer, self.deezer), self.remaining()
            )
        except TimeoutError:
            self.deezer.timed_out = True
            self._warn("deezer phase hit the analysis deadline")
        except Exception as exc:
            self._warn("deezer phase failed", exc)
            await self.notify("Deezer enrichment unavailable - continuing with metadata only")
            return
        if not any(v.found for v in self.deezer.values.values()):
            await self.notify("No Deezer data available for these tracks")

    async def _lastfm(
        self, enricher: LastFmEnricher, entries: dict[str, Any], plan: FetchPlan
    ) -> None:
        report = self.lastfm
        assert report is not None
        cached = len(self.tracks) - sum(1 for e in entries.values() if e.needs_fetch)
        await self.notify(
            f"Fetching Last.fm tags and popularity: {cached} tracks cached, "
            f"looking up {len(plan.lastfm)}..."
        )
        try:
            try:
                await asyncio.wait_for(
                    enricher.fetch_tracks(self.tracks, entries, plan.lastfm, report),
                    self.remaining(),
                )
            except TimeoutError:
                report.timed_out = True
                self._warn("last.fm track phase hit the analysis deadline")
            names = enricher.artists_needed(self.tracks, report)
            window = self.remaining()
            tracker = self.deps.subrequests
            fetchable = (
                len(names) if tracker is None else max(0, tracker.remaining - LASTFM_RESERVE)
            )
            if window <= 0:
                fetchable, window = 0, ARTIST_MIN_WINDOW
            if names:
                try:
                    await asyncio.wait_for(
                        enricher.fetch_artists(
                            names, report, fetchable=fetchable, progress=self.notify
                        ),
                        window,
                    )
                except TimeoutError:
                    report.timed_out = True
                    self._warn("last.fm artist phase hit the analysis deadline")
            enricher.attach_artists(self.tracks, report)
        except Exception as exc:
            self._warn("last.fm phase failed", exc)
            await self.notify("Last.fm enrichment unavailable - continuing without tags")
        finally:
            await enricher.write_fetched(report)


async def _nothing() -> dict[str, Any]:
    return {}


async def analyze_playlist(
    playlist_id: str,
    token: str,
    deps: AnalysisDeps,
    *,
    on_progress: OnProgress | None = None,
) -> AnalysisResult:
    """Analyse up to 100 tracks of a playlist; raises `SpotifyReadError` only."""
    notify = progress_sink(on_progress, deps.logger)
    started = deps.clock()
    playlist: Playlist = await PlaylistReader(deps.http, deps.upstreams.spotify_api, token).read(
        playlist_id
    )
    tracks = playlist.tracks
    await notify(f'Analyzing "{playlist.name}": {len(tracks)} tracks...')
    metadata = metadata_stats(tracks)
    run = _Run(deps, tracks, notify, token)
    if tracks:
        await run.enrich()
    metadata.top_genres = top_genres(tracks, run.lastfm)
    deezer = deezer_summary(tracks, run.deezer)
    lastfm = lastfm_summary(tracks, run.lastfm) if run.lastfm is not None else None
    features = audio_features_summary(tracks, run.features)
    result = AnalysisResult(
        playlist_name=playlist.name,
        playlist_description=playlist.description,
        total_tracks=len(tracks),
        track_ids=[t.id for t in tracks],
        metadata_analysis=metadata,
        deezer_analysis=deezer,
        lastfm_analysis=lastfm,
        audio_features=features,
        audio_features_unavailable=(
            run.features.unavailable if features is None and run.features else None
        ),
        message=summary_message(deezer, lastfm),
    )
    _log_summary(deps, run, playlist_id, started)
    await notify(f'Analysis complete for "{playlist.name}"!')
    return result


def _log_summary(deps: AnalysisDeps, run: _Run, playlist_id: str, started: float) -> None:
    if deps.logger is None:
        return
    dz = run.deezer
    lf = run.lastfm
    deps.logger.info(
        "playlist analysed",
        playlist=playlist_id,
        tracks=len(run.tracks),
        duration_ms=round((deps.clock() - started) * 1000),
        deezer={
            "cached": dz.cached,
            "fetched": dz.fetched,
            "failed": dz.failed,
            "skipped": dz.skipped,
            "timed_out": dz.timed_out,
        },
        lastfm=None
        if lf is None
        else {
            "cached": lf.cached,
            "fetched": lf.fetched,
            "failed": lf.failed,
            "skipped": lf.skipped,
            "artists_fetched": lf.artists_fetched,
            "artists_failed": lf.artists_failed,
            "timed_out": lf.timed_out,
        },
        calls=run.calls,
        audio_features=None if run.features is None else run.features.unavailable or "ok",
        subrequests=deps.subrequests.count if deps.subrequests else None,
        kv_ops=deps.kv_budget.count if deps.kv_budget else None,
        kv_planned=run.plan.kv_needed if run.plan else None,
    )
