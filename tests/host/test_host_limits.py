"""workerd's per-request limits, enforced by the local host: CPU time, subrequests,
simultaneous connections, waitUntil's deadline, methods, and the isolate's memory report."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from djbuild.host import LocalHost

from .conftest import make_dist
from .upstream import Upstream

HERE = Path(__file__).resolve().parent
LIMITS_WORKER = (HERE / "limits_worker.py").read_text()
# Far more CPU work than the 500 ms the config allows, whatever the machine: 20 million
# iterations of Python bytecode take over a second even in CPython, and Pyodide is slower.
HEAVY_LOOPS = 20_000_000


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    with Upstream() as server:
        yield server


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory, node_ready: None) -> Iterator[LocalHost]:
    """Free plan, `[limits] cpu_ms = 500` in the config, waitUntil cut 500 ms after the response."""
    dist = make_dist(
        tmp_path_factory.mktemp("limits") / "dist",
        entry_source=LIMITS_WORKER,
        extra_config="\n[limits]\ncpu_ms = 500\n",
    )
    host = LocalHost(dist, in_memory=True, plan="free", wait_until_ms=500, memory_every=3)
    host.start()
    try:
        yield host
    finally:
        host.stop()


@pytest.fixture(scope="module")
def client(limited: LocalHost) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=limited.url, timeout=60) as c:
        yield c


def test_free_plan_sets_the_defaults_and_the_config_cpu_ms_overrides_the_plan(
    limited: LocalHost,
) -> None:
    assert limited.startup is not None
    assert limited.startup.limits == {
        "plan": "free",
        "cpu_ms": 500,
        "subrequests": 50,
        "connections": 6,
        "wait_until_ms": 500,
    }


def test_access_log_line_shows_wall_and_cpu_time(client: httpx.Client, limited: LocalHost) -> None:
    mark = limited.mark()
    assert client.get("/api/ok").status_code == 200
    line = limited.wait_for_line(r"^GET /api/ok 200 ", since=mark)
    wall, cpu = line.split()[3], line.split()[4]
    assert wall.endswith("ms") and float(wall[:-2]) > 0
    assert cpu.startswith("cpu=") and cpu.endswith("ms") and float(cpu[4:-2]) >= 0


def test_request_over_cpu_ms_fails_with_503_error_1102_and_the_log_says_why(
    client: httpx.Client, limited: LocalHost
) -> None:
    mark = limited.mark()
    resp = client.get("/api/spin", params={"loops": HEAVY_LOOPS})
    assert resp.status_code == 503
    assert "Error 1102" in resp.text and "Worker exceeded resource limits" in resp.text
    assert "exceeded its CPU time limit" in limited.wait_for_line(r"CPU time limit", since=mark)
    line = limited.wait_for_line(r"^GET /api/spin\?loops=\d+ 503 ", since=mark)
    assert "exceeded CPU time limit (1102)" in line
    assert float(line.split()[4][4:-2]) > 500
    # the isolate lives on: the next request is served
    assert client.get("/api/spin", params={"loops": 1000}).status_code == 200


def test_the_51st_subrequest_fails_with_too_many_subrequests(
    client: httpx.Client, limited: LocalHost, upstream: Upstream
) -> None:
    upstream.reset(delay=0.0)
    mark = limited.mark()
    resp = client.get("/api/fetch-sequential", params={"url": upstream.url, "n": 52})
    results = resp.json()["results"]
    assert results[:50] == ["200"] * 50
    assert results[50:] == ["Error: Too many subrequests.", "Error: Too many subrequests."]
    assert upstream.calls == 50
    assert "more than 50 subrequests" in limited.wait_for_line(r"subrequests", since=mark)


def test_a_seventh_simultaneous_fetch_waits_for_one_of_six_to_close(
    client: httpx.Client, upstream: Upstream
) -> None:
    upstream.reset(delay=0.3)
    resp = client.get("/api/fetch-parallel", params={"url": upstream.url, "n": 9})
    assert resp.json()["results"] == ["200"] * 9
    assert upstream.calls == 9
    assert upstream.max_in_flight == 6


def test_waituntil_work_running_past_the_deadline_is_cancelled_with_a_log_line(
    client: httpx.Client, limited: LocalHost
) -> None:
    mark = limited.mark()
    assert client.get("/api/linger", params={"key": "late", "seconds": 3}).status_code == 200
    line = limited.wait_for_line(r"waitUntil work of GET /api/linger", since=mark, timeout=20)
    assert "cancelled: 1 task(s) still running 500 ms after the response" in line
    time.sleep(3.5)  # past the task's own end: it must not have finished
    assert client.get("/api/kv/get", params={"key": "late"}).json() == {"value": None}
    # work that ends in time is not touched
    assert client.get("/api/linger", params={"key": "soon", "seconds": 0.05}).status_code == 200
    deadline = time.monotonic() + 10
    while client.get("/api/kv/get", params={"key": "soon"}).json()["value"] is None:
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_isolate_memory_is_reported_at_startup_and_every_n_requests(
    client: httpx.Client, limited: LocalHost
) -> None:
    assert limited.startup is not None and 1 < limited.startup.memory_mb < 128
    assert "isolate memory" in limited.wait_for_line(r"isolate memory [\d.]+ MB at startup")
    mark = limited.mark()
    for _ in range(3):
        client.get("/api/ok")
    limited.wait_for_line(r"isolate memory [\d.]+ MB after \d+ requests", since=mark)


def test_memory_over_128_mb_is_warned(client: httpx.Client, limited: LocalHost) -> None:
    mark = limited.mark()
    assert client.get("/api/alloc", params={"mb": 140}).json() == {"held_mb": 140}
    for _ in range(3):
        client.get("/api/ok")
    line = limited.wait_for_line(r"warning: isolate memory", since=mark)
    assert "over the 128 MB Workers allow per isolate" in line


def raw_request(base_url: str, method: str, target: str) -> tuple[int, dict[str, str], bytes]:
    parts = urlsplit(base_url)
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(f"{method} {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in lines[1:])}
    if headers.get("transfer-encoding") == "chunked":
        body = dechunk(body)
    return int(lines[0].split(" ", 2)[1]), headers, body


def dechunk(data: bytes) -> bytes:
    out = b""
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out, data = out + data[:size], data[size + 2 :]
    return out


def test_trace_reaches_the_worker_which_answers_json_405_with_allow(limited: LocalHost) -> None:
    status, headers, body = raw_request(limited.url, "TRACE", "/api/ok")
    assert status == 405
    assert headers["allow"] == "GET, HEAD, POST"
    assert json.loads(body)["seen"] == "TRACE"


def test_a_method_unknown_to_the_parser_gets_the_json_405_with_the_worker_allow(
    limited: LocalHost,
) -> None:
    status, headers, body = raw_request(limited.url, "FROBNICATE", "/api/ok")
    assert status == 405
    assert headers["content-type"] == "application/json"
    assert headers["allow"] == "GET, HEAD, POST"
    assert json.loads(body) == {"error": "Method not allowed", "allow": ["GET", "HEAD", "POST"]}
