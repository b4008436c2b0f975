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
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import tempfile
from pathlib import Path

from . import toolchain, vendor

SCRIPT = Path(__file__).resolve().parent / "node" / "compile_bytecode.mjs"
WORKER_ROOT = "/session/metadata"  # where workerd puts the upload's modules
CACHE_TAG = "cpython-314"  # the Workers' Python the build targets (see djbuild.render)


class BytecodeError(RuntimeError):
    pass


def shown_path(rel: str) -> str:
    """The file name tracebacks show for dist-relative `rel` (src/... or python_modules/...)."""
    inner = rel.removeprefix("src/")
    return f"{WORKER_ROOT}/{inner}"


def _key(source: bytes, shown: str) -> str:
    digest = hashlib.sha256(f"{toolchain.lockfile_key()}\0{shown}\0".encode())
    digest.update(source)
    return digest.hexdigest()


def _cache_dir(rel: str) -> Path:
    """Vendored packages' bytecode is kept with the vendored packages (it is made once per
    package version, like them); the project's in a cache of its own."""
    if rel.startswith("python_modules/"):
        return vendor.cache_root() / "vendor" / "bytecode"
    return vendor.cache_root() / "bytecode"


def compile_sources(sources: dict[str, bytes], *, compile_missing: bool = True) -> dict[str, bytes]:
    """Bytecode for each dist-relative `.py` path in `sources`, from the cache where it can.

    With `compile_missing=False` (`djbuild dev`'s rebuilds, which must not wait for Pyodide
    to start) only cached bytecode is returned: the caller ships the other sources as they are."""
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
        compiled = _compile_in_pyodide({rel: sources[rel] for rel in missing})
        for rel, data in compiled.items():
            cache = _cache_dir(rel)
            cache.mkdir(parents=True, exist_ok=True)
            part = cache / f"{missing[rel]}.pyc.part"
            part.write_bytes(data)
            part.replace(cache / f"{missing[rel]}.pyc")
            out[rel] = data
    return out


def _compile_in_pyodide(sources: dict[str, bytes]) -> dict[str, bytes]:
    node_modules = toolchain.ensure_node_modules()
    with tempfile.TemporaryDirectory(prefix="djbuild-bytecode-") as tmp:
        work = Path(tmp)
        jobs = []
        names: dict[str, str] = {}
        for index, (rel, source) in enumerate(sorted(sources.items())):
            name = f"m{index}.py"
            (work / name).write_bytes(source)
            jobs.append([name, shown_path(rel)])
            names[rel] = name
        (work / "jobs.json").write_text(json.dumps(jobs))
        proc = toolchain.run_node(
            [SCRIPT, node_modules, work],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        stdout, stderr = proc.communicate()
        if proc.returncode != 0:
            detail = _python_error(stderr) or stderr.strip()[-2000:]
            raise BytecodeError(f"compiling to bytecode in Pyodide failed: {detail}")
        tag = stdout.strip().splitlines()[-1] if stdout.strip() else ""
        if tag != CACHE_TAG:
            raise BytecodeError(
                f"Pyodide compiled for {tag or 'an unknown Python'}, not {CACHE_TAG}"
            )
        return {rel: (work / (name + "c")).read_bytes() for rel, name in names.items()}


def _python_error(stderr: str) -> str:
    """The Python exception line of a failed compile (e.g. a SyntaxError), if there is one."""
    for line in reversed(stderr.splitlines()):
        if line.startswith(("SyntaxError", "py_compile.PyCompileError", "ValueError")):
            return line.strip()
    return ""
