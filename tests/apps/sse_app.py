"""A small app with SSE routes whose behaviour the tests control through query parameters.

Used by the unit tests (in-process on CPython) and by the end-to-end tests (built to a dist
and served by the local host). Each run names itself with `run=<id>`; what the handler did
(events produced, fake upstream calls, cleanups, cancellation) is kept per run in `RUNS` and
served by `GET /api/sse/runs/{run}`, so a test over HTTP can see inside the worker.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from pydantic import BaseModel, Field

from runtime import App, Context, Router
from runtime.sse import SSE, EventStream, StreamError

RUNS: dict[str, dict[str, Any]] = {}


class StreamQuery(BaseModel):
    run: str = ""
    tag: str = ""
    n: int = Field(default=5, ge=0, le=100_000)
    gap_ms: float = Field(default=0, ge=0)
    first_ms: float = Field(default=0, ge=0)
    pad: int = Field(default=0, ge=0, le=1_000_000)
    fail_after: int = -1
    upstream_ms: float = -1
    nowait: bool = False


class HoldQuery(BaseModel):
    hold_ms: float = Field(default=1000, ge=0, le=60_000)


class RunPath(BaseModel):
    run: str


def _record(run: str) -> dict[str, Any]:
    return RUNS.setdefault(
        run,
        {
            "produced": 0,
            "upstream_calls": [],
            "calls_after_disconnect": 0,
            "cleanups": 0,
            "cancelled": False,
            "disconnected_at": None,
            "ended_at": None,
        },
    )


async def fake_upstream(record: dict[str, Any], stream: EventStream, delay: float) -> None:
    """Stands for an upstream API call: records when it started, then takes `delay` seconds."""
    record["upstream_calls"].append(time.time())
    if stream.disconnected:
        record["calls_after_disconnect"] += 1
    await asyncio.sleep(delay)


sse = Router(tags=["sse"])


@sse.get("/stream", query=StreamQuery, stream=SSE(done=True, heartbeat=0))
async def stream_events(c: Context, stream: EventStream) -> None:
    """`n` `tick` events, `gap_ms` apart, after `first_ms`; optional fake upstream calls and a
    failure after `fail_after` events. Each event carries its index, tag and send time."""
    q = c.query
    record = _record(q.run) if q.run else None
    if record is not None:

        def cleanup() -> None:
            record["cleanups"] += 1
            record["ended_at"] = time.time()
            if stream.disconnected:
                record["disconnected_at"] = record["disconnected_at"] or time.time()

        stream.on_close(cleanup)
    pad = "x" * q.pad
    try:
        if q.first_ms:
            await asyncio.sleep(q.first_ms / 1000)
        for i in range(q.n):
            if i == q.fail_after:
                raise RuntimeError("upstream exploded with key sk-ant-secret123 at depth 3")
            if q.upstream_ms >= 0 and record is not None:
                stream.check()
                await fake_upstream(record, stream, q.upstream_ms / 1000)
            payload = {"i": i, "tag": q.tag, "t": time.time(), "pad": pad}
            if q.nowait:
                stream.send_nowait("tick", payload)
            else:
                await stream.send("tick", payload)
            if record is not None:
                record["produced"] = i + 1
            if q.gap_ms:
                await asyncio.sleep(q.gap_ms / 1000)
        await stream.flush()
    except asyncio.CancelledError:
        if record is not None:
            record["cancelled"] = True
        raise


@sse.get("/heartbeat", query=HoldQuery, stream=SSE(heartbeat=0.2))
async def heartbeat_events(c: Context, stream: EventStream) -> None:
    """`open`, silence for `hold_ms` (heartbeats every 0.2 s), then `bye`."""
    await stream.send("open", {"t": time.time()})
    await asyncio.sleep(c.query.hold_ms / 1000)
    await stream.send("bye", {"t": time.time()})


@sse.get("/recover", stream=SSE(done=True, heartbeat=0))
async def recover_events(c: Context, stream: EventStream) -> None:
    """A recoverable error in the middle: `a`, `error`, `b`, then `done`."""
    await stream.send("a", 1)
    await stream.error("soft failure, carrying on")
    await stream.send("b", 2)


@sse.get("/public-error", stream=SSE(done=True, heartbeat=0))
async def public_error_events(c: Context, stream: EventStream) -> None:
    await stream.send("a", 1)
    raise StreamError("Anthropic API key is not configured")


@sse.get("/player", stream=SSE(framing="named", heartbeat=0))
async def player_events(c: Context, stream: EventStream) -> None:
    """Named events with ids, like the player stream."""
    await stream.send("connected", {"message": "Connected", "pollingInterval": 1000}, id="1")
    await stream.send("tick", {"p": 1200, "ts": 5}, id="2")
    raise RuntimeError("poll failed")


@sse.get("/runs/{run}", path_params=RunPath)
async def run_record(c: Context) -> dict[str, Any]:
    return RUNS.get(c.params.run, {})


app = App(title="SSE test app", version="0.0.1")
app.route("/api/sse", sse)
