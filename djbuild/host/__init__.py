"""Run a built `dist/` Python Worker locally: Pyodide under Node, Miniflare's KV, node:http.

    with LocalHost(Path("dist"), in_memory=True) as host:
        httpx.get(host.url + "/health")

`start()` returns the base URL once the host printed its ready line; `stop()` ends the whole
child process tree (Node and the workerd process Miniflare starts for KV). Every output
line of the host (request log, worker stdout/stderr) is kept in `lines`.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from djbuild import toolchain

HOST_SCRIPT = Path(__file__).resolve().parent / "host.mjs"
READY_RE = re.compile(r"^djbuild-host ready (\S+) startup_ms=(\d+) import_ms=([\d.]+)")


class HostError(RuntimeError):
    """The host could not start; the message carries its output."""


class LocalHost:
    """A local Worker host serving `dist_dir` on `host:port` (port 0 picks a free port)."""

    def __init__(
        self,
        dist_dir: Path | str,
        *,
        port: int = 0,
        host: str = "127.0.0.1",
        persist_to: Path | str | None = None,
        in_memory: bool = False,
        env_file: Path | str | None = None,
        echo: bool = False,
        on_line: Callable[[str], None] | None = None,
        start_timeout: float = 90.0,
    ) -> None:
        if persist_to is not None and in_memory:
            raise ValueError("persist_to and in_memory exclude each other")
        self.dist_dir = Path(dist_dir)
        self.port = port
        self.host = host
        self.persist_to = Path(persist_to) if persist_to is not None else None
        self.in_memory = in_memory
        self.env_file = Path(env_file) if env_file is not None else None
        self.echo = echo
        self.on_line = on_line
        self.start_timeout = start_timeout
        self.lines: list[str] = []
        self.url: str = ""
        self.startup_ms: float = 0.0
        self.import_ms: float = 0.0
        self._proc: subprocess.Popen[str] | None = None
        self._ready = threading.Event()
        self._readers: list[threading.Thread] = []
        self._lock = threading.Lock()

    # -- process ---------------------------------------------------------------------------

    def command(self) -> list[str]:
        """The node arguments (after the node binary) that start this host."""
        args = [
            "--experimental-wasm-jspi",
            "--no-warnings",
            str(HOST_SCRIPT),
            "--dist",
            str(self.dist_dir.resolve()),
            "--node-modules",
            str(toolchain.ensure_node_modules()),
            "--sdk",
            str(toolchain.ensure_workers_sdk()),
            "--port",
            str(self.port),
            "--host",
            self.host,
        ]
        if self.in_memory:
            args.append("--in-memory")
        elif self.persist_to is not None:
            args += ["--persist-to", str(self.persist_to.resolve())]
        if self.env_file is not None:
            args += ["--env-file", str(self.env_file.resolve())]
        return args

    def start(self) -> str:
        """Start the host and wait for its ready line; return the base URL."""
        if self._proc is not None:
            raise RuntimeError("host already started")
        started = time.monotonic()
        self._proc = toolchain.run_node(
            self.command(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
            start_new_session=True,
        )
        for stream in (self._proc.stdout, self._proc.stderr):
            reader = threading.Thread(target=self._pump, args=(stream,), daemon=True)
            reader.start()
            self._readers.append(reader)
        deadline = started + self.start_timeout
        while not self._ready.wait(0.05):
            if self._proc.poll() is not None:
                for reader in self._readers:
                    reader.join(timeout=2)
                code = self._proc.returncode
                self._proc = None
                raise HostError(f"host exited with code {code}:\n" + "\n".join(self.lines[-40:]))
            if time.monotonic() > deadline:
                self.stop()
                raise HostError(
                    f"host not ready after {self.start_timeout:.0f}s:\n"
                    + "\n".join(self.lines[-40:])
                )
        return self.url

    def _pump(self, stream: object) -> None:
        assert stream is not None
        for raw in stream:  # type: ignore[attr-defined]
            line = raw.rstrip("\n")
            with self._lock:
                self.lines.append(line)
            match = READY_RE.match(line)
            if match and not self._ready.is_set():
                self.url = match.group(1)
                self.startup_ms = float(match.group(2))
                self.import_ms = float(match.group(3))
                self._ready.set()
            if self.echo:
                print(line, file=sys.stderr, flush=True)
            if self.on_line is not None:
                self.on_line(line)

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the host: SIGTERM (lets Miniflare shut workerd down), then kill the group."""
        proc = self._proc
        if proc is None:
            return
        self._proc = None
        pgid = proc.pid  # start_new_session: the host leads its own process group
        if proc.poll() is None:
            try:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if proc.poll() is None:
            proc.wait(timeout=timeout)
        for reader in self._readers:
            reader.join(timeout=2)
        self._readers.clear()
        self._ready.clear()

    def output(self) -> str:
        with self._lock:
            return "\n".join(self.lines)

    def wait_for_line(self, pattern: str, timeout: float = 10.0) -> str:
        """Wait until an output line matches the regex `pattern`; return it."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                for line in self.lines:
                    if regex.search(line):
                        return line
            if time.monotonic() > deadline:
                raise TimeoutError(f"no output line matched {pattern!r}:\n{self.output()}")
            time.sleep(0.02)

    def __enter__(self) -> LocalHost:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


__all__ = ["HOST_SCRIPT", "HostError", "LocalHost"]
