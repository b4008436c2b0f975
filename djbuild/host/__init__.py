"""Run a built `dist/` Python Worker locally: Pyodide under Node, Miniflare's KV, node:http.

    with LocalHost(Path("dist"), in_memory=True) as host:
        httpx.get(host.url + "/health")

`start()` returns the base URL once the host printed its ready line; `stop()` ends the whole
child process tree (Node and the workerd process Miniflare starts for KV). The host's latest
output lines (request log, worker stdout/stderr) are kept in `lines`, a bounded ring buffer;
`wait_for_line` looks only at lines that arrive from the moment it is called (or from a mark).
`startup` holds the host's startup report: the top level's CPU time against the budget, the
slowest modules, the isolate's memory and the limits in force.

With `control=True` the host takes commands on its stdin (never from HTTP traffic):
`reload(modules)` makes it import the worker again in place after dist/ changed, keeping
Node, Pyodide and KV's state; `startup` then describes a cold start of the new code.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from djbuild import toolchain

HOST_SCRIPT = Path(__file__).resolve().parent / "host.mjs"
READY_RE = re.compile(r"^djbuild-host ready (\S+) startup_ms=(\d+) import_ms=([\d.]+)")
STARTUP_PREFIX = "djbuild-host startup "
RELOADED_PREFIX = "djbuild-host reloaded "
MAX_LINES = 5000
DEFAULT_STARTUP_BUDGET_MS = 1000
Plan = Literal["free", "paid"]


class LineBuffer:
    """The host's latest output lines, oldest dropped first.

    Indices are absolute line numbers since the host started, so the idiom
    `mark = len(host.lines); ...; host.lines[mark:]` keeps working after old lines were
    dropped: `len()` counts every line ever read, slices give the held lines in that range.
    """

    def __init__(self, maxlen: int) -> None:
        self._held: deque[str] = deque(maxlen=maxlen)
        self.dropped = 0

    def append(self, line: str) -> None:
        if len(self._held) == self._held.maxlen:
            self.dropped += 1
        self._held.append(line)

    def __len__(self) -> int:
        return self.dropped + len(self._held)

    def __iter__(self) -> Iterator[str]:
        return iter(self._held)

    def __contains__(self, line: object) -> bool:
        return line in self._held

    def held(self) -> int:
        return len(self._held)

    def __getitem__(self, key: int | slice) -> Any:
        total = len(self)
        if isinstance(key, slice):
            start, stop, step = key.indices(total)
            start, stop = max(start, self.dropped), max(stop, self.dropped)
            return list(self._held)[start - self.dropped : stop - self.dropped : step]
        index = key + total if key < 0 else key
        if not self.dropped <= index < total:
            raise IndexError("line not held (dropped from the ring buffer, or not yet read)")
        return self._held[index - self.dropped]


@dataclass
class StartupReport:
    """How long the worker's top level took, as workerd would judge it."""

    import_ms: float = 0.0  # wall time
    import_cpu_ms: float = 0.0  # CPU time: what workerd's startup limit measures
    budget_ms: float = DEFAULT_STARTUP_BUDGET_MS
    over: bool = False
    memory_mb: float = 0.0
    top: list[tuple[str, float, float]] = field(default_factory=list)  # name, cumulative, self
    limits: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> StartupReport:
        data = json.loads(text)
        return cls(
            import_ms=float(data["import_ms"]),
            import_cpu_ms=float(data["import_cpu_ms"]),
            budget_ms=float(data["budget_ms"]),
            over=bool(data["over"]),
            memory_mb=float(data["memory_mb"]),
            top=[(str(n), float(c), float(o)) for n, c, o in data["top"]],
            limits=dict(data["limits"]),
        )

    def production_message(self) -> str:
        """workerd's words for a refused startup (deploy error 10021)."""
        return (
            f"Python Worker startup exceeded CPU limit "
            f"{self.import_cpu_ms:.0f}<={self.budget_ms:.0f} (measured on the local host)"
        )

    def top_table(self, count: int = 10) -> str:
        rows = [f"  {'module':<44} {'self ms':>9} {'cumulative ms':>14}"]
        for name, cumulative, own in self.top[:count]:
            rows.append(f"  {name:<44} {own:>9.1f} {cumulative:>14.1f}")
        return "\n".join(rows)


class HostError(RuntimeError):
    """The host could not start; the message carries its output."""


class ReloadError(RuntimeError):
    """An in-place reload failed (the new code raised, or the host did not answer)."""


@dataclass
class Reload:
    """What an in-place reload did: the modules imported again and how long it took."""

    modules: list[str]
    reload_ms: float  # the Python import, wall time
    reload_cpu_ms: float
    total_ms: float  # from the command's arrival to the answer, as the host saw it


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
        plan: Plan | None = None,
        cpu_ms: float | None = None,
        subrequests: int | None = None,
        startup_budget_ms: float | None = None,
        wait_until_ms: float | None = None,
        memory_every: int | None = None,
        workerd_clock: bool | None = None,
        max_lines: int = MAX_LINES,
        control: bool = False,
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
        self.plan = plan
        self.cpu_ms = cpu_ms
        self.subrequests = subrequests
        self.startup_budget_ms = startup_budget_ms
        self.wait_until_ms = wait_until_ms
        self.memory_every = memory_every
        if workerd_clock is None:  # lets a whole test suite run under workerd's clock
            workerd_clock = os.environ.get("DJBUILD_WORKERD_CLOCK", "") not in ("", "0")
        self.workerd_clock = workerd_clock
        self.control = control
        self.reloads = 0
        self._commands = 0
        self.lines = LineBuffer(maxlen=max_lines)
        self.startup: StartupReport | None = None
        self._new_line = threading.Condition()
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
        options: list[tuple[str, object]] = [
            ("--plan", self.plan),
            ("--cpu-ms", self.cpu_ms),
            ("--subrequests", self.subrequests),
            ("--startup-budget-ms", self.startup_budget_ms),
            ("--wait-until-ms", self.wait_until_ms),
            ("--memory-every", self.memory_every),
        ]
        for flag, value in options:
            if value is not None:
                args += [flag, str(value)]
        if self.workerd_clock:
            args.append("--workerd-clock")
        if self.control:
            args.append("--control-stdin")
        return args

    def start(self) -> str:
        """Start the host and wait for its ready line; return the base URL."""
        if self._proc is not None:
            raise RuntimeError("host already started")
        started = time.monotonic()
        self._proc = toolchain.run_node(
            self.command(),
            stdin=subprocess.PIPE if self.control else subprocess.DEVNULL,
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
                raise HostError(f"host exited with code {code}:\n" + self._tail(40))
            if time.monotonic() > deadline:
                self.stop()
                raise HostError(
                    f"host not ready after {self.start_timeout:.0f}s:\n" + self._tail(40)
                )
        # The startup report follows the ready line at once.
        deadline = time.monotonic() + 10
        while self.startup is None and time.monotonic() < deadline and self.running:
            time.sleep(0.01)
        return self.url

    def _tail(self, count: int) -> str:
        with self._lock:
            return "\n".join(self.lines[-count:])

    def _pump(self, stream: object) -> None:
        assert stream is not None
        for raw in stream:  # type: ignore[attr-defined]
            line = raw.rstrip("\n")
            with self._new_line:
                with self._lock:
                    self.lines.append(line)
                self._new_line.notify_all()
            if line.startswith(STARTUP_PREFIX) and self.startup is None:
                try:
                    self.startup = StartupReport.parse(line[len(STARTUP_PREFIX) :])
                except (ValueError, KeyError, TypeError):
                    pass
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

    def reload(self, modules: list[str], timeout: float = 60.0) -> Reload:
        """Import the worker again in place: `modules` (the edited ones and every module
        importing them) run afresh, the rest stays loaded. Needs `control=True`.

        Raises ReloadError when the new code does not import (the host then keeps serving
        the code it had) or the host does not answer in time.
        """
        proc = self._proc
        if not self.control or proc is None or proc.stdin is None:
            raise ReloadError("the host was not started with control=True")
        self._commands += 1
        ident = self._commands
        mark = self.mark()
        try:
            proc.stdin.write(json.dumps({"id": ident, "reload": sorted(modules)}) + "\n")
            proc.stdin.flush()
        except (OSError, ValueError) as exc:
            raise ReloadError(f"the host does not take commands: {exc}") from None
        pattern = "^" + re.escape(RELOADED_PREFIX + '{"id":' + str(ident) + ",")
        deadline = time.monotonic() + timeout
        while True:  # in slices, so that a host that died is noticed at once
            try:
                line = self.wait_for_line(pattern, timeout=0.5, since=mark)
                break
            except TimeoutError:
                if not self.running:
                    raise ReloadError("the host exited during the reload") from None
                if time.monotonic() > deadline:
                    raise ReloadError(f"the host did not reload within {timeout:.0f} s") from None
        answer = json.loads(line[len(RELOADED_PREFIX) :])
        if not answer.get("ok"):
            raise ReloadError(str(answer.get("error", "the reload failed")))
        report = StartupReport.parse(json.dumps(answer["report"]))
        self.startup = report
        self.import_ms = report.import_ms
        self.reloads += 1
        return Reload(
            modules=list(answer["modules"]),
            reload_ms=float(answer["reload_ms"]),
            reload_cpu_ms=float(answer["reload_cpu_ms"]),
            total_ms=float(answer["total_ms"]),
        )

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
        if proc.stdin is not None:
            try:
                proc.stdin.close()
            except OSError:
                pass
        for reader in self._readers:
            reader.join(timeout=2)
        self._readers.clear()
        self._ready.clear()

    def output(self) -> str:
        with self._lock:
            return "\n".join(self.lines)

    @property
    def lines_seen(self) -> int:
        """Every line read so far, including those the ring buffer dropped."""
        return len(self.lines)

    def mark(self) -> int:
        """A position in the output: pass it to `wait_for_line(since=...)`."""
        with self._lock:
            return len(self.lines)

    def wait_for_line(self, pattern: str, timeout: float = 10.0, since: int | None = None) -> str:
        """Wait until an output line matches the regex `pattern`; return it.

        Looks at the lines still held from `since` (a `mark()`; default: every held line)
        and then at each new line once, as it arrives: no rescans.
        """
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._new_line:
            with self._lock:
                pending = self.lines[(since or 0) :]
                seen = len(self.lines)
            while True:
                for line in pending:
                    if regex.search(line):
                        return line
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no output line matched {pattern!r}:\n{self._tail(60)}")
                self._new_line.wait(remaining)
                with self._lock:
                    pending = self.lines[seen:]
                    seen = len(self.lines)

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


def startup_budget(root: Path | str, option: float | None = None) -> float:
    """The startup budget in ms: the option, else `[tool.djbuild] startup_budget_ms`, else 1,000."""
    if option is not None:
        return float(option)
    pyproject = Path(root) / "pyproject.toml"
    if pyproject.exists():
        import tomllib

        settings = tomllib.loads(pyproject.read_text()).get("tool", {}).get("djbuild", {})
        value = settings.get("startup_budget_ms")
        if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
            return float(value)
    return float(DEFAULT_STARTUP_BUDGET_MS)


def check_startup(
    dist_dir: Path | str, *, budget_ms: float | None = None, start_timeout: float = 120.0
) -> StartupReport:
    """Start the built worker on the host, time its top level, stop; return the report."""
    with LocalHost(
        dist_dir, in_memory=True, startup_budget_ms=budget_ms, start_timeout=start_timeout
    ) as host:
        if host.startup is None:
            raise HostError("the host printed no startup report:\n" + host._tail(40))
        return host.startup


__all__ = [
    "HOST_SCRIPT",
    "HostError",
    "LocalHost",
    "Reload",
    "ReloadError",
    "StartupReport",
    "check_startup",
    "startup_budget",
]
