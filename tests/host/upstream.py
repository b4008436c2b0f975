"""A local upstream for the host's fetch limits: answers after a delay, counts concurrency."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType


class Upstream:
    """HTTP on 127.0.0.1 that answers every GET with 200 after `delay` seconds."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.calls = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with upstream._lock:
                    upstream.calls += 1
                    upstream.in_flight += 1
                    upstream.max_in_flight = max(upstream.max_in_flight, upstream.in_flight)
                try:
                    time.sleep(upstream.delay)
                    body = b"ok"
                    self.send_response(200)
                    self.send_header("content-length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                finally:
                    with upstream._lock:
                        upstream.in_flight -= 1

            def log_message(self, format: str, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/x"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def reset(self, delay: float) -> None:
        with self._lock:
            self.delay, self.calls, self.in_flight, self.max_in_flight = delay, 0, 0, 0

    def __enter__(self) -> Upstream:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.server.shutdown()
        self.server.server_close()
