"""The outbound helper: budget, lanes, timeout, retries, parsing, logging, redaction."""

from __future__ import annotations

import asyncio
import json
from typing import Any, TypeVar

import pytest
from pydantic import BaseModel

from runtime import budget, outbound
from runtime.budget import SubrequestTracker
from runtime.context import Context, Env, bind, unbind
from runtime.http import Headers, Request
from runtime.logging import ServiceLogger
from runtime.outbound import (
    FetchResult,
    OutboundClient,
    OutboundError,
    OutboundRequest,
    TransportError,
    TransportResponse,
    parse_retry_after,
    safe_url,
)
from runtime.platform.local import LocalPlatform
from runtime.ratelimit import RequestOrchestrator
from tests.support.virtual_time import VirtualTimeLoop, run_virtual

T = TypeVar("T")


# -- fakes ---------------------------------------------------------------------------------

Reply = TransportResponse | BaseException


def reply(status: int = 200, body: Any = b"", headers: dict[str, str] | None = None) -> Reply:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return TransportResponse(status, Headers(headers or {}), raw)


class FakeUpstream:
    """Answers from a script (one reply per attempt, last one repeats) after `latency` s."""

    def __init__(self, *replies: Reply, latency: float = 0.01) -> None:
        self.replies = list(replies) or [reply(200, {})]
        self.latency = latency
        self.requests: list[OutboundRequest] = []
        self.cancelled = 0
        self.in_flight = 0
        self.peak = 0

    async def send(self, request: OutboundRequest) -> TransportResponse:
        index = min(len(self.requests), len(self.replies) - 1)
        self.requests.append(request)
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await asyncio.sleep(self.latency)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        finally:
            self.in_flight -= 1
        answer = self.replies[index]
        if isinstance(answer, BaseException):
            raise answer
        return answer


def make_client(
    loop: VirtualTimeLoop,
    upstream: Any,
    *,
    lines: list[str] | None = None,
    tracker: SubrequestTracker | None = None,
) -> OutboundClient:
    sink = lines.append if lines is not None else (lambda line: None)
    return OutboundClient(
        upstream,
        orchestrator=RequestOrchestrator(clock=loop.time),
        subrequests=tracker,
        logger=ServiceLogger("outbound", sink=sink, clock=lambda: 0.0),
        clock=loop.time,
        wall_clock=lambda: 1_700_000_000.0,
        jitter=lambda: 1.0,
    )


class DeezerTrack(BaseModel):
    id: int
    bpm: float | None = None


# -- success and parsing -------------------------------------------------------------------


def test_json_is_parsed_into_the_requested_model() -> None:
    async def main(loop: VirtualTimeLoop) -> FetchResult[Any]:
        upstream = FakeUpstream(reply(200, {"id": 3135556, "bpm": 123.4, "extra": "x"}))
        client = make_client(loop, upstream)
        return await client.fetch(
            service="deezer", url="https://api.deezer.com/track/3135556", model=DeezerTrack
        )

    result = run_virtual(main)
    assert result.ok and result.status == 200
    assert result.data == DeezerTrack(id=3135556, bpm=123.4)
    assert result.attempts == 1
    assert result.json()["extra"] == "x"


def test_a_200_error_body_is_a_failure_value_not_an_exception() -> None:
    async def main(loop: VirtualTimeLoop) -> FetchResult[Any]:
        body = {"error": {"type": "DataException", "message": "no data", "code": 800}}
        client = make_client(loop, FakeUpstream(reply(200, body)))
        return await client.fetch(
            service="deezer", url="https://api.deezer.com/track/isrc:X", model=DeezerTrack
        )

    result = run_virtual(main)
    assert not result.ok
    assert result.error == "invalid_response"
    assert result.status == 200
    assert result.data is None
    with pytest.raises(OutboundError, match="invalid_response"):
        result.raise_for_error()


def test_body_that_is_not_json_is_reported_as_invalid_json() -> None:
    async def main(loop: VirtualTimeLoop) -> FetchResult[Any]:
        client = make_client(loop, FakeUpstream(reply(200, b"<html>oops</html>")))
        return await client.fetch(service="deezer", url="https://x.test/", model=DeezerTrack)

    assert run_virtual(main).error == "invalid_json"


def test_json_argument_is_sent_as_a_json_body_and_params_join_the_url() -> None:
    async def main(loop: VirtualTimeLoop) -> OutboundRequest:
        upstream = FakeUpstream(reply(200, {}))
        client = make_client(loop, upstream)
        await client.fetch(
            service="lastfm",
            url="https://ws.audioscrobbler.com/2.0/",
            method="post",
            params={"method": "track.getInfo", "artist": "Sigur Rós", "autocorrect": True},
            json=DeezerTrack(id=1),
        )
        return upstream.requests[0]

    sent = run_virtual(main)
    assert sent.method == "POST"
    assert sent.url == (
        "https://ws.audioscrobbler.com/2.0/?method=track.getInfo&artist=Sigur+R%C3%B3s"
        "&autocorrect=true"
    )
    assert sent.headers["Content-Type"] == "application/json"
    assert json.loads(sent.body or b"") == {"id": 1}


# -- retries -------------------------------------------------------------------------------


def test_5xx_is_retried_with_backoff_and_every_attempt_counts_against_the_budget() -> None:
    async def main(loop: VirtualTimeLoop) -> tuple[FetchResult[Any], int, float]:
        tracker = SubrequestTracker(950)
        upstream = FakeUpstream(reply(503), reply(502), reply(200, {"id": 1}))
        client = make_client(loop, upstream, tracker=tracker)
        result = await client.fetch(service="deezer", url="https://x.test/t", model=DeezerTrack)
        return result, tracker.count, loop.time()

    result, counted, elapsed = run_virtual(main)
    assert result.ok and result.attempts == 3
    assert counted == 3
    # Backoff 0.25 s then 0.5 s (jitter pinned to full), plus 3 × 10 ms latency.
    assert elapsed == pytest.approx(0.25 + 0.5 + 0.03)


def test_429_waits_as_long_as_retry_after_says() -> None:
    async def main(loop: VirtualTimeLoop) -> tuple[FetchResult[Any], float]:
        upstream = FakeUpstream(reply(429, b"", {"Retry-After": "3"}), reply(200, {"id": 2}))
        client = make_client(loop, upstream)
        result = await client.fetch(service="spotify", url="https://api.spotify.test/v1/me")
        return result, loop.time()

    result, elapsed = run_virtual(main)
    assert result.ok and result.attempts == 2
    assert elapsed == pytest.approx(3.0 + 0.02)


def test_a_retry_after_beyond_the_cap_is_returned_as_a_failure_at_once() -> None:
    async def main(loop: VirtualTimeLoop) -> tuple[FetchResult[Any], int]:
        upstream = FakeUpstream(reply(429, b"slow down", {"Retry-After": "3600"}))
        client = make_client(loop, upstream)
        result = await client.fetch(service="spotify", url="https://api.spotify.test/v1/me")
        return result, len(upstream.requests)

    result, sent = run_virtual(main)
    assert not result.ok and result.status == 429 and result.error == "http_status"
    assert sent == 1
    assert result.text == "slow down"


def test_4xx_other_than_429_is_not_retried() -> None:
    async def main(loop: VirtualTimeLoop) -> tuple[FetchResult[Any], int]:
        upstream = FakeUpstream(reply(404, {"error": "nope"}))
        client = make_client(loop, upstream)
        result = await client.fetch(service="deezer", url="https://x.test/missing")
        return result, len(upstream.requests)

    result, sent = run_virtual(main)
    assert (result.ok, result.status, sent) == (False, 404, 1)


def test_network_errors_are_retried_for_get_but_not_for_post() -> None:
    async def main(loop: VirtualTimeLoop) -> tuple[int, int, str | None]:
        get_up = FakeUpstream(TransportError("connection reset"), reply(200, {}))
        post_up = FakeUpstream(TransportError("connection reset"), reply(200, {}))
        got = await make_client(loop, get_up).fetch(service="deezer", url="https://x.test/")
        posted = await make_client(loop, post_up).fetch(
            service="anthropic", url="https://x.test/v1/messages", method="POST", json={}
        )
        assert got.ok
        return len(get_up.requests), len(post_up.requests), posted.error

    assert run_virtual(main) == (2, 1, "network")


def test_the_lane_slot_is_not_held_while_backing_off() -> None:
    async def main(loop: VirtualTimeLoop) -> list[int]:
        upstream = FakeUpstream(reply(503), reply(200, {}))
        client = make_client(loop, upstream)
        seen: list[int] = []

        async def watch() -> None:
            await asyncio.sleep(0.1)  # inside the 0.25 s backoff
            seen.append(client.orchestrator.lane("anthropic").in_use)

        await asyncio.gather(
            client.fetch(service="anthropic", url="https://x.test/", method="GET"), watch()
        )
        seen.append(client.orchestrator.lane("anthropic").in_use)
        return seen

    assert run_virtual(main) == [0, 0]


# -- timeout -------------------------------------------------------------------------------


def test_a_timeout_aborts_the_attempt_and_reports_timeout() -> None:
    async def main(loop: VirtualTimeLoop) -> tuple[FetchResult[Any], int, float, int]:
        upstream = FakeUpstream(reply(200, {}), latency=30.0)
        client = make_client(loop, upstream)
        result = await client.fetch(
            service="anthropic",
            url="https://x.test/v1/messages",
            method="POST",
            json={"x": 1},
            timeout=2.0,
        )
        return result, upstream.cancelled, loop.time(), client.orchestrator.lane("anthropic").in_use

    result, cancelled, elapsed, in_use = run_virtual(main)
    assert not result.ok and result.error == "timeout"
    assert cancelled == 1  # the transport saw the cancellation (JS: AbortController.abort())
    assert elapsed == pytest.approx(2.0)
    assert in_use == 0


def test_a_cancelled_caller_cancels_the_request_and_frees_the_slot() -> None:
    async def main(loop: VirtualTimeLoop) -> tuple[int, int, int]:
        upstream = FakeUpstream(reply(200, {}), latency=30.0)
        client = make_client(loop, upstream)
        task = asyncio.create_task(client.fetch(service="spotify", url="https://x.test/"))
        await asyncio.sleep(1.0)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return upstream.cancelled, upstream.in_flight, client.orchestrator.lane("spotify").in_use

    assert run_virtual(main) == (1, 0, 0)


# -- budget --------------------------------------------------------------------------------


def test_no_request_is_sent_once_the_subrequest_budget_is_spent() -> None:
    async def main(loop: VirtualTimeLoop) -> tuple[list[str | None], int, int]:
        tracker = SubrequestTracker(2)
        upstream = FakeUpstream(reply(200, {}))
        client = make_client(loop, upstream, tracker=tracker)
        errors = [
            (await client.fetch(service="deezer", url=f"https://x.test/{i}")).error
            for i in range(3)
        ]
        return errors, len(upstream.requests), tracker.refused

    errors, sent, refused = run_virtual(main)
    assert errors == [None, None, "budget_exhausted"]
    assert sent == 2
    assert refused == 1


def test_retries_stop_when_the_budget_runs_out_mid_call() -> None:
    async def main(loop: VirtualTimeLoop) -> tuple[str | None, int, int]:
        tracker = SubrequestTracker(2)
        upstream = FakeUpstream(reply(503))
        client = make_client(loop, upstream, tracker=tracker)
        result = await client.fetch(service="deezer", url="https://x.test/", retries=5)
        return result.error, result.attempts, len(upstream.requests)

    assert run_virtual(main) == ("budget_exhausted", 2, 2)


# -- logging -------------------------------------------------------------------------------


def test_each_attempt_is_logged_without_secrets() -> None:
    async def main(loop: VirtualTimeLoop) -> list[dict[str, Any]]:
        lines: list[str] = []
        upstream = FakeUpstream(reply(500), reply(200, {}))
        client = make_client(loop, upstream, lines=lines)
        await client.fetch(
            service="lastfm",
            url="https://ws.audioscrobbler.com/2.0/?method=track.getInfo&api_key=SEKRET123",
            headers={"Authorization": "Bearer TOKEN456"},
            params={"artist": "Queen"},
        )
        return [json.loads(line) for line in lines]

    records = run_virtual(main)
    assert len(records) == 2
    text = json.dumps(records)
    assert "SEKRET123" not in text and "TOKEN456" not in text
    first, second = (r["fields"] for r in records)
    assert first["status"] == 500 and second["status"] == 200
    assert first["attempt"] == 1 and second["attempt"] == 2
    assert second["service"] == "lastfm" and second["method"] == "GET"
    assert second["url"] == (
        "https://ws.audioscrobbler.com/2.0/?method=track.getInfo&api_key=[redacted]&artist=Queen"
    )
    assert second["duration_ms"] == pytest.approx(10.0)
    assert records[0]["level"] == "warn" and records[1]["level"] == "info"


def test_safe_url_hides_secret_params_and_userinfo() -> None:
    url = "https://user:pw@api.test/x?api_key=a&token=b&key=c&q=ok&access_token=d"
    shown = safe_url(url)
    for secret in ("pw", "=a", "=b", "=c", "=d"):
        assert secret not in shown
    assert shown.startswith("https://api.test/x?")
    assert "q=ok" in shown


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    now = 1_700_000_000.0  # 2023-11-14T22:13:20Z
    assert parse_retry_after("7", now) == 7.0
    assert parse_retry_after("Tue, 14 Nov 2023 22:13:30 GMT", now) == pytest.approx(10.0)
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


# -- per-request client --------------------------------------------------------------------


async def test_module_fetch_uses_the_request_context_budget_and_platform_transport() -> None:
    upstream = FakeUpstream(reply(200, {"id": 9}), latency=0.0)
    lines: list[str] = []
    ctx = Context(
        Request("GET", "https://dj.example/api/x"),
        Env({}),
        LocalPlatform(transport=upstream),
        ServiceLogger("api", sink=lines.append),
    )
    ctx.request_id = "req-42"
    token = bind(ctx)
    try:
        result = await outbound.fetch(
            service="deezer", url="https://api.deezer.com/track/9", model=DeezerTrack
        )
        tracker = budget.subrequests()
        client = outbound.client()
    finally:
        unbind(token)
    assert result.data == DeezerTrack(id=9)
    assert tracker is not None and tracker.count == 1
    assert client.subrequests is tracker
    record = json.loads(lines[-1])
    assert record["service"] == "api:outbound" and record["requestId"] == "req-42"


async def test_module_fetch_outside_a_request_refuses() -> None:
    with pytest.raises(LookupError):
        await outbound.fetch(service="deezer", url="https://x.test/")
