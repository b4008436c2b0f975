"""The runtime's limits, measured at a fake upstream while the Worker runs on the local host."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from djbuild.build import build_project
from djbuild.host import LocalHost
from fakes import FakeDeezer

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def deezer() -> Iterator[FakeDeezer]:
    with FakeDeezer() as fake:
        yield fake


@pytest.fixture(scope="module")
def worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    out = tmp_path_factory.mktemp("limits") / "dist"
    build_project(ROOT, out, app="tests.apps.limits_app:app")
    with LocalHost(out, in_memory=True) as host:
        yield host.url


def worst_window(times: list[float], width: float = 1.0) -> int:
    ordered = sorted(times)
    best = j = 0
    for i, t in enumerate(ordered):
        while j < len(ordered) and ordered[j] < t + width:
            j += 1
        best = max(best, j - i)
    return best


def test_200_calls_stay_within_40_per_second_and_the_lane_cap(
    worker: str, deezer: FakeDeezer
) -> None:
    deezer.reset_calls()
    deezer.latency = 0.05
    started = time.monotonic()
    r = httpx.post(
        f"{worker}/api/limits/burst", params={"base": deezer.base_url, "n": 200}, timeout=60
    )
    elapsed = time.monotonic() - started
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["ok"] == 200 and body["failed"] == 0
    calls = deezer.calls
    assert len(calls) == 200
    arrivals = [c.arrived for c in calls]
    assert worst_window(arrivals) <= 40
    # the deezer lane allows 10 in flight: never more overlapped at the fake
    spans = sorted((c.arrived, c.finished) for c in calls)
    peak = max(sum(1 for a, f in spans if a <= t < f) for t, _ in spans)
    assert peak <= 10
    # close to 40/s: 200 calls need at least 4 s of windows; allow generous slack for the host
    assert 4.0 <= elapsed < 8.0
    assert body["subrequests"] == 200


def test_the_subrequest_budget_is_never_exceeded(worker: str, deezer: FakeDeezer) -> None:
    deezer.reset_calls()
    deezer.latency = 0.0
    r = httpx.post(
        f"{worker}/api/limits/burst", params={"base": deezer.base_url, "n": 1000}, timeout=120
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["ok"] == 950
    assert body["errors"] == {"budget_exhausted": 50}
    assert len(deezer.calls) == 950
    assert body["remaining"] == 0


def test_values_land_in_miniflare_kv_with_their_policy_ttls(worker: str) -> None:
    before = time.time()
    r = httpx.post(f"{worker}/api/limits/kv", params={"prefix": "ttl-test:"}, timeout=30)
    assert r.status_code == 200, r.text
    body = r.json()
    exp = body["expirations"]
    expected = {
        "ttl-test:session": 4 * 3600,
        "ttl-test:mix": 8 * 3600,
        "ttl-test:hit": 90 * 86400,
    }
    for key, ttl in expected.items():
        assert abs(exp[key] - (before + ttl)) < 30, (key, exp[key] - before)
    # a miss is kept in KV longer than its 5-minute envelope ttl so retry-and-merge can find it
    assert exp["ttl-test:miss"] - before > 300
    assert body["short_ttl"] != "accepted"
    stored = httpx.get(f"{worker}/api/limits/kv", params={"prefix": "ttl-test:"}, timeout=30).json()
    assert stored["hit"]["ttl"] == 90 * 86400 and stored["hit"]["is_miss"] is False
    assert stored["miss"]["ttl"] == 300 and stored["miss"]["is_miss"] is True
    assert stored["hit"]["enrichment"] == {"bpm": 120}
