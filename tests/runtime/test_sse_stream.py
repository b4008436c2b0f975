"""SSE streaming on CPython: response first, one ordered write queue, backpressure,
heartbeats, disconnects, errors. Driven through the App with the local platform, whose pipe
is a bounded queue and whose `cancel()` is a client disconnect."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest

from runtime import App, Context, HTTPError, Request, Response, Router
from runtime.platform.local import LocalAbortSignal, LocalPipe, LocalPlatform
from runtime.sse import SSE, ClientDisconnected, EventStream, StreamClosed
from runtime.testing import Client
from tests.apps import sse_app

# -- helpers ------------------------------------------------------------------------------------


def parse(body: bytes) -> list[dict[str, Any]]:
    """Blocks of an SSE body: {'event', 'id', 'data' (joined), 'comment'}."""
    blocks = []
    for raw in body.decode().split("\n\n"):
        if not raw:
            continue
        block: dict[str, Any] = {}
        data: list[str] = []
        for line in raw.split("\n"):
            if line.startswith(":"):
                block["comment"] = line[2:]
                continue
            name, _, value = line.partition(": ")
            if name == "data":
                data.append(value)
            else:
                block[name] = value
        if data:
            block["data"] = "\n".join(data)
        blocks.append(block)
    return blocks


def typed(body: bytes) -> list[tuple[str, Any]]:
    """(type, data) of each data-only JSON event, heartbeats left out."""
    out = []
    for block in parse(body):
        if "data" in block:
            obj = json.loads(block["data"])
            out.append((obj["type"], obj["data"]))
    return out


def make_app(
    handler: Callable[..., Any], *, logger_records: list[dict[str, Any]] | None = None, **opts: Any
) -> App:
    router = Router()
    opts.setdefault("heartbeat", 0)
    router.add("GET", "/s", handler, stream=SSE(**opts))
    app = App(title="t", version="0")
    app.route("/api", router)
    if logger_records is not None:
        app.logger.listeners.append(logger_records.append)
    return app


async def open_stream(
    app: App, platform: LocalPlatform, path: str = "/api/s", raw: Any = None
) -> tuple[Response, LocalPipe]:
    response = await app.handle(Request("GET", "http://test" + path, raw=raw), {}, platform)
    assert isinstance(response.body, LocalPipe)
    return response, response.body


async def read_all(pipe: LocalPipe) -> bytes:
    return b"".join([chunk async for chunk in pipe])


async def read_events(pipe: LocalPipe, count: int) -> list[bytes]:
    chunks: list[bytes] = []
    it = pipe.__aiter__()
    while len(chunks) < count:
        chunk = await asyncio.wait_for(it.__anext__(), 2)
        if not chunk.startswith(b":"):
            chunks.append(chunk)
    return chunks


# -- the response -------------------------------------------------------------------------------


async def test_response_returns_with_sse_headers_before_the_handler_runs() -> None:
    started = asyncio.Event()

    async def handler(c: Context, stream: EventStream) -> None:
        started.set()
        await stream.send("hello", 1)

    platform = LocalPlatform()
    response, pipe = await open_stream(make_app(handler), platform)
    assert not started.is_set()
    assert response.status == 200
    headers = {k.lower(): v for k, v in response.headers}
    assert headers["content-type"] == "text/event-stream"
    assert headers["cache-control"] == "no-cache, no-transform"
    assert headers["x-accel-buffering"] == "no"
    assert headers["content-encoding"] == "identity"
    assert typed(await read_all(pipe)) == [("hello", 1)]
    await platform.drain()


async def test_each_event_reaches_the_pipe_when_sent_not_when_the_handler_ends() -> None:
    release = asyncio.Event()

    async def handler(c: Context, stream: EventStream) -> None:
        await stream.send("first", 1)
        await release.wait()
        await stream.send("second", 2)

    platform = LocalPlatform()
    _, pipe = await open_stream(make_app(handler), platform)
    first = await read_events(pipe, 1)
    assert typed(first[0]) == [("first", 1)]
    release.set()
    assert typed(await read_all(pipe)) == [("second", 2)]
    await platform.drain()


async def test_handler_sees_validated_inputs_and_stream_routes_go_through_the_test_client() -> None:
    result = await Client(sse_app.app).get("/api/sse/stream?n=3&tag=abc")
    events = typed(result.body)
    assert [t for t, _ in events] == ["tick", "tick", "tick", "done"]
    assert [d["i"] for _, d in events[:3]] == [0, 1, 2]
    assert {d["tag"] for _, d in events[:3]} == {"abc"}
    assert events[-1] == ("done", None)


async def test_invalid_query_is_rejected_before_any_stream_opens() -> None:
    result = await Client(sse_app.app).get("/api/sse/stream?n=-1")
    assert result.status == 400
    assert result.headers.get("content-type") == "application/json"


async def test_named_framing_route_sends_event_and_id_lines() -> None:
    result = await Client(sse_app.app).get("/api/sse/player")
    blocks = parse(result.body)
    assert blocks[0] == {
        "event": "connected",
        "id": "1",
        "data": '{"message":"Connected","pollingInterval":1000}',
    }
    assert blocks[1]["event"] == "tick"
    assert blocks[-1] == {"event": "error", "data": '{"message":"Internal server error"}'}


# -- ordering -----------------------------------------------------------------------------------


class CheckingWriter:
    """A pipe writer that fails the test if two writes ever overlap; records every chunk."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.in_flight = 0
        self.overlaps = 0
        self.closed = False

    async def write(self, chunk: bytes) -> None:
        self.in_flight += 1
        if self.in_flight > 1:
            self.overlaps += 1
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        self.chunks.append(chunk)
        self.in_flight -= 1

    async def close(self) -> None:
        self.closed = True

    async def abort(self, reason: str = "") -> None:
        self.closed = True

    @property
    def desired_size(self) -> int | None:
        return 1


async def test_many_coroutines_sending_never_overlap_writes_and_each_keeps_its_order() -> None:
    writer = CheckingWriter()
    stream = EventStream(writer, heartbeat=0.001)

    async def producer(k: int, s: EventStream) -> None:
        for i in range(40):
            if i % 3 == 0:
                s.send_nowait("e", [k, i])
            else:
                await s.send("e", [k, i])

    async def handler(s: EventStream) -> None:
        await asyncio.gather(*(producer(k, s) for k in range(25)))

    await stream.run(handler)
    assert writer.overlaps == 0
    assert writer.closed
    events = [(t, d) for t, d in typed(b"".join(writer.chunks))]
    assert len(events) == 25 * 40
    for k in range(25):
        assert [d[1] for _, d in events if d[0] == k] == list(range(40))


async def test_send_nowait_and_awaited_sends_arrive_in_call_order() -> None:
    async def handler(c: Context, stream: EventStream) -> None:
        stream.send_nowait("a", 1)
        stream.send_nowait("b", 2)
        await stream.send("c", 3)
        stream.send_nowait("d", 4)
        await stream.comment("note")
        stream.send_nowait("e", 5)

    result = await Client(make_app(handler)).get("/api/s")
    assert [t for t, _ in typed(result.body)] == ["a", "b", "c", "d", "e"]
    assert parse(result.body)[4] == {"comment": "note"}


async def test_flush_waits_until_queued_events_are_in_the_pipe() -> None:
    seen: list[int] = []

    async def handler(c: Context, stream: EventStream) -> None:
        for i in range(5):
            stream.send_nowait("e", i)
        assert await stream.flush()
        pipe = stream_pipe[0]
        seen.append(pipe.writes)

    stream_pipe: list[LocalPipe] = []
    platform = LocalPlatform()
    _, pipe = await open_stream(make_app(handler), platform)
    stream_pipe.append(pipe)
    body = await read_all(pipe)
    await platform.drain()
    assert seen == [5]
    assert len(typed(body)) == 5


async def test_concurrent_requests_each_receive_only_their_own_events_in_order() -> None:
    client = Client(sse_app.app)
    results = await asyncio.gather(
        *(client.get(f"/api/sse/stream?n=20&tag=r{k}&gap_ms=1") for k in range(50))
    )
    for k, result in enumerate(results):
        events = typed(result.body)
        ticks = [d for t, d in events if t == "tick"]
        assert [d["i"] for d in ticks] == list(range(20))
        assert {d["tag"] for d in ticks} == {f"r{k}"}
        assert events[-1] == ("done", None)


# -- backpressure -------------------------------------------------------------------------------


async def test_slow_reader_holds_the_producer_back_at_the_high_water_mark() -> None:
    produced: list[int] = []

    async def handler(c: Context, stream: EventStream) -> None:
        for i in range(100):
            await stream.send("e", i)
            produced.append(i)

    platform = LocalPlatform()
    _, pipe = await open_stream(make_app(handler), platform)
    await asyncio.sleep(0.05)  # the reader has not started: the producer must be stuck
    assert pipe.queue.qsize() == 10
    assert len(produced) <= 10
    received: list[int] = []
    ahead: list[int] = []
    async for chunk in pipe:
        received.extend(d for _, d in typed(chunk))
        ahead.append(len(produced) - len(received))
        await asyncio.sleep(0.001)
    await platform.drain()
    assert received == list(range(100))
    assert pipe.peak_pending == 10
    assert max(ahead) <= 10


async def test_high_water_mark_is_a_route_option() -> None:
    async def handler(c: Context, stream: EventStream) -> None:
        for i in range(20):
            await stream.send("e", i)

    platform = LocalPlatform()
    _, pipe = await open_stream(make_app(handler, high_water_mark=3), platform)
    await asyncio.sleep(0.02)
    assert pipe.queue.qsize() == 3
    assert len(typed(await read_all(pipe))) == 20
    assert pipe.peak_pending == 3
    await platform.drain()


# -- heartbeats ---------------------------------------------------------------------------------


async def test_heartbeats_come_at_the_configured_interval_while_open_and_stop_at_close() -> None:
    stream_ref: list[EventStream] = []

    async def handler(c: Context, stream: EventStream) -> None:
        stream_ref.append(stream)
        await stream.send("open", None)
        await asyncio.sleep(0.33)
        await stream.send("bye", None)

    platform = LocalPlatform()
    _, pipe = await open_stream(make_app(handler, heartbeat=0.05), platform)
    stamps: list[tuple[float, bytes]] = []
    async for chunk in pipe:
        stamps.append((time.monotonic(), chunk))
    await platform.drain()
    beats = [t for t, chunk in stamps if chunk == b": heartbeat\n\n"]
    assert 4 <= len(beats) <= 7
    gaps = [b - a for a, b in itertools.pairwise(beats)]
    assert min(gaps) >= 0.035
    assert stamps[-1][1].startswith(b"data:")  # nothing after the last event
    sent = stream_ref[0].heartbeats_sent
    await asyncio.sleep(0.12)
    assert stream_ref[0].heartbeats_sent == sent
    assert stream_ref[0]._heartbeat_task is not None and stream_ref[0]._heartbeat_task.done()


async def test_heartbeat_interval_falls_back_to_the_environment_variable() -> None:
    async def handler(c: Context, stream: EventStream) -> None:
        await asyncio.sleep(0.13)

    router = Router()
    router.add("GET", "/s", handler, stream="sse")
    app = App(title="t", version="0")
    app.route("/api", router)
    result = await Client(app, env={"SSE_HEARTBEAT_SECONDS": "0.04"}).get("/api/s")
    assert 2 <= result.body.count(b": heartbeat\n\n") <= 4


async def test_no_heartbeat_when_the_interval_is_zero() -> None:
    async def handler(c: Context, stream: EventStream) -> None:
        await asyncio.sleep(0.05)
        await stream.send("x", 1)

    result = await Client(make_app(handler, heartbeat=0)).get("/api/s")
    assert b"heartbeat" not in result.body


async def test_declaring_stream_routes_starts_no_task_or_timer() -> None:
    before = asyncio.all_tasks()
    loop = asyncio.get_running_loop()
    timers = len(loop._scheduled)  # type: ignore[attr-defined]
    make_app(lambda c, s: asyncio.sleep(0), heartbeat=0.01)
    assert asyncio.all_tasks() == before
    assert len(loop._scheduled) == timers  # type: ignore[attr-defined]


# -- disconnects --------------------------------------------------------------------------------


class Upstream:
    def __init__(self) -> None:
        self.calls: list[float] = []

    async def call(self) -> None:
        self.calls.append(time.monotonic())
        await asyncio.sleep(0.002)


async def test_disconnect_mid_stream_cancels_the_handler_and_starts_no_upstream_call() -> None:
    upstream = Upstream()
    cleanups: list[str] = []
    cancelled = asyncio.Event()

    async def handler(c: Context, stream: EventStream) -> None:
        stream.on_close(lambda: cleanups.append("sync"))
        try:
            for i in range(10_000):
                stream.check()
                await upstream.call()
                await stream.send("chunk", i)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    platform = LocalPlatform()
    _, pipe = await open_stream(make_app(handler, done=True), platform)
    await read_events(pipe, 3)
    pipe.cancel()
    disconnected_at = time.monotonic()
    await asyncio.wait_for(platform.drain(), 2)
    assert cancelled.is_set()
    assert cleanups == ["sync"]
    assert [t for t in upstream.calls if t > disconnected_at] == []
    calls = len(upstream.calls)
    await asyncio.sleep(0.02)
    assert len(upstream.calls) == calls


async def test_disconnect_while_waiting_on_upstream_cancels_that_call_at_once() -> None:
    upstream_cancelled = asyncio.Event()

    async def slow_upstream() -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            upstream_cancelled.set()
            raise

    async def handler(c: Context, stream: EventStream) -> None:
        await stream.send("thinking", "Analyzing your request...")
        await slow_upstream()
        await stream.send("content", "never")

    platform = LocalPlatform()
    _, pipe = await open_stream(make_app(handler), platform)
    await read_events(pipe, 1)
    pipe.cancel()
    await asyncio.wait_for(platform.drain(), 1)
    assert upstream_cancelled.is_set()


class FailingWriter(CheckingWriter):
    """Accepts `ok` writes, then fails like a JS writer whose reader cancelled."""

    def __init__(self, ok: int) -> None:
        super().__init__()
        self.ok = ok
        self.aborted = False

    async def write(self, chunk: bytes) -> None:
        if len(self.chunks) >= self.ok:
            raise ConnectionError("stream write failed: reader cancelled")
        await super().write(chunk)

    async def abort(self, reason: str = "") -> None:
        self.aborted = True


async def test_a_failing_heartbeat_write_is_a_disconnect_even_when_the_handler_is_idle() -> None:
    writer = FailingWriter(ok=1)
    stream = EventStream(writer, heartbeat=0.02)
    cleanups: list[int] = []
    stream.on_close(lambda: cleanups.append(1))

    async def handler(s: EventStream) -> None:
        await s.send("first", 1)
        await asyncio.sleep(30)

    await asyncio.wait_for(stream.run(handler), 1)
    assert stream.disconnected
    assert writer.aborted
    assert cleanups == [1]


async def test_writes_after_a_disconnect_return_false_and_never_raise() -> None:
    writer = FailingWriter(ok=0)
    stream = EventStream(writer, heartbeat=0)
    results: list[Any] = []

    async def background(s: EventStream) -> None:
        # Not the handler's task, so nobody cancels it: it must see False, not an exception.
        results.append(await s.send("a", 1))
        results.append(s.send_nowait("b", 2))
        results.append(await s.send("c", 3))
        results.append(await s.flush())
        try:
            s.check()
        except ClientDisconnected as exc:
            results.append(type(exc).__name__)

    async def handler(s: EventStream) -> None:
        await asyncio.sleep(30)

    task = asyncio.ensure_future(background(stream))
    await asyncio.wait_for(stream.run(handler), 1)
    await task
    assert results == [False, False, False, False, "ClientDisconnected"]


async def test_abort_signal_cancels_the_handler_and_its_listener_is_removed() -> None:
    signal = LocalAbortSignal()
    cancelled = asyncio.Event()

    async def handler(c: Context, stream: EventStream) -> None:
        await stream.send("a", 1)
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    platform = LocalPlatform()
    _, pipe = await open_stream(make_app(handler), platform, raw=SimpleNamespace(signal=signal))
    await read_events(pipe, 1)
    assert signal.listener_count == 1
    signal.abort()
    await asyncio.wait_for(platform.drain(), 1)
    assert cancelled.is_set()
    assert signal.listener_count == 0
    assert pipe.cancelled  # the writer was aborted: the reader sees the stream end


async def test_abort_listener_is_removed_after_a_normal_end_too() -> None:
    signal = LocalAbortSignal()

    async def handler(c: Context, stream: EventStream) -> None:
        await stream.send("a", 1)

    platform = LocalPlatform()
    _, pipe = await open_stream(make_app(handler), platform, raw=SimpleNamespace(signal=signal))
    await read_all(pipe)
    await platform.drain()
    assert signal.listener_count == 0
    signal.abort()  # after the end: nothing left to notify


async def test_cleanup_hooks_run_once_newest_first_sync_and_async_and_never_raise() -> None:
    order: list[str] = []
    records: list[dict[str, Any]] = []

    async def async_hook() -> None:
        await asyncio.sleep(0)
        order.append("async")

    def broken_hook() -> None:
        order.append("broken")
        raise RuntimeError("hook failed")

    async def handler(c: Context, stream: EventStream) -> None:
        stream.on_close(lambda: order.append("first"))
        stream.on_close(broken_hook)
        stream.on_close(async_hook)
        await stream.send("a", 1)
        await stream.close()
        await stream.close()

    platform = LocalPlatform()
    _, pipe = await open_stream(make_app(handler, logger_records=records), platform)
    await read_all(pipe)
    await platform.drain()
    assert order == ["async", "broken", "first"]
    assert any(r["msg"] == "stream close hook failed" for r in records)


async def test_cleanup_runs_once_when_a_disconnect_races_the_handler_ending() -> None:
    count: list[int] = []

    async def handler(c: Context, stream: EventStream) -> None:
        stream.on_close(lambda: count.append(1))
        for i in range(30):
            stream.send_nowait("e", i)

    platform = LocalPlatform()
    _, pipe = await open_stream(make_app(handler, done=True), platform)
    await read_events(pipe, 2)
    pipe.cancel()
    await asyncio.wait_for(platform.drain(), 1)
    assert count == [1]


async def test_check_raises_stream_closed_after_a_normal_close() -> None:
    outcome: list[str] = []

    async def handler(c: Context, stream: EventStream) -> None:
        await stream.close()
        assert await stream.send("late", 1) is False
        try:
            stream.check()
        except ClientDisconnected:
            outcome.append("disconnected")
        except StreamClosed:
            outcome.append("closed")

    client = Client(make_app(handler))
    result = await client.get("/api/s")
    await client.platform.drain()
    assert outcome == ["closed"]
    assert result.body == b""


# -- errors -------------------------------------------------------------------------------------


async def test_recoverable_error_is_an_event_and_the_stream_goes_on() -> None:
    result = await Client(sse_app.app).get("/api/sse/recover")
    assert typed(result.body) == [
        ("a", 1),
        ("error", "soft failure, carrying on"),
        ("b", 2),
        ("done", None),
    ]


async def test_handler_exception_sends_error_then_done_and_keeps_the_trace_server_side() -> None:
    records: list[dict[str, Any]] = []
    sse_app.app.logger.listeners.append(records.append)
    try:
        client = Client(sse_app.app)
        result = await client.get("/api/sse/stream?n=5&fail_after=2")
        after = await client.get("/api/sse/stream?n=1")
    finally:
        sse_app.app.logger.listeners.remove(records.append)
    events = typed(result.body)
    assert events == [
        ("tick", events[0][1]),
        ("tick", events[1][1]),
        ("error", "Internal server error"),
        ("done", None),
    ]
    assert b"Traceback" not in result.body and b"sk-ant" not in result.body
    assert b"exploded" not in result.body
    failure = [r for r in records if r["msg"] == "stream handler failed"]
    assert len(failure) == 1
    assert "Traceback" in failure[0]["fields"]["trace"]
    assert "sk-ant-secret123" not in json.dumps(failure[0])  # redacted in the log too
    assert [t for t, _ in typed(after.body)] == ["tick", "done"]  # still serving


async def test_stream_error_message_is_sent_as_is() -> None:
    result = await Client(sse_app.app).get("/api/sse/public-error")
    assert typed(result.body) == [
        ("a", 1),
        ("error", "Anthropic API key is not configured"),
        ("done", None),
    ]


async def test_http_error_raised_inside_a_stream_sends_its_message() -> None:
    async def handler(c: Context, stream: EventStream) -> None:
        raise HTTPError(401, "Unauthorized - Missing or invalid Authorization header")

    result = await Client(make_app(handler, done=True)).get("/api/s")
    assert result.status == 200
    assert typed(result.body) == [
        ("error", "Unauthorized - Missing or invalid Authorization header"),
        ("done", None),
    ]


async def test_expose_errors_sends_the_redacted_exception_message() -> None:
    async def handler(c: Context, stream: EventStream) -> None:
        raise RuntimeError("Claude API failed: bad key sk-ant-abc123")

    result = await Client(make_app(handler, expose_errors=True)).get("/api/s")
    assert typed(result.body) == [("error", "Claude API failed: bad key [redacted]")]


async def test_without_sse_done_a_fatal_error_ends_with_the_error_event() -> None:
    async def handler(c: Context, stream: EventStream) -> None:
        await stream.send("a", 1)
        raise ValueError("x")

    result = await Client(make_app(handler)).get("/api/s")
    assert typed(result.body) == [("a", 1), ("error", "Internal server error")]


async def test_done_is_last_even_when_the_handler_closes_the_stream_itself() -> None:
    async def handler(c: Context, stream: EventStream) -> None:
        await stream.send("a", 1)
        stream.send_nowait("b", 2)
        await stream.close()
        stream.send_nowait("c", 3)

    result = await Client(make_app(handler, done=True)).get("/api/s")
    assert typed(result.body) == [("a", 1), ("b", 2), ("done", None)]


async def test_disconnect_sends_no_error_event_and_logs_no_failure() -> None:
    records: list[dict[str, Any]] = []

    async def handler(c: Context, stream: EventStream) -> None:
        await stream.send("a", 1)
        stream.check()
        await asyncio.sleep(30)

    platform = LocalPlatform()
    app = make_app(handler, done=True, logger_records=records)
    _, pipe = await open_stream(app, platform)
    await read_events(pipe, 1)
    pipe.cancel()
    await asyncio.wait_for(platform.drain(), 1)
    assert not [r for r in records if r["level"] == "error"]
    assert any(r["msg"] == "sse client disconnected" for r in records)


async def test_handler_raising_client_disconnected_from_check_ends_quietly() -> None:
    records: list[dict[str, Any]] = []
    writer = FailingWriter(ok=1)
    stream = EventStream(writer, heartbeat=0, done=True)

    async def handler(s: EventStream) -> None:
        await s.send("a", 1)
        await s.send("b", 2)  # fails: disconnect
        s.check()

    stream._log.listeners.append(records.append)
    await stream.run(handler)
    assert not [r for r in records if r["level"] == "error"]


@pytest.mark.parametrize("framing", ["json", "named"])
async def test_recoverable_error_payload_follows_the_framing(framing: str) -> None:
    async def handler(c: Context, stream: EventStream) -> None:
        await stream.error("Too many errors, closing stream")

    result = await Client(make_app(handler, framing=framing)).get("/api/s")
    block = parse(result.body)[0]
    if framing == "named":
        assert block == {"event": "error", "data": '{"message":"Too many errors, closing stream"}'}
    else:
        assert json.loads(block["data"]) == {
            "data": "Too many errors, closing stream",
            "type": "error",
        }
