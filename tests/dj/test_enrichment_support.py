"""Shared set-up for the enrichment and analysis unit tests (no tests here).

`InProcessUpstreams` is an outbound transport that hands each request to the fakes'
dispatch in-process (routing, fault injection and quirks of `fakes/`, without sockets);
the fake servers are started only so their absolute URLs can be rendered. KV is the
runtime's `MemoryKV` on an injected clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import pytest

from dj.analysis import AnalysisDeps
from dj.enrichment.cache import EnrichmentCache
from dj.upstreams import Upstreams
from fakes.base import CaseInsensitiveDict, FakeRequest, FakeServer
from fakes.catalog import CATALOG, PLAYLIST_100
from fakes.deezer import FakeDeezer
from fakes.lastfm import DEFAULT_API_KEY, FakeLastFm
from fakes.musicbrainz import FakeMusicBrainz
from fakes.spotify import DEV_TOKEN, FakeSpotify
from runtime.budget import KVOpBudget, SubrequestTracker
from runtime.http import Headers
from runtime.kv import AUDIO_FEATURES_TTL, EnvelopeCache, KVStore
from runtime.logging import ServiceLogger
from runtime.outbound import OutboundClient, OutboundRequest, TransportError, TransportResponse
from runtime.ratelimit import RequestOrchestrator
from runtime.testing import MemoryKV

TOKEN = DEV_TOKEN
LASTFM_KEY = DEFAULT_API_KEY
PLAYLIST_ID = CATALOG.playlist_by_name(PLAYLIST_100).id
HOSTS = {
    "spotify.test": "spotify",
    "deezer.test": "deezer",
    "lastfm.test": "lastfm",
    "musicbrainz.test": "musicbrainz",
}
UPSTREAMS = Upstreams(
    spotify_api="http://spotify.test/v1",
    spotify_accounts="http://spotify.test",
    deezer="http://deezer.test",
    lastfm="http://lastfm.test/2.0/",
    musicbrainz="http://musicbrainz.test/ws/2",
    anthropic="http://anthropic.test",
)


class Clock:
    def __init__(self, now: float = 1_762_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class InProcessUpstreams:
    spotify: FakeSpotify
    deezer: FakeDeezer
    lastfm: FakeLastFm
    musicbrainz: FakeMusicBrainz
    requests: list[OutboundRequest] = field(default_factory=list)
    delays: dict[str, float] = field(default_factory=dict)
    """Seconds (asyncio) before a service answers: a slow upstream without blocking."""

    def by_name(self, name: str) -> FakeServer:
        return getattr(self, name)

    def reset(self) -> None:
        self.requests.clear()
        self.delays.clear()
        for fake in (self.spotify, self.deezer, self.lastfm, self.musicbrainz):
            fake.reset_calls()
            fake.clear_faults()

    def count(self, service: str) -> int:
        return len(self.by_name(service).calls)

    async def send(self, request: OutboundRequest) -> TransportResponse:
        self.requests.append(request)
        parts = urlsplit(request.url)
        name = HOSTS[parts.hostname or ""]
        fake = self.by_name(name)
        await asyncio.sleep(self.delays.get(name, 0.0))
        answer = fake._dispatch(
            FakeRequest(
                method=request.method,
                path=parts.path,
                query=parse_qs(parts.query, keep_blank_values=True),
                headers=CaseInsensitiveDict(request.headers.items()),
                body=request.body or b"",
            )
        )
        if answer.drop:
            raise TransportError("connection dropped")
        return TransportResponse(answer.status, Headers(answer.headers), answer.body)


@pytest.fixture(scope="session", name="upstream_fakes")
def upstream_fakes_fixture() -> Iterator[InProcessUpstreams]:
    fakes = InProcessUpstreams(
        spotify=FakeSpotify(),
        deezer=FakeDeezer(),
        lastfm=FakeLastFm(),
        musicbrainz=FakeMusicBrainz(rate=None),
    )
    servers = (fakes.spotify, fakes.deezer, fakes.lastfm, fakes.musicbrainz)
    for server in servers:
        server.start()
    yield fakes
    for server in servers:
        server.stop()


@dataclass
class World:
    """One test's upstreams, KV, budgets and a way to build `AnalysisDeps`."""

    fakes: InProcessUpstreams
    kv: MemoryKV
    clock: Clock
    lines: list[str]
    subrequest_limit: int = 950
    kv_limit: int = 1000
    trackers: list[SubrequestTracker] = field(default_factory=list)
    kv_budgets: list[KVOpBudget] = field(default_factory=list)

    def client(self, tracker: SubrequestTracker | None = None) -> OutboundClient:
        async def no_sleep(delay: float) -> None:
            await asyncio.sleep(0)

        return OutboundClient(
            self.fakes,
            # The rate itself is exercised end to end; here only the lanes apply.
            orchestrator=RequestOrchestrator(rate=100_000, burst=100_000),
            subrequests=tracker,
            logger=ServiceLogger("outbound", sink=self.lines.append),
            sleep=no_sleep,
            jitter=lambda: 0.0,
        )

    def cache(self, budget: KVOpBudget | None = None) -> EnrichmentCache:
        store = KVStore(
            self.kv, name="AUDIO_FEATURES_CACHE", policy=AUDIO_FEATURES_TTL, budget=budget
        )
        return EnrichmentCache(EnvelopeCache(store, clock=self.clock))

    def deps(
        self,
        *,
        lastfm_key: str | None = LASTFM_KEY,
        with_cache: bool = True,
        deadline: float = 30.0,
    ) -> AnalysisDeps:
        tracker = SubrequestTracker(self.subrequest_limit)
        kv_budget = KVOpBudget(self.kv_limit)
        self.trackers.append(tracker)
        self.kv_budgets.append(kv_budget)
        return AnalysisDeps(
            http=self.client(tracker),
            upstreams=UPSTREAMS,
            lastfm_api_key=lastfm_key,
            cache=self.cache(kv_budget) if with_cache else None,
            subrequests=tracker,
            kv_budget=kv_budget,
            logger=ServiceLogger("analysis", sink=self.lines.append),
            deadline=deadline,
            pace_upstreams=False,
        )


@pytest.fixture(name="world")
def world_fixture(upstream_fakes: InProcessUpstreams) -> World:
    upstream_fakes.reset()
    clock = Clock()
    return World(upstream_fakes, MemoryKV(clock=clock), clock, [])
