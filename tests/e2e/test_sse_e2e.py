"""SSE end to end: `tests/apps/sse_app.py` built to a dist and served by the local host
(Pyodide under Node), read over HTTP on 127.0.0.1.

Time stamps inside events come from the worker's `time.time()` (Node's `Date.now()`), the
same wall clock the test reads, so arrival can be compared with production on one machine.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from djbuild.build import build_project
from djbuild.host import LocalHost

ROOT = Path(__file__).resolve().parents[2]
APP = "tests.apps.sse_app:app"


def build_dist(out: Path) -> Path:
    result = build_project(ROOT, out, app=APP)
    assert result.out_dir is not None
    return result.out_dir


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    dist = build_dist(tmp_path_factory.mktemp("sse") / "dist")
    host = LocalHost(dist, port=0, in_memory=True)
    url = host.start()
    try:
        yield url
    finally:
        host.stop()


def events_of(text: str) -> list[tuple[str, Any]]:
    out = []
    for block in text.split("\n\n"):
        for line in block.split("\n"):
            if line.startswith("data: "):
                obj = json.loads(line[6:])
                out.append((obj["type"], obj["data"]))
    return out


class Reader:
    """Reads an SSE response block by block, stamping each block with its arrival time."""

    def __init__(self, response: httpx.Response) -> None:
        self._chunks = response.aiter_raw()
        self._buffer = b""

    async def next_block(self) -> tuple[float, bytes]:
        while b"\n\n" not in self._buffer:
            self._buffer += await self._chunks.__anext__()
        block, _, self._buffer = self._buffer.partition(b"\n\n")
        return time.time(), block

    async def next_event(self) -> tuple[float, str, Any]:
        while True:
            at, block = await self.next_block()
            if block.startswith(b"data: "):
                obj = json.loads(block[6:])
                return at, obj["type"], obj["data"]

    async def rest(self) -> list[tuple[str, Any]]:
        out = []
        while True:
            try:
                _, kind, data = await self.next_event()
            except StopAsyncIteration:
                return out
            out.append((kind, data))


async def run_record(client: httpx.AsyncClient, base_url: str, run: str) -> dict[str, Any]:
    response = await client.get(f"{base_url}/api/sse/runs/{run}")
    assert response.status_code == 200
    return response.json()


async def test_headers_arrive_before_the_first_event_and_each_event_when_sent(
    base_url: str,
) -> None:
    async with (
        httpx.AsyncClient(timeout=20) as client,
        client.stream("GET", f"{base_url}/api/sse/stream?n=6&gap_ms=150&first_ms=500") as r,
    ):
        headers_at = time.time()
        assert r.status_code == 200
        assert r.headers["content-type"] == "text/event-stream"
        assert r.headers["cache-control"] == "no-cache, no-transform"
        assert r.headers["x-accel-buffering"] == "no"
        assert r.headers["content-encoding"] == "identity"
        reader = Reader(r)
        arrivals = [await reader.next_event() for _ in range(6)]
        assert (await reader.next_event())[1:] == ("done", None)
    sent = [data["t"] for _, _, data in arrivals]
    assert headers_at < sent[0]  # the handler had not produced anything yet
    for (arrived, _, _), produced_next in zip(arrivals, sent[1:], strict=False):
        assert arrived < produced_next  # each event arrived before the next one existed
    delays = [round((arrived - data["t"]) * 1000, 1) for arrived, _, data in arrivals]
    print(f"per-event delay ms: {delays}")


async def test_heartbeats_arrive_at_the_configured_interval(base_url: str) -> None:
    beats: list[float] = []
    async with (
        httpx.AsyncClient(timeout=20) as client,
        client.stream("GET", f"{base_url}/api/sse/heartbeat?hold_ms=1100") as r,
    ):
        reader = Reader(r)
        while True:
            try:
                at, block = await reader.next_block()
            except StopAsyncIteration:
                break
            if block == b": heartbeat":
                beats.append(at)
    assert 4 <= len(beats) <= 6
    gaps = [b - a for a, b in itertools.pairwise(beats)]
    assert min(gaps) > 0.12 and max(gaps) < 0.4


async def test_fifty_concurrent_streams_each_get_exactly_their_own_events_in_order(
    base_url: str,
) -> None:
    limits = httpx.Limits(max_connections=60)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:

        async def one(k: int) -> list[tuple[str, Any]]:
            r = await client.get(f"{base_url}/api/sse/stream?n=20&gap_ms=5&tag=s{k}")
            assert r.status_code == 200
            return events_of(r.text)

        results = await asyncio.gather(*(one(k) for k in range(50)))
    for k, events in enumerate(results):
        ticks = [data for kind, data in events if kind == "tick"]
        assert [d["i"] for d in ticks] == list(range(20))
        assert {d["tag"] for d in ticks} == {f"s{k}"}
        assert events[-1] == ("done", None)


async def test_a_slow_reader_holds_the_producer_back_and_still_gets_every_event(
    base_url: str,
) -> None:
    run = uuid.uuid4().hex
    n, pad = 600, 32 * 1024  # ~20 MB: far more than the socket buffers hold
    url = f"{base_url}/api/sse/stream?run={run}&n={n}&pad={pad}"
    async with httpx.AsyncClient(timeout=60) as client:
        async with client.stream("GET", url) as r:
            reader = Reader(r)
            _, kind, first = await reader.next_event()
            assert (kind, first["i"]) == ("tick", 0)
            await asyncio.sleep(0.6)  # stop reading: buffers fill, then the producer must wait
            stalled_at = (await run_record(client, base_url, run))["produced"]
            await asyncio.sleep(0.6)
            still = (await run_record(client, base_url, run))["produced"]
            rest = await reader.rest()
        for _ in range(50):  # cleanup runs just after the body ends: give it a moment
            record = await run_record(client, base_url, run)
            if record["cleanups"]:
                break
            await asyncio.sleep(0.02)
    assert stalled_at == still < n
    ticks = [data["i"] for kind, data in rest if kind == "tick"]
    assert [0, *ticks] == list(range(n))
    assert rest[-1] == ("done", None)
    assert record["produced"] == n and record["cleanups"] == 1
    print(f"producer was held at {stalled_at}/{n} events while the client paused")


async def test_a_client_disconnect_stops_the_producer_and_runs_cleanup_once(
    base_url: str,
) -> None:
    run = uuid.uuid4().hex
    url = f"{base_url}/api/sse/stream?run={run}&n=100000&upstream_ms=20"
    async with httpx.AsyncClient(timeout=20) as client:
        async with client.stream("GET", url) as r:
            reader = Reader(r)
            for _ in range(5):
                await reader.next_event()
            closed_at = time.time()
        await asyncio.sleep(0.5)
        record = await run_record(client, base_url, run)
        await asyncio.sleep(0.3)
        later = await run_record(client, base_url, run)
    assert record["cancelled"] is True
    assert record["cleanups"] == 1
    assert record["calls_after_disconnect"] == 0
    started_after = [t for t in record["upstream_calls"] if t > closed_at]
    assert len(started_after) <= 1  # at most the call racing the close, then nothing
    assert later["upstream_calls"] == record["upstream_calls"]
    assert later["produced"] == record["produced"]


async def test_a_handler_that_raises_sends_error_then_done_and_the_host_keeps_serving(
    base_url: str,
) -> None:
    async with httpx.AsyncClient(timeout=20) as client:
        r = await client.get(f"{base_url}/api/sse/stream?n=4&fail_after=2")
        events = events_of(r.text)
        assert [kind for kind, _ in events] == ["tick", "tick", "error", "done"]
        assert events[2] == ("error", "Internal server error")
        assert "Traceback" not in r.text and "sk-ant" not in r.text
        again = await client.get(f"{base_url}/api/sse/stream?n=2")
        assert [kind for kind, _ in events_of(again.text)] == ["tick", "tick", "done"]
        recover = await client.get(f"{base_url}/api/sse/recover")
        assert [kind for kind, _ in events_of(recover.text)] == ["a", "error", "b", "done"]


async def test_named_framing_reaches_the_client_unchanged(base_url: str) -> None:
    async with httpx.AsyncClient(timeout=20) as client:
        r = await client.get(f"{base_url}/api/sse/player")
    assert r.text.startswith(
        'event: connected\nid: 1\ndata: {"message":"Connected","pollingInterval":1000}\n\n'
    )
    assert r.text.endswith('event: error\ndata: {"message":"Internal server error"}\n\n')
