"""The isolate's life on the local host: a fatal Pyodide error replaces it, as on workerd;
workerd's clock, which only moves across I/O; the paid plan's defaults."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from djbuild.host import LocalHost

from .conftest import make_dist

LIMITS_WORKER = (Path(__file__).resolve().parent / "limits_worker.py").read_text()


@pytest.fixture(scope="module")
def paid(tmp_path_factory: pytest.TempPathFactory, node_ready: None) -> Iterator[LocalHost]:
    dist = make_dist(tmp_path_factory.mktemp("isolate") / "dist", entry_source=LIMITS_WORKER)
    host = LocalHost(dist, in_memory=True, plan="paid", workerd_clock=True)
    host.start()
    try:
        yield host
    finally:
        host.stop()


@pytest.fixture(scope="module")
def client(paid: LocalHost) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=paid.url, timeout=120) as c:
        yield c


def test_paid_plan_defaults_are_30_s_cpu_and_10000_subrequests(paid: LocalHost) -> None:
    assert paid.startup is not None
    assert paid.startup.limits["cpu_ms"] == 30000
    assert paid.startup.limits["subrequests"] == 10000


def test_workerd_clock_stands_still_during_cpu_work_and_moves_across_io(
    client: httpx.Client,
) -> None:
    body = client.get("/api/clock", params={"loops": 1_000_000, "sleep": 0.2}).json()
    assert body["during_cpu_ms"] == [0.0, 0.0]  # time.time() and perf_counter() both
    wall, perf = body["across_io_ms"]
    assert wall >= 200 and perf >= 200


def test_asyncio_timeouts_still_fire_under_the_workerd_clock(client: httpx.Client) -> None:
    assert client.get("/api/timeout", params={"seconds": 0.2}).json() == {"timed_out": True}


def test_a_fatal_pyodide_error_discards_the_isolate_and_the_next_request_gets_a_fresh_one(
    paid: LocalHost,
) -> None:
    def get(path: str, **params: object) -> httpx.Response:
        # one connection per request: a kept-alive one may be closed while the isolate reboots
        return httpx.get(paid.url + path, params=params, timeout=120)

    assert get("/api/ok").status_code == 200
    mark = paid.mark()
    # json.loads of a 100,000-deep array overflows the C stack inside Pyodide: a fatal error
    resp = get("/api/deep-json", depth=100_000)
    assert resp.status_code == 500
    line = paid.wait_for_line(r"isolate suffered a fatal error", since=mark)
    assert "discarded" in line and "fresh one" in line
    after = get("/api/ok")
    assert after.status_code == 200 and after.json() == {"ok": True}
    paid.wait_for_line(r"fresh isolate ready", since=mark)
    assert get("/api/deep-json", depth=100).json() == {"parsed": 100}
