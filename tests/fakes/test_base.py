from __future__ import annotations

import http.client
import threading
import time
from urllib.parse import urlsplit

import httpx
import pytest

from fakes.deezer import FakeDeezer
from fakes.spotify import FakeSpotify

from .helpers import bearer


def _fire(
    url: str,
    n: int,
    headers: dict[str, str] | None = None,
    spans: list[tuple[float, float]] | None = None,
) -> list[int]:
    """n threads, each with its own connection, released together by a barrier."""
    statuses: list[int] = [0] * n
    barrier = threading.Barrier(n)

    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")

    def one(i: int) -> None:
        conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
        conn.connect()
        barrier.wait()
        t0 = time.monotonic()
        conn.request("GET", target, headers=headers or {})
        response = conn.getresponse()
        response.read()
        statuses[i] = response.status
        if spans is not None:
            spans.append((t0, time.monotonic()))
        conn.close()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return statuses


def test_twenty_parallel_requests_take_about_one_latency_not_twenty(deezer: FakeDeezer) -> None:
    deezer.latency = 0.25
    spans: list[tuple[float, float]] = []
    statuses = _fire(f"{deezer.base_url}/track/1", 20, spans=spans)
    elapsed = max(e for _, e in spans) - min(s for s, _ in spans)
    assert statuses == [200] * 20
    assert elapsed < 0.25 * 3, elapsed  # serial would be 5 s
    assert len(deezer.calls) == 20


def test_forty_simultaneous_calls_are_recorded_with_close_arrival_times(
    spotify: FakeSpotify,
) -> None:
    statuses = _fire(f"{spotify.base_url}/v1/me", 40, bearer())
    assert statuses == [200] * 40
    calls = spotify.calls_to("me")
    assert len(calls) == 40
    arrivals = sorted(c.arrived for c in calls)
    assert arrivals[-1] - arrivals[0] < 1.0
    assert all(c.status == 200 and c.finished is not None for c in calls)


def test_injected_429_carries_retry_after_and_fires_only_the_given_times(
    spotify: FakeSpotify, client: httpx.Client
) -> None:
    fault = spotify.inject("search", 429, retry_after=7, times=1)
    url = f"{spotify.base_url}/v1/search?q=queen&type=track"
    first = client.get(url, headers=bearer())
    second = client.get(url, headers=bearer())
    assert first.status_code == 429
    assert first.headers["Retry-After"] == "7"
    assert first.json() == {"error": {"status": 429, "message": "API rate limit exceeded"}}
    assert second.status_code == 200
    assert fault.fired == 1
    assert [c.status for c in spotify.calls_to("search")] == [429, 200]


def test_fault_skip_lets_the_first_calls_through(deezer: FakeDeezer, client: httpx.Client) -> None:
    deezer.inject("track", 502, skip=2, times=1)
    codes = [client.get(f"{deezer.base_url}/track/1").status_code for _ in range(4)]
    assert codes == [200, 200, 502, 200]


def test_dropped_connection_raises_on_the_client(deezer: FakeDeezer, client: httpx.Client) -> None:
    deezer.inject("track", drop=True, times=1)
    with pytest.raises(httpx.TransportError):
        client.get(f"{deezer.base_url}/track/1")
    assert client.get(f"{deezer.base_url}/track/1").status_code == 200
    assert deezer.calls_to("track")[0].status is None


def test_slow_response_fault_delays_only_matching_routes(
    spotify: FakeSpotify, client: httpx.Client
) -> None:
    spotify.inject("me", delay=0.3, times=1)
    t0 = time.monotonic()
    assert client.get(f"{spotify.base_url}/v1/me", headers=bearer()).status_code == 200
    slow = time.monotonic() - t0
    t1 = time.monotonic()
    client.get(f"{spotify.base_url}/v1/me/player/devices", headers=bearer())
    fast = time.monotonic() - t1
    assert slow >= 0.3
    assert fast < 0.2


def test_route_latency_overrides_the_default(spotify: FakeSpotify, client: httpx.Client) -> None:
    spotify.route_latency["devices"] = 0.2
    t0 = time.monotonic()
    client.get(f"{spotify.base_url}/v1/me/player/devices", headers=bearer())
    assert time.monotonic() - t0 >= 0.2


def test_sliding_window_rate_limit_answers_429_then_recovers(
    spotify: FakeSpotify, client: httpx.Client
) -> None:
    spotify.rate_limit("me", limit=3, window=0.3, retry_after=1)
    codes = [
        client.get(f"{spotify.base_url}/v1/me", headers=bearer()).status_code for _ in range(5)
    ]
    assert codes == [200, 200, 200, 429, 429]
    time.sleep(0.35)
    assert client.get(f"{spotify.base_url}/v1/me", headers=bearer()).status_code == 200


def test_recorded_call_repr_hides_secrets(spotify: FakeSpotify, client: httpx.Client) -> None:
    client.get(f"{spotify.base_url}/v1/me", headers=bearer("sekret-token-value"))
    call = spotify.calls[0]
    assert call.headers["authorization"] == "Bearer sekret-token-value"
    assert "sekret" not in repr(call)


def test_wait_for_calls_times_out_when_nothing_arrives(spotify: FakeSpotify) -> None:
    assert spotify.wait_for_calls("me", 1, timeout=0.1) is False


def test_fakes_refuse_non_loopback_hosts() -> None:
    with pytest.raises(ValueError):
        FakeDeezer(host="0.0.0.0")
