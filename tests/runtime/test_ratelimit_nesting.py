"""Nested helpers never deadlock: the reference's Last.fm lane deadlock (§5.2), redone.

Upstream, `batchGetArtistInfo` held a `lastfm` slot per artist, the task took another one via
`rateLimitedLastFmCall(getArtistInfo)` and `callApi` a third: with 5+ uncached artists every
slot was held by a waiter and nothing ever finished. Here only the outbound helper holds a
slot, around one HTTP attempt, so batches of helpers calling helpers always complete.
"""

from __future__ import annotations

import asyncio
from typing import Any, TypeVar

import pytest

from runtime.budget import SubrequestTracker
from runtime.http import Headers
from runtime.logging import ServiceLogger
from runtime.outbound import FetchResult, OutboundClient, OutboundRequest, TransportResponse
from runtime.ratelimit import RequestOrchestrator
from tests.support.virtual_time import VirtualTimeLoop, run_virtual

T = TypeVar("T")
LASTFM = "https://ws.audioscrobbler.com/2.0/"


class SlowLastFm:
    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.calls = 0
        self.in_flight = 0
        self.peak = 0

    async def send(self, request: OutboundRequest) -> TransportResponse:
        self.calls += 1
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await asyncio.sleep(self.latency)
        finally:
            self.in_flight -= 1
        return TransportResponse(200, Headers(), b'{"ok":true}')


class LastFmService:
    """The upstream's shape: helpers calling helpers, batches over helpers."""

    def __init__(self, client: OutboundClient) -> None:
        self.client = client

    async def call_api(self, method: str, **params: str) -> FetchResult[Any]:
        return await self.client.fetch(
            service="lastfm", url=LASTFM, params={"method": method, **params}
        )

    async def get_artist_info(self, artist: str) -> bool:
        return (await self.call_api("artist.getInfo", artist=artist)).ok

    async def get_track_signals(self, artist: str, track: str) -> bool:
        results = [
            await self.call_api(method, artist=artist, track=track)
            for method in (
                "track.getCorrection",
                "track.getInfo",
                "track.getTopTags",
                "track.getSimilar",
            )
        ]
        return all(r.ok for r in results)

    async def batch_get_signals(self, tracks: list[tuple[str, str]]) -> list[bool]:
        return list(await asyncio.gather(*(self.get_track_signals(a, t) for a, t in tracks)))

    async def batch_get_artist_info(self, artists: list[str]) -> list[bool]:
        return list(await asyncio.gather(*(self.get_artist_info(a) for a in artists)))


def test_fifty_concurrent_uncached_lookups_through_nested_helpers_all_finish() -> None:
    latency = 0.02

    async def main(loop: VirtualTimeLoop) -> dict[str, Any]:
        upstream = SlowLastFm(latency)
        tracker = SubrequestTracker(950)
        client = OutboundClient(
            upstream,
            orchestrator=RequestOrchestrator(clock=loop.time),
            subrequests=tracker,
            logger=ServiceLogger("t", sink=lambda line: None),
            clock=loop.time,
        )
        service = LastFmService(client)
        tracks = [(f"Artist {i}", f"Track {i}") for i in range(50)]

        async def analyze() -> tuple[list[bool], list[bool]]:
            signals = await service.batch_get_signals(tracks)
            artists = await service.batch_get_artist_info([a for a, _ in tracks])
            return signals, artists

        signals, artists = await asyncio.wait_for(analyze(), timeout=60)
        return {
            "signals": signals,
            "artists": artists,
            "calls": upstream.calls,
            "peak": upstream.peak,
            "counted": tracker.count,
            "elapsed": loop.time(),
            "held": client.orchestrator.lane("lastfm").in_use,
        }

    result = run_virtual(main)
    assert all(result["signals"]) and len(result["signals"]) == 50
    assert all(result["artists"]) and len(result["artists"]) == 50
    assert result["calls"] == 50 * 4 + 50
    assert result["counted"] == result["calls"]
    assert result["peak"] == 10  # the lastfm lane cap, reached and never exceeded
    assert result["held"] == 0
    # 250 calls, at most 40 in any second counted from each call's response: 7 windows,
    # each a second plus the upstream's latency after the last.
    assert result["elapsed"] == pytest.approx(6 * (1.0 + latency), abs=0.25)


def test_the_upstream_pattern_of_holding_a_slot_around_a_helper_fails_fast() -> None:
    """Wrapping a helper in a slot (what the upstream did) is refused, not a hang."""

    async def main(loop: VirtualTimeLoop) -> list[str | None]:
        client = OutboundClient(
            SlowLastFm(0.01),
            orchestrator=RequestOrchestrator(clock=loop.time),
            logger=ServiceLogger("t", sink=lambda line: None),
            clock=loop.time,
        )
        service = LastFmService(client)

        async def wrapped(artist: str) -> str | None:
            result = await client.orchestrator.execute(
                "lastfm", lambda: service.call_api("artist.getInfo", artist=artist)
            )
            return result.error

        return list(await asyncio.gather(*(wrapped(f"A{i}") for i in range(12))))

    assert run_virtual(main) == ["nested_slot"] * 12
