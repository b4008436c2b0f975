"""Defects found by reading the runtime (issue 11), each pinned by a test that failed before."""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import BaseModel

from runtime import App, Context, Router, ratelimit
from runtime.http import Headers, Request
from runtime.logging import ServiceLogger
from runtime.outbound import OutboundClient, OutboundRequest, TransportResponse
from runtime.platform.local import LocalPlatform
from runtime.ratelimit import RequestOrchestrator
from runtime.sse import SSE, EventStream
from runtime.testing import Client, MemoryStream, MemoryStreamTransport
from tests.support.virtual_time import VirtualTimeLoop, run_virtual


class Script:
    """Answers each `send` with the next status (the last one repeats)."""

    def __init__(self, *statuses: int, headers: dict[str, str] | None = None) -> None:
        self.statuses = list(statuses)
        self.headers = headers or {}
        self.requests: list[OutboundRequest] = []

    async def send(self, request: OutboundRequest) -> TransportResponse:
        status = self.statuses[min(len(self.requests), len(self.statuses) - 1)]
        self.requests.append(request)
        await asyncio.sleep(0.01)
        return TransportResponse(status, Headers(self.headers), b"{}")


def client(loop: VirtualTimeLoop, transport: Any) -> OutboundClient:
    return OutboundClient(
        transport,
        orchestrator=RequestOrchestrator(clock=loop.time),
        logger=ServiceLogger("outbound", sink=lambda line: None, clock=lambda: 0.0),
        clock=loop.time,
        wall_clock=lambda: 1_700_000_000.0,
        jitter=lambda: 1.0,
    )


# -- retries only for idempotent calls --------------------------------------------------------


def test_a_post_answered_5xx_or_429_is_not_sent_again() -> None:
    async def main(loop: VirtualTimeLoop) -> list[int]:
        counts = []
        for status in (500, 503, 429):
            upstream = Script(status, 200, headers={"Retry-After": "1"})
            result = await client(loop, upstream).fetch(
                service="spotify", url="https://x.test/v1/me/player/queue", method="POST"
            )
            assert not result.ok and result.status == status
            counts.append(len(upstream.requests))
        return counts

    assert run_virtual(main) == [1, 1, 1]


def test_get_and_put_are_still_retried_and_a_post_may_declare_itself_idempotent() -> None:
    async def main(loop: VirtualTimeLoop) -> list[int]:
        counts = []
        for method, idempotent in (("GET", None), ("PUT", None), ("POST", True)):
            upstream = Script(503, 200)
            result = await client(loop, upstream).fetch(
                service="anthropic", url="https://x.test/", method=method, idempotent=idempotent
            )
            assert result.ok
            counts.append(len(upstream.requests))
        return counts

    assert run_virtual(main) == [2, 2, 2]


def test_a_streamed_post_answered_5xx_is_not_opened_again() -> None:
    async def main(loop: VirtualTimeLoop) -> int:
        transport = MemoryStreamTransport(MemoryStream(529), MemoryStream(200, [b"ok"]))
        async with client(loop, transport).stream(
            service="anthropic", url="https://x.test/v1/messages", json={}
        ) as result:
            assert not result.ok and result.status == 529
        return len(transport.requests)

    assert run_virtual(main) == 1


# -- the stream's slot does not leak into the caller's context -------------------------------


def test_code_reading_a_stream_and_the_tasks_it_starts_hold_no_slot() -> None:
    async def main(loop: VirtualTimeLoop) -> tuple[str | None, bool, str | None]:
        transport = MemoryStreamTransport(MemoryStream(200, [b"a", b"b"]))
        transport.send = Script(200).send  # type: ignore[method-assign]
        out = client(loop, transport)
        async with out.stream(service="anthropic", url="https://x.test/", json={}) as result:
            assert result.ok
            seen = ratelimit.holding_slot()
            side = asyncio.create_task(out.fetch(service="deezer", url="https://x.test/t"))
            chunks = [chunk async for chunk in result.iter_bytes()]
            fetched = await side
        assert chunks == [b"a", b"b"]
        return seen, fetched.ok, fetched.error

    assert run_virtual(main) == (None, True, None)


def test_a_slot_is_still_refused_while_one_is_held() -> None:
    async def main(loop: VirtualTimeLoop) -> str:
        orch = RequestOrchestrator(clock=loop.time)
        async with orch.slot("spotify"):
            try:
                async with orch.slot("deezer"):
                    return "nested slot granted"
            except ratelimit.NestedSlotError:
                return "refused"

    assert run_virtual(main) == "refused"


# -- HEAD on a stream route --------------------------------------------------------------------


async def test_head_on_a_stream_route_answers_its_headers_without_running_the_handler() -> None:
    ran: list[str] = []

    async def handler(c: Context, stream: EventStream) -> None:
        ran.append("handler")
        await stream.send("tick", 1)

    router = Router()
    router.add("GET", "/s", handler, stream=SSE(heartbeat=0))
    app = App(title="t", version="0")
    app.route("/api", router)
    platform = LocalPlatform()
    response = await app.handle(Request("HEAD", "http://test/api/s"), {}, platform)
    await platform.drain()
    assert response.status == 200
    assert response.headers.get("content-type") == "text/event-stream"
    assert response.body == b""
    assert ran == []


# -- optional repeated query fields ------------------------------------------------------------


class Filters(BaseModel):
    tag: list[str] | None = None
    ids: list[int] = []
    name: str | None = None


async def test_an_optional_list_query_field_keeps_every_value() -> None:
    router = Router()

    @router.get("/f", query=Filters)
    async def filters(c: Context) -> dict[str, Any]:
        return c.query.model_dump()

    app = App(title="t", version="0")
    app.route("/api", router)
    r = await Client(app).get("/api/f?tag=a&tag=b&tag=c&ids=1&ids=2&name=x&name=y")
    assert r.status == 200
    assert r.json() == {"tag": ["a", "b", "c"], "ids": [1, 2], "name": "x"}


# -- per-request circuit breaker ---------------------------------------------------------------


def test_after_five_failed_attempts_a_service_is_skipped_for_the_rest_of_the_request() -> None:
    async def main(loop: VirtualTimeLoop) -> tuple[list[str | None], int, int, bool]:
        dead, alive = Script(503), Script(200)

        class Router_:
            async def send(self, request: OutboundRequest) -> TransportResponse:
                target = dead if "deezer" in request.url else alive
                return await target.send(request)

        out = client(loop, Router_())
        errors = []
        for n in range(10):
            result = await out.fetch(service="deezer", url=f"https://deezer.test/track/{n}")
            errors.append(result.error)
        other = await out.fetch(service="lastfm", url="https://lastfm.test/")
        return errors, len(dead.requests), len(alive.requests), other.ok

    errors, dead_calls, alive_calls, other_ok = run_virtual(main)
    assert dead_calls == 5  # the first call and its two retries, the second's two attempts
    assert errors == ["http_status"] + ["circuit_open"] * 9
    assert alive_calls == 1 and other_ok  # another service is not affected


def test_a_success_resets_the_count_and_concurrent_waiters_skip_once_it_opens() -> None:
    async def main(loop: VirtualTimeLoop) -> tuple[int, list[str | None]]:
        flaky = Script(503, 200, 503, 200)
        out = client(loop, flaky)
        for _ in range(2):
            assert (await out.fetch(service="deezer", url="https://x.test/")).ok
        dead = Script(500)
        out = client(loop, dead)
        results = await asyncio.gather(
            *(out.fetch(service="deezer", url=f"https://x.test/{n}") for n in range(30))
        )
        return len(dead.requests), [r.error for r in results]

    sent, errors = run_virtual(main)
    assert sent == 10  # the deezer lane's ten in flight; nothing after they failed
    assert errors == ["circuit_open"] * 30
