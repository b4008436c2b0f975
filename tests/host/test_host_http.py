"""End-to-end behaviour of the local Worker host over HTTP, one host for the module."""

from __future__ import annotations

import socket
import time
from urllib.parse import urlsplit

import httpx
import pytest

from djbuild.host import LocalHost


def raw_get(base_url: str, target: str, headers: str = "") -> tuple[int, bytes]:
    """Send `GET target` byte for byte (no client-side path normalisation)."""
    parts = urlsplit(base_url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(
            f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{headers}\r\n".encode()
        )
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    status = int(data.split(b" ", 2)[1])
    return status, data


def read_response(sock: socket.socket) -> bytes:
    """One HTTP/1.1 response from `sock` (Content-Length or chunked), leaving the rest."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536) or b""
    head, rest = data.split(b"\r\n\r\n", 1)
    lines = head.lower().split(b"\r\n")
    length = next(
        (int(line.split(b":")[1]) for line in lines if line.startswith(b"content-length:")), None
    )
    if length is not None:
        while len(rest) < length:
            rest += sock.recv(65536)
    else:  # chunked
        while not rest.endswith(b"0\r\n\r\n"):
            rest += sock.recv(65536)
    return head + b"\r\n\r\n" + rest


def poll_kv(client: httpx.Client, key: str, want: str, timeout: float = 8.0) -> str | None:
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = client.get("/api/kv/get", params={"key": key}).json()["value"]
        if value == want:
            return value
        time.sleep(0.1)
    return value


@pytest.fixture(scope="module")
def client(host: LocalHost) -> httpx.Client:
    with httpx.Client(base_url=host.url, timeout=15) as c:
        yield c


def test_ready_line_reports_startup_and_import_times(host: LocalHost) -> None:
    assert host.url.startswith("http://127.0.0.1:")
    assert host.startup_ms > 0
    assert 0 < host.import_ms < host.startup_ms


def test_json_route_sees_vars_and_dev_vars_secrets(client: httpx.Client) -> None:
    resp = client.get("/api/hello")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("application/json")
    assert resp.json() == {"hello": "world", "greeting": "hej", "secret": "s3cret"}


def test_post_body_reaches_the_worker(client: httpx.Client) -> None:
    resp = client.post("/api/echo", json={"n": [1, 2, 3]})
    assert resp.json() == {"echo": {"n": [1, 2, 3]}}


def test_an_unread_request_body_does_not_stall_the_keep_alive_connection(host: LocalHost) -> None:
    # the worker answers 413 without reading the upload: the rest of it must not block the
    # next request on the same connection (before the fix this waited until the timeout)
    parts = urlsplit(host.url)
    body = b"x" * (4 * 1024 * 1024)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(
            b"POST /api/refuse HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        refused = read_response(sock)
        sock.sendall(b"GET /api/hello HTTP/1.1\r\nHost: x\r\n\r\n")
        answered = read_response(sock)
    assert refused.startswith(b"HTTP/1.1 413")
    assert answered.startswith(b"HTTP/1.1 200")
    assert b'"hello"' in answered


def test_request_log_line_has_method_path_status_duration_and_request_id(
    client: httpx.Client, host: LocalHost
) -> None:
    client.get("/api/hello")
    line = host.wait_for_line(r"^GET /api/hello 200 [\d.]+ms cpu=[\d.]+ms id=req-hello$")
    assert "id=req-hello" in line


def test_request_log_hides_credential_query_values(client: httpx.Client, host: LocalHost) -> None:
    client.get("/api/hello?code=AQDsecret123&state=st4te&page=2")
    line = host.wait_for_line(r"^GET /api/hello\?")
    assert "AQDsecret123" not in line and "st4te" not in line
    assert "code=[redacted]&state=[redacted]&page=2" in line


def test_worker_stdout_reaches_the_host_output(host: LocalHost) -> None:
    assert "sample worker imported" in host.lines


def test_streamed_body_arrives_chunk_by_chunk(client: httpx.Client) -> None:
    arrivals: list[tuple[float, bytes]] = []
    started = time.monotonic()
    with client.stream("GET", "/api/stream", params={"n": 4, "pause": 0.3}) as resp:
        assert resp.headers["content-type"] == "text/event-stream"
        for chunk in resp.iter_raw():
            arrivals.append((time.monotonic() - started, chunk))
    body = b"".join(c for _, c in arrivals)
    assert body == b"".join(f"data: event {i}\n\n".encode() for i in range(4))
    first_event_at = next(t for t, c in arrivals if b"event 0" in c)
    last_event_at = next(t for t, c in arrivals if b"event 3" in c)
    # Events are 0.3 s apart: the first must not wait for the last.
    assert last_event_at - first_event_at > 0.6
    assert len([c for _, c in arrivals if c]) >= 4


def test_kv_put_then_get_through_the_binding(client: httpx.Client) -> None:
    assert client.get("/api/kv/put", params={"key": "k1", "value": "v1"}).json() == {"ok": True}
    assert client.get("/api/kv/get", params={"key": "k1"}).json() == {"value": "v1"}
    assert client.get("/api/kv/get", params={"key": "missing"}).json() == {"value": None}


def test_kv_rejects_expiration_ttl_below_60(client: httpx.Client) -> None:
    resp = client.get("/api/kv/short-ttl")
    assert resp.status_code == 400
    assert "at least 60" in resp.json()["error"]


def test_wait_until_work_finishes_after_the_response(client: httpx.Client) -> None:
    resp = client.get("/api/later", params={"key": "late1"})
    assert resp.json() == {"scheduled": "late1"}
    # The work sleeps 0.3 s before writing: not there yet right after the response ...
    assert client.get("/api/kv/get", params={"key": "late1"}).json() == {"value": None}
    # ... and written afterwards.
    assert poll_kv(client, "late1", "written-after-response") == "written-after-response"


def test_worker_exception_gives_500_and_host_keeps_serving(
    client: httpx.Client, host: LocalHost
) -> None:
    resp = client.get("/api/boom")
    assert resp.status_code == 500
    host.wait_for_line(r"ValueError: boom on purpose")
    assert client.get("/api/hello").status_code == 200


def test_client_disconnect_cancels_the_stream_and_the_write_fails(
    client: httpx.Client, host: LocalHost
) -> None:
    with client.stream("GET", "/api/stream", params={"n": 50, "pause": 0.1, "key": "dc1"}) as resp:
        first = next(resp.iter_raw())
        assert b"event 0" in first
    # Closing the response drops the connection; the worker's next write must fail.
    assert poll_kv(client, "dc1", "failed") == "failed"
    host.wait_for_line(r"^stream write failed")
    host.wait_for_line(r"^GET /api/stream\?n=50.* client disconnected$")


def test_client_disconnect_aborts_the_request_signal(client: httpx.Client) -> None:
    with pytest.raises(httpx.ReadTimeout):
        client.get("/api/signal", params={"key": "sig1"}, timeout=0.5)
    assert poll_kv(client, "sig1", "aborted") == "aborted"


def test_compat_flags_module_follows_the_compatibility_date(client: httpx.Client) -> None:
    assert client.get("/api/flags").json() == {"external_sdk": True}


# -- static assets ------------------------------------------------------------------------


def test_asset_is_served_with_its_content_type(client: httpx.Client) -> None:
    resp = client.get("/hello.txt")
    assert resp.status_code == 200
    assert resp.text == "hi from assets\n"
    assert resp.headers["content-type"] == "text/plain; charset=utf-8"
    assert client.get("/app.css").headers["content-type"] == "text/css; charset=utf-8"


def test_head_on_an_asset_has_headers_and_no_body(client: httpx.Client) -> None:
    resp = client.head("/hello.txt")
    assert resp.status_code == 200
    assert resp.headers["content-length"] == str(len("hi from assets\n"))
    assert resp.content == b""


def test_asset_etag_revalidates_to_304(client: httpx.Client) -> None:
    etag = client.get("/hello.txt").headers["etag"]
    assert client.get("/hello.txt", headers={"if-none-match": etag}).status_code == 304


def test_folder_path_serves_its_index_html(client: httpx.Client) -> None:
    assert client.get("/docs/").text == "<h1>docs</h1>\n"


def test_run_worker_first_pattern_beats_an_existing_asset(client: httpx.Client) -> None:
    resp = client.get("/api/hello")
    assert resp.json()["hello"] == "world"


def test_navigation_miss_gets_index_html(client: httpx.Client) -> None:
    resp = client.get("/some/page", headers={"sec-fetch-mode": "navigate"})
    assert resp.status_code == 200
    assert "single page app" in resp.text


def test_non_navigation_miss_goes_to_the_worker(client: httpx.Client) -> None:
    resp = client.get("/some/page.json", headers={"sec-fetch-mode": "cors"})
    assert resp.status_code == 404
    assert resp.json() == {"worker": True, "path": "/some/page.json"}


def test_api_navigation_is_not_swallowed_by_spa_fallback(client: httpx.Client) -> None:
    resp = client.get("/api/nothing", headers={"sec-fetch-mode": "navigate"})
    assert resp.json()["worker"] is True


@pytest.mark.parametrize(
    "target",
    [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E%2Fsecret.txt",
        "/..%2fsecret.txt",
        "/..%5csecret.txt",
        "/..\\secret.txt",
        "/docs/../../secret.txt",
        "/%2e%2e%2f%2e%2e%2fsecret.txt",
    ],
)
def test_no_request_path_escapes_the_assets_folder(host: LocalHost, target: str) -> None:
    status, data = raw_get(host.url, target, "Sec-Fetch-Mode: navigate\r\n")
    assert b"TOP-SECRET-OUTSIDE-ASSETS" not in data
    assert status in (200, 400, 404)


def test_assets_binding_fetches_an_asset(client: httpx.Client) -> None:
    resp = client.get("/api/assets-binding")
    assert resp.headers["x-from"] == "binding"
    assert resp.text == "hi from assets\n"
