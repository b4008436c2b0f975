"""Shared machinery for the loopback fakes: a threaded HTTP server with routing, call
recording, latency, fault injection and sliding-window rate limits.

Each fake subclasses `FakeServer`, registers routes in `__init__` and overrides
`error_body` so injected faults look like the real service's errors. Everything binds to
127.0.0.1 only. Requests are served on one thread per connection, so concurrent clients
are served concurrently (a latency of 50 ms applied to 20 parallel calls costs ~50 ms).
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

SECRET_HEADERS = frozenset({"authorization", "x-api-key", "cookie"})


class CaseInsensitiveDict(dict[str, str]):
    """Header map keyed by lower-case names."""

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        super().__init__()
        for key, value in items:
            self[key.lower()] = value

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        return super().get(key.lower(), default)

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(key.lower())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and super().__contains__(key.lower())


@dataclass
class FakeRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: CaseInsensitiveDict
    body: bytes
    params: dict[str, str] = field(default_factory=dict)

    def q(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))

    def form(self) -> dict[str, str]:
        parsed = parse_qs(self.body.decode("utf-8"), keep_blank_values=True)
        return {k: v[0] for k, v in parsed.items()}


@dataclass
class Drop:
    """Marker inside a streamed body: close the connection abruptly at this point."""


@dataclass
class FakeResponse:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    # When set, the body is sent with chunked transfer encoding, one piece per item.
    # A float item sleeps that many seconds; a `Drop` item aborts the connection.
    stream: Iterable[bytes | float | Drop] | None = None
    drop: bool = False
    # A fault's alterations: send only the first `truncate_at` bytes of a body whose
    # Content-Length promised all of it, then drop; or pause `stall` seconds mid-body.
    truncate_at: int | None = None
    stall: float = 0.0

    @classmethod
    def json(
        cls, obj: Any, status: int = 200, headers: dict[str, str] | None = None
    ) -> FakeResponse:
        hdrs = {"Content-Type": "application/json; charset=utf-8"}
        hdrs.update(headers or {})
        return cls(status=status, body=json.dumps(obj).encode("utf-8"), headers=hdrs)

    @classmethod
    def empty(cls, status: int = 204, headers: dict[str, str] | None = None) -> FakeResponse:
        return cls(status=status, body=b"", headers=dict(headers or {}))

    @classmethod
    def text(
        cls, text: str, status: int = 200, content_type: str = "text/plain; charset=utf-8"
    ) -> FakeResponse:
        return cls(status=status, body=text.encode("utf-8"), headers={"Content-Type": content_type})


@dataclass
class RecordedCall:
    """One request as the fake saw it. Secrets stay in memory; `repr` redacts them."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: CaseInsensitiveDict
    body: bytes
    route: str
    arrived: float
    finished: float | None = None
    status: int | None = None
    fault: str | None = None

    def q(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))

    def form(self) -> dict[str, str]:
        parsed = parse_qs(self.body.decode("utf-8"), keep_blank_values=True)
        return {k: v[0] for k, v in parsed.items()}

    def __repr__(self) -> str:
        shown = {k: ("<redacted>" if k in SECRET_HEADERS else v) for k, v in self.headers.items()}
        return (
            f"RecordedCall({self.method} {self.path} route={self.route!r} status={self.status} "
            f"query={self.query!r} headers={shown!r} body={len(self.body)}B)"
        )


@dataclass
class Fault:
    """A failure to inject on matching routes.

    target: route name or glob matched against the route name and the request path.
    status/body/headers: the response to send instead (body None = the fake's own error body).
    retry_after: adds a Retry-After header (seconds).
    delay: extra seconds to wait before answering (a slow response).
    drop: close the connection without answering.
    times: how many times the fault fires (None = every time); skip: let N calls pass first.
    malformed: answer 200 (or `status`) with a body that is not JSON.
    truncate: the real answer, cut off halfway (Content-Length promises the whole body).
    stall: the real answer, stopping `stall` seconds halfway through its body.
    """

    target: str
    status: int | None = None
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    retry_after: int | None = None
    delay: float = 0.0
    drop: bool = False
    times: int | None = None
    skip: int = 0
    message: str | None = None
    fired: int = 0
    seen: int = 0
    malformed: bool = False
    truncate: bool = False
    stall: float = 0.0

    @property
    def alters_answer(self) -> bool:
        """True when the fault changes the real answer instead of replacing it."""
        return self.truncate or self.stall > 0

    def describe(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v not in (None, False, 0, 0.0, {})}


@dataclass
class RateLimit:
    target: str
    limit: int
    window: float
    retry_after: int = 1
    status: int | None = None
    hits: deque[float] = field(default_factory=deque)


Handler = Callable[[FakeRequest], FakeResponse]


@dataclass
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    name: str


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    allow_reuse_address = True
    owner: FakeServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; without this, Nagle + delayed ACK add
    # ~40 ms to every request after the first on a keep-alive connection.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _serve(self) -> None:
        owner = self.server.owner
        with owner._conn_lock:
            owner._connections.add(self.connection)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = _read_chunked(self.rfile)
        split = urlsplit(self.path)
        if split.path.startswith(CONTROL_PREFIX):
            loopback = self.client_address[0] in ("127.0.0.1", "::1", "::ffff:127.0.0.1")
            if not loopback:
                self._write(FakeResponse.json({"error": "loopback only"}, 403))
                return
            self._write(owner.control(self.command, split.path[len(CONTROL_PREFIX) :], body))
            return
        request = FakeRequest(
            method=self.command,
            path=split.path,
            query=parse_qs(split.query, keep_blank_values=True),
            headers=CaseInsensitiveDict(self.headers.items()),
            body=body,
        )
        response = owner._dispatch(request)
        self._write(response)

    def _write(self, response: FakeResponse) -> None:
        if response.drop:
            self._abort()
            return
        try:
            self.send_response(response.status)
            headers = dict(response.headers)
            if response.stream is None:
                headers.setdefault("Content-Length", str(len(response.body)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                body = response.body if self.command != "HEAD" else b""
                cut = response.truncate_at
                if response.stall > 0 and body:
                    half = len(body) // 2
                    self.wfile.write(body[:half])
                    self.wfile.flush()
                    time.sleep(response.stall)
                    body = body[half:]
                if cut is not None:
                    self.wfile.write(body[:cut])
                    self.wfile.flush()
                    self._abort()
                    return
                if body:
                    self.wfile.write(body)
                self.wfile.flush()
                return
            headers["Transfer-Encoding"] = "chunked"
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.flush()
            for piece in response.stream:
                if isinstance(piece, Drop):
                    self._abort()
                    return
                if isinstance(piece, float | int):
                    time.sleep(float(piece))
                    continue
                if piece:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                    self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _abort(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
            )
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def finish(self) -> None:
        owner = self.server.owner
        with owner._conn_lock:
            owner._connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _serve


def _read_chunked(stream: Any) -> bytes:
    out = bytearray()
    while True:
        line = stream.readline().strip()
        size = int(line.split(b";")[0] or b"0", 16)
        if size == 0:
            stream.readline()
            return bytes(out)
        out += stream.read(size)
        stream.readline()


class FakeServer:
    """Base of every fake. Subclasses call `route()` and override `error_body()`."""

    service = "fake"

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("fakes bind to loopback only")
        self.host = "127.0.0.1" if host == "localhost" else host
        self.port = port
        self.latency: float = 0.0
        self.route_latency: dict[str, float] = {}
        self._routes: list[Route] = []
        self._calls: list[RecordedCall] = []
        self._faults: list[Fault] = []
        self._limits: list[RateLimit] = []
        self._lock = threading.RLock()
        self._conn_lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._calls_changed = threading.Condition(self._lock)

    # ----------------------------------------------------------------- lifecycle
    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError(f"{self.service} fake is not started")
        return f"http://{self.host}:{self._server.server_address[1]}"

    def start(self) -> str:
        if self._server is not None:
            return self.base_url
        server = _Server((self.host, self.port), _Handler)
        server.owner = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"fake-{self.service}",
            daemon=True,
        )
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        with self._conn_lock:
            conns, self._connections = list(self._connections), set()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=2)

    def __enter__(self) -> FakeServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------- routing
    def route(self, method: str, pattern: str, handler: Handler, name: str | None = None) -> None:
        """Register `handler` for `method` and a path pattern with `{param}` placeholders."""
        regex = "^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern) + "$"
        self._routes.append(
            Route(method.upper(), re.compile(regex), handler, name or f"{method.upper()} {pattern}")
        )

    def error_body(self, status: int, message: str | None) -> FakeResponse:
        """The service's own error envelope for an injected HTTP error."""
        return FakeResponse.json(
            {"error": {"status": status, "message": message or "error"}}, status=status
        )

    def not_found(self, request: FakeRequest) -> FakeResponse:
        return self.error_body(404, "Service not found")

    # ----------------------------------------------------------------- recording
    @property
    def calls(self) -> list[RecordedCall]:
        with self._lock:
            return list(self._calls)

    def calls_to(self, target: str) -> list[RecordedCall]:
        """Calls whose route name or path matches `target` (exact name or glob)."""
        return [c for c in self.calls if _matches(target, c.route, c.path)]

    def reset_calls(self) -> None:
        with self._lock:
            self._calls.clear()

    def wait_for_calls(self, target: str, count: int = 1, timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        with self._calls_changed:
            while len([c for c in self._calls if _matches(target, c.route, c.path)]) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._calls_changed.wait(remaining)
        return True

    # ------------------------------------------------------------------- faults
    def inject(
        self,
        target: str,
        status: int | None = None,
        *,
        body: Any = None,
        message: str | None = None,
        headers: dict[str, str] | None = None,
        retry_after: int | None = None,
        delay: float = 0.0,
        drop: bool = False,
        times: int | None = None,
        skip: int = 0,
        malformed: bool = False,
        truncate: bool = False,
        stall: float = 0.0,
    ) -> Fault:
        """Make matching requests fail; see `Fault`. Returns the fault (its `.fired` counts)."""
        fault = Fault(
            target,
            status,
            body,
            dict(headers or {}),
            retry_after,
            delay,
            drop,
            times,
            skip,
            message,
            malformed=malformed,
            truncate=truncate,
            stall=stall,
        )
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def rate_limit(
        self,
        target: str,
        limit: int,
        window: float,
        retry_after: int = 1,
        status: int | None = None,
    ) -> RateLimit:
        """Answer like the service does when more than `limit` calls arrive in `window` s."""
        rl = RateLimit(target, limit, window, retry_after, status)
        with self._lock:
            self._limits.append(rl)
        return rl

    def clear_rate_limits(self) -> None:
        with self._lock:
            self._limits.clear()

    def rate_limited_response(self, limit: RateLimit) -> FakeResponse:
        response = self.error_body(limit.status or 429, "API rate limit exceeded")
        response.headers["Retry-After"] = str(limit.retry_after)
        return response

    # ------------------------------------------------------------------ dispatch
    def _dispatch(self, request: FakeRequest) -> FakeResponse:
        arrived = time.monotonic()
        route, params = self._find(request)
        request.params = params
        name = route.name if route else "unmatched"
        call = RecordedCall(
            request.method,
            request.path,
            request.query,
            request.headers,
            request.body,
            name,
            arrived,
        )
        with self._lock:
            self._calls.append(call)
            fault = self._take_fault(name, request.path)
            limited = self._check_limits(name, request.path, arrived)
            self._calls_changed.notify_all()
        delay = self.route_latency.get(name, self.latency)
        if fault is not None:
            delay += fault.delay
        if delay > 0:
            time.sleep(delay)
        response: FakeResponse
        replaces = fault is not None and not fault.alters_answer
        if replaces and fault is not None and (fault.drop or fault.status or fault.malformed):
            call.fault = fault.target
            response = self._fault_response(fault)
        elif limited is not None:
            call.fault = f"rate_limit:{limited.target}"
            response = self.rate_limited_response(limited)
        elif route is None:
            response = self.not_found(request)
        else:
            try:
                response = route.handler(request)
            except Exception as exc:  # a bug in a fake should surface as a 500, not a hang
                response = FakeResponse.json(
                    {"error": {"status": 500, "message": f"fake crashed: {exc!r}"}}, status=500
                )
        if fault is not None and fault.alters_answer:
            call.fault = fault.target
            response = _alter(response, fault)
        with self._lock:
            call.status = None if response.drop else response.status
            call.finished = time.monotonic()
        return response

    # ------------------------------------------------------------- run-time control
    def control(self, method: str, path: str, body: bytes) -> FakeResponse:
        """The loopback control endpoint under `/__fake/` (see `fakes.control`).

        `POST faults` injects one fault (the `inject` arguments as JSON, `target` defaulting
        to `*`); `GET faults` lists them with how often each fired; `DELETE faults` clears
        them; `POST reset` forgets calls, faults and (Claude) scripted replies."""
        try:
            data = json.loads(body) if body.strip() else {}
        except ValueError:
            return FakeResponse.json({"error": "control body must be JSON"}, 400)
        if not isinstance(data, dict):
            return FakeResponse.json({"error": "control body must be a JSON object"}, 400)
        if path == "faults" and method == "POST":
            allowed = set(Fault.__dataclass_fields__) - {"fired", "seen"}
            unknown = set(data) - allowed
            if unknown:
                return FakeResponse.json({"error": f"unknown fields: {sorted(unknown)}"}, 400)
            args = dict(data)
            target = str(args.pop("target", "*"))
            try:
                fault = self.inject(target, **args)
            except TypeError as exc:
                return FakeResponse.json({"error": str(exc)}, 400)
            return FakeResponse.json({"service": self.service, "fault": fault.describe()}, 201)
        if path == "faults" and method == "GET":
            with self._lock:
                faults = [f.describe() for f in self._faults]
            return FakeResponse.json({"service": self.service, "faults": faults})
        if path == "faults" and method == "DELETE":
            self.clear_faults()
            return FakeResponse.json({"service": self.service, "faults": []})
        if path == "reset" and method == "POST":
            self.reset_calls()
            self.clear_faults()
            return FakeResponse.json({"service": self.service, "reset": True})
        return self.control_extra(method, path, data)

    def control_extra(self, method: str, path: str, data: dict[str, Any]) -> FakeResponse:
        """Service-specific control paths (the fake Claude's `script`)."""
        return FakeResponse.json({"error": f"no control path {method} {path}"}, 404)

    def _find(self, request: FakeRequest) -> tuple[Route | None, dict[str, str]]:
        path_matched: Route | None = None
        for route in self._routes:
            m = route.pattern.match(request.path)
            if not m:
                continue
            if route.method == request.method or (
                route.method == "GET" and request.method == "HEAD"
            ):
                return route, m.groupdict()
            path_matched = path_matched or route
        if path_matched is not None:
            return Route(
                request.method,
                path_matched.pattern,
                self._method_not_allowed,
                f"{request.method} (not allowed)",
            ), {}
        return None, {}

    def _method_not_allowed(self, request: FakeRequest) -> FakeResponse:
        return self.error_body(405, "Method not allowed")

    def _take_fault(self, name: str, path: str) -> Fault | None:
        for fault in self._faults:
            if not _matches(fault.target, name, path):
                continue
            fault.seen += 1
            if fault.seen <= fault.skip:
                continue
            if fault.times is not None and fault.fired >= fault.times:
                continue
            fault.fired += 1
            return fault
        return None

    def _check_limits(self, name: str, path: str, now: float) -> RateLimit | None:
        hit: RateLimit | None = None
        for rl in self._limits:
            if not _matches(rl.target, name, path):
                continue
            while rl.hits and now - rl.hits[0] >= rl.window:
                rl.hits.popleft()
            if len(rl.hits) >= rl.limit:
                hit = hit or rl
                continue
            rl.hits.append(now)
        return hit

    def _fault_response(self, fault: Fault) -> FakeResponse:
        if fault.drop:
            return FakeResponse(drop=True)
        if fault.malformed:
            raw = b'{"error": {"status": 200, "message": "half an ans'
            headers = {"Content-Type": "application/json; charset=utf-8"}
            return FakeResponse(status=fault.status or 200, body=raw, headers=headers)
        status = fault.status or 500
        if fault.body is None:
            response = self.error_body(status, fault.message)
        elif isinstance(fault.body, bytes | str):
            raw = fault.body.encode() if isinstance(fault.body, str) else fault.body
            response = FakeResponse(
                status=status, body=raw, headers={"Content-Type": "text/plain; charset=utf-8"}
            )
        else:
            response = FakeResponse.json(fault.body, status=status)
        response.status = status
        if fault.retry_after is not None:
            response.headers["Retry-After"] = str(fault.retry_after)
        response.headers.update(fault.headers)
        return response


def _alter(response: FakeResponse, fault: Fault) -> FakeResponse:
    """The real answer, cut off or paused halfway, as `fault` asks."""
    if response.stream is not None:
        pieces: list[bytes | float | Drop] = list(response.stream)
        half = max(1, len(pieces) // 2)
        if fault.stall > 0:
            pieces.insert(half, float(fault.stall))
        if fault.truncate:
            pieces = [*pieces[:half], Drop()]
        response.stream = pieces
        return response
    if fault.truncate:
        response.truncate_at = len(response.body) // 2
    response.stall = fault.stall
    return response


def _matches(target: str, name: str, path: str) -> bool:
    if target in ("*", name, path):
        return True
    return fnmatch.fnmatchcase(name, target) or fnmatch.fnmatchcase(path, target)


CONTROL_PREFIX = "/__fake/"
"""Paths under this prefix are the fake's control endpoint, answered to loopback clients
only and never recorded as calls."""


def sse_event(event: str, data: Any) -> bytes:
    """One named server-sent event (`event:` + `data:` lines, blank-line terminated)."""
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    return f"event: {event}\ndata: {payload}\n\n".encode()


def iter_chunks(text: str, size: int) -> Iterator[str]:
    size = max(1, size)
    for i in range(0, len(text), size):
        yield text[i : i + size]
