"""Python 3.14 bytecode for the bundle, compiled by the same Pyodide the Worker runs.

A Python Worker imports its modules at every cold start, and importing from source means
compiling: measured on the local host (Pyodide 314), compiling was about a third of the DJ API's
start-up CPU, against a 1,000 ms budget workerd enforces at upload. Bytecode loads about ten
times faster than the source compiles.

How it reaches Python in production: workerd exposes every module of the upload (Python, text
and data modules alike) as a file under /session/metadata, and Python imports `name.pyc` when
there is no `name.py` beside it. So with `[tool.djbuild] bytecode = "project"` the build
writes `dj/analysis.pyc` in place of `dj/analysis.py` for every project module but the entry,
and dist/wrangler.toml uploads `*.pyc` as data modules; with "all" the vendored packages'
modules too (wrangler uploads python_modules/ as data, minus `**/*.pyc` unless told otherwise).

Bytecode must come from the exact Python the Worker runs (its magic number is checked on
import), so it is compiled inside Pyodide under djbuild's Node, once per source content: the
results are cached by hash in djbuild's cache. Column positions are left out
(PYTHONNODEBUGRANGES): tracebacks keep file and line, and the files are a quarter smaller.
The trade: a .pyc is about 2.5 times its shrunk source, raw and gzipped.

What a build without cached bytecode waits for: booting Pyodide from scratch took 5.7 s of CPU
here (it compiles its own start-up modules from source, in WebAssembly), compiling the DJ
API's 84 modules (400 KB shrunk) about 1 s. So the compile script restores a memory snapshot
of a freshly booted interpreter, made once per npm install (0.5 s), and the build starts it
right after importing the app, handing it each module as soon as the shrunk form exists:
both overlap the checks and the import walk.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

from . import shrink, toolchain, vendor

SCRIPT = Path(__file__).resolve().parent / "node" / "compile_bytecode.mjs"
SNAPSHOT_SCRIPT = SCRIPT.with_name("pyodide_snapshot.mjs")
WORKER_ROOT = "/session/metadata"  # where workerd puts the upload's modules
CACHE_TAG = "cpython-314"  # the Workers' Python the build targets (see djbuild.render)


class BytecodeError(RuntimeError):
    pass


def shown_path(rel: str) -> str:
    """The file name tracebacks show for dist-relative `rel` (src/... or python_modules/...)."""
    inner = rel.removeprefix("src/")
    return f"{WORKER_ROOT}/{inner}"


def _key(source: bytes, shown: str) -> str:
    digest = hashlib.sha256(f"{_lockfile_key()}\0{shown}\0".encode())
    digest.update(source)
    return digest.hexdigest()


_LOCKFILE_KEYS: dict[tuple[int, ...], str] = {}


def _lockfile_key() -> str:
    """toolchain.lockfile_key(), hashed again only when the npm files change (a build asks
    once per module: reading and hashing the lockfile each time cost 30 ms a build)."""
    stats = [p.stat() for p in (toolchain.PACKAGE_JSON, toolchain.PACKAGE_LOCK)]
    state = tuple(n for st in stats for n in (st.st_mtime_ns, st.st_size, st.st_ino))
    if state not in _LOCKFILE_KEYS:
        _LOCKFILE_KEYS.clear()
        _LOCKFILE_KEYS[state] = toolchain.lockfile_key()
    return _LOCKFILE_KEYS[state]


def _cache_dir(rel: str) -> Path:
    """Vendored packages' bytecode is kept with the vendored packages (it is made once per
    package version, like them); the project's in a cache of its own."""
    if rel.startswith("python_modules/"):
        return vendor.cache_root() / "vendor" / "bytecode"
    return vendor.cache_root() / "bytecode"


def compile_sources(
    sources: dict[str, bytes],
    *,
    compile_missing: bool = True,
    compiler: Compiler | None = None,
) -> dict[str, bytes]:
    """Bytecode for each dist-relative `.py` path in `sources`, from the cache where it can.

    The rest is compiled by `compiler` (one the build started early, see `Compiler`), else by
    one started now. With `compile_missing=False` (`djbuild dev`'s rebuilds, which must not
    wait for Pyodide to start) only cached bytecode is returned: the caller ships the other
    sources as they are."""
    out: dict[str, bytes] = {}
    missing: dict[str, str] = {}  # rel -> cache key
    for rel, source in sources.items():
        key = _key(source, shown_path(rel))
        cached = _cache_dir(rel) / f"{key}.pyc"
        if cached.exists():
            out[rel] = cached.read_bytes()
        else:
            missing[rel] = key
    if missing and compile_missing:
        compiled = (compiler or Compiler()).compile({rel: sources[rel] for rel in missing})
        for rel, data in compiled.items():
            cache = _cache_dir(rel)
            cache.mkdir(parents=True, exist_ok=True)
            part = cache / f"{missing[rel]}.pyc.part"
            part.write_bytes(data)
            part.replace(cache / f"{missing[rel]}.pyc")
            out[rel] = data
    return out


class EarlyCompiler:
    """The `Compiler` a build starts ahead of its write when it will need one, so Pyodide
    boots (and compiles) while the build imports the app, checks it and walks its imports."""

    def __init__(self) -> None:
        self.compiler: Compiler | None = None

    def start_if_cold(self) -> None:
        """Start now (before the app is even imported) if no project bytecode is cached at
        all: a fresh cache, so the build will compile whatever the project holds."""
        folder = vendor.cache_root() / "bytecode"
        try:
            with os.scandir(folder) as entries:
                if any(entry.name.endswith(".pyc") for entry in entries):
                    return
        except OSError:
            pass  # no folder yet
        self._start()

    def start_if_missing(self, root: Path, paths: list[Path], shrink_cache: Path) -> None:
        """Start (unless started) if a project source file in `paths` (under `root`) has no
        bytecode cached yet, and hand each such file over as soon as its shrunk form reaches
        `shrink_cache` (the build's prefetch workers put it there), so most of the compiling
        is done by the time the build asks.

        A guess made before the build knows what it ships: what it asks for and was not
        handed over is compiled then."""
        pending: list[tuple[str, Path]] = []  # dist path, where its shrunk form will be
        base = Path(os.path.realpath(root))
        for path in paths:
            try:
                data = path.read_bytes()
                rel = "src/" + Path(os.path.realpath(path)).relative_to(base).as_posix()
            except (OSError, ValueError):
                continue
            shrunk_file = shrink.cache_file(data, shrink_cache)
            shrunk = _read(shrunk_file)
            if shrunk is None or not _cached_path(rel, shrunk).exists():
                pending.append((rel, shrunk_file))
        if pending and self.compiler is None:
            self._start()
        if pending and self.compiler is not None:
            self.compiler.feed_when_shrunk(pending)

    def _start(self) -> None:
        if not (toolchain.node_packages_dir() / "node_modules").is_dir():
            return  # npm packages not installed yet: the write installs them, after the checks
        try:
            self.compiler = Compiler()
        except (BytecodeError, toolchain.ToolchainError):
            pass  # left to the write, which says why

    def close(self) -> None:
        """Stop the compiler if the build did not use it (it failed first, or found all of
        its bytecode cached)."""
        if self.compiler is not None:
            self.compiler.close()


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def _cached_path(rel: str, source: bytes) -> Path:
    return _cache_dir(rel) / f"{_key(source, shown_path(rel))}.pyc"


def snapshot_path(node_modules: Path) -> Path:
    """Where the compile script keeps its Pyodide memory snapshot: beside the npm packages it
    is made from (their folder is named after the lockfile), named after the scripts that make
    it (its boot options are part of the snapshot)."""
    digest = hashlib.sha256(SCRIPT.read_bytes() + SNAPSHOT_SCRIPT.read_bytes()).hexdigest()[:12]
    return node_modules.parent / f"pyodide-compiler-{digest}.snapshot"


class Compiler:
    """A Node process compiling sources in Pyodide, started before the sources are known.

    Pyodide boots while the build goes on (from a memory snapshot: about half a second of
    CPU; the first boot after installing the npm packages makes the snapshot, seconds).
    Sources may be handed over ahead (`feed_when_shrunk`); `compile` returns the bytecode of
    the ones asked for and ends the process, `close` ends it unused."""

    POLL = 0.05  # seconds between looks at the shrink cache

    def __init__(self) -> None:
        node_modules = toolchain.ensure_node_modules()
        snapshot = snapshot_path(node_modules)
        self._work = Path(tempfile.mkdtemp(prefix="djbuild-bytecode-"))
        try:
            self._proc = toolchain.run_node(
                [SCRIPT, node_modules, snapshot, self._work],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        except OSError as exc:
            shutil.rmtree(self._work, ignore_errors=True)
            raise BytecodeError(f"Node did not start to compile bytecode: {exc}") from None
        self._sent: dict[tuple[str, str], str] = {}  # (shown path, sha256 of source) -> file
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._feeder: threading.Thread | None = None

    def _send(self, sources: dict[str, bytes]) -> dict[str, str]:
        """Write the sources not handed over yet to the work folder and queue them; the file
        name of each source, by dist path."""
        names: dict[str, str] = {}
        jobs = []
        with self._lock:
            for rel, source in sorted(sources.items()):
                shown = shown_path(rel)
                ident = (shown, hashlib.sha256(source).hexdigest())
                if ident not in self._sent:
                    self._sent[ident] = f"m{len(self._sent)}.py"
                    (self._work / self._sent[ident]).write_bytes(source)
                    jobs.append([self._sent[ident], shown])
                names[rel] = self._sent[ident]
            if jobs and self._proc.stdin is not None:
                self._proc.stdin.write(json.dumps(jobs) + "\n")
                self._proc.stdin.flush()
        return names

    def feed_when_shrunk(self, pending: list[tuple[str, Path]]) -> None:
        """In a background thread, hand over each dist path in `pending` once its shrunk
        form (what the build will compile) is in the file named beside it, until all are sent
        or `compile`/`close` is called."""

        def feed() -> None:
            left = list(pending)
            while left and not self._stop.is_set():
                ready: dict[str, bytes] = {}
                waiting = []
                for rel, shrunk_file in left:
                    shrunk = _read(shrunk_file)
                    if shrunk is None:
                        waiting.append((rel, shrunk_file))
                    elif not _cached_path(rel, shrunk).exists():
                        ready[rel] = shrunk
                left = waiting
                try:
                    self._send(ready)
                except (OSError, ValueError):
                    return  # the process is gone: `compile` reports why
                self._stop.wait(self.POLL if left else 0)

        self._feeder = threading.Thread(target=feed, name="djbuild-bytecode-feed", daemon=True)
        self._feeder.start()

    def _stop_feeding(self) -> None:
        self._stop.set()
        if self._feeder is not None:
            self._feeder.join()

    def compile(self, sources: dict[str, bytes]) -> dict[str, bytes]:
        """Bytecode for each dist-relative path in `sources`; the process ends with it."""
        self._stop_feeding()
        names: dict[str, str] = {}
        try:
            names = self._send(sources)
        except (OSError, ValueError):
            pass  # the process is gone: its exit code and stderr say why
        results: dict[str, bytes] = {}
        try:
            stdout, stderr = self._proc.communicate()
            if self._proc.returncode == BOOT_FAILED:
                raise BytecodeError(f"Pyodide did not start to compile bytecode: {_tail(stderr)}")
            failed = dict(
                json.loads(line.removeprefix("error "))
                for line in stdout.splitlines()
                if line.startswith("error ")
            )
            for rel, name in sorted(names.items()):
                if name in failed:
                    shown = shown_path(rel)
                    detail = _python_error(failed[name]) or _tail(failed[name])
                    lines = re.findall(rf'File "{re.escape(shown)}", line (\d+)', failed[name])
                    where = f", line {lines[-1]}" if lines else ""
                    raise BytecodeError(
                        f"compiling {shown}{where} to bytecode in Pyodide failed: {detail}"
                    )
            if self._proc.returncode != 0 or len(names) != len(sources):
                raise BytecodeError(f"compiling to bytecode in Pyodide failed: {_tail(stderr)}")
            tags = [line for line in stdout.splitlines() if not line.startswith("error ")]
            tag = tags[-1].strip() if tags else ""
            if tag != CACHE_TAG:
                raise BytecodeError(
                    f"Pyodide compiled for {tag or 'an unknown Python'}, not {CACHE_TAG}"
                )
            for rel, name in names.items():
                results[rel] = (self._work / (name + "c")).read_bytes()
        finally:
            shutil.rmtree(self._work, ignore_errors=True)
        return results

    def close(self) -> None:
        """End the process if `compile` was not called (no job: it leaves at once)."""
        if self._proc.returncode is None:
            self._stop_feeding()
            try:
                self._proc.communicate()
            finally:
                shutil.rmtree(self._work, ignore_errors=True)


BOOT_FAILED = 3  # the compile script's exit code when Pyodide did not start


def _tail(text: str) -> str:
    return text.strip()[-2000:] or "no output"


def _python_error(stderr: str) -> str:
    """The Python exception line of a failed compile (e.g. a SyntaxError), if there is one."""
    for line in reversed(stderr.splitlines()):
        if line.startswith(("SyntaxError", "py_compile.PyCompileError", "ValueError")):
            return line.strip()
    return ""
