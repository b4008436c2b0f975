"""Where a Worker's startup and per-request time go, measured inside Pyodide on the local host.

    .venv/bin/python bench/import_profile.py [--worker dj|runtime|bare] [--starts 3]
                                             [--dispatches 500] [--top 25] [--json]

The worker is built (the DJ API by djbuild, or a peer from bench/peers.py), then its entry is
wrapped: the wrapper patches `importlib._bootstrap._find_and_load` (what `import` calls for a
module not yet loaded; the same hook `-X importtime` reports from) to time every module's
import, self and cumulative, before importing the real entry. Each of `--starts` cold starts
reports its table; modules are listed by median self time, then summed by top-level package.
The count of pydantic models and TypeAdapters built while importing is printed too.

Then, in the last host, `--dispatches` in-process requests of `GET /api/health` go through the
same path as the host's dispatch (`python_from_rpc`, a new `Default(ctx, env)`, `fetch`,
`python_to_rpc`): once timed, once under cProfile, whose top functions are printed. In-process
timing leaves HTTP, Node and the load generator out, so it is steadier on a busy machine than
req/s. The wrapper adds one route, `GET /__bench/profile`, that only exists in this bench.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
for folder in (ROOT, BENCH):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from djbuild import toolchain  # noqa: E402
from djbuild.host import LocalHost  # noqa: E402

MARK = "bench-import-profile "

WRAPPER = '''\
"""Bench wrapper around the real entry (bench/import_profile.py): times every import."""

import importlib._bootstrap as _bootstrap
import json as _json
import time as _time

_records = []
_stack = []
_original = _bootstrap._find_and_load


def _timed_find_and_load(name, import_):
    started = _time.perf_counter()
    _stack.append(0.0)
    try:
        return _original(name, import_)
    finally:
        total = _time.perf_counter() - started
        children = _stack.pop()
        _records.append((name, (total - children) * 1000.0, total * 1000.0))
        if _stack:
            _stack[-1] += total


_bootstrap._find_and_load = _timed_find_and_load
_started = _time.perf_counter()
_models = {}  # module -> [count, ms] of pydantic model classes built while importing
try:
    from pydantic._internal import _model_construction as _mc
except ImportError:
    _mc = None
if _mc is not None:
    _model_new = _mc.ModelMetaclass.__new__

    def _timed_model_new(mcs, name, bases, namespace, *args, **kwargs):
        began = _time.perf_counter()
        try:
            return _model_new(mcs, name, bases, namespace, *args, **kwargs)
        finally:
            spent = (_time.perf_counter() - began) * 1000.0
            entry = _models.setdefault(namespace.get("__module__", "?"), [0, 0.0])
            entry[0] += 1
            entry[1] += spent

    _mc.ModelMetaclass.__new__ = _timed_model_new
import _bench_real_entry as _real  # noqa: E402

_total = (_time.perf_counter() - _started) * 1000.0
_bootstrap._find_and_load = _original
if _mc is not None:
    _mc.ModelMetaclass.__new__ = _model_new


def _count_models():
    import sys

    pydantic = sys.modules.get("pydantic")
    if pydantic is None:
        return 0
    seen = set()
    todo = [pydantic.BaseModel]
    while todo:
        for sub in type.__subclasses__(todo.pop()):
            if sub not in seen:
                seen.add(sub)
                todo.append(sub)
    return len(seen)


def _compile_times():
    """Milliseconds it takes to compile each loaded module's source, by top-level package.

    The bundle ships sources only, so every cold start compiles them: this is that share of
    the modules' self times."""
    import sys

    out = {}
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None) or ""
        if not path.endswith(".py") or not path.startswith("/session/"):
            continue
        try:
            with open(path, "rb") as handle:
                source = handle.read()
        except OSError:
            continue
        began = _time.perf_counter()
        compile(source, path, "exec", dont_inherit=True)
        top = name.split(".", 1)[0]
        out[top] = out.get(top, 0.0) + (_time.perf_counter() - began) * 1000.0
    return out


_report = {
    "total_ms": _total,
    "models": _count_models(),
    "modules": _records,
    "model_builds": _models,
    "compile_ms": _compile_times(),
}
print("__MARK__" + _json.dumps(_report), flush=True)


async def _dispatch_loop(ctx, env, n, url, method="GET", body=None):
    from inspect import isawaitable

    import js
    import workers
    from pyodide.ffi import to_js

    init = None
    if body is not None:
        init = to_js(
            {"method": method, "body": body, "headers": [["content-type", "application/json"]]},
            dict_converter=js.Object.fromEntries,
        )
    for _ in range(n):
        js_request = js.Request.new(url, init) if init is not None else js.Request.new(url)
        response = _real.Default(ctx, env).fetch(workers.python_from_rpc(js_request))
        if isawaitable(response):
            response = await response
        response = workers.python_to_rpc(response)
        if response.status >= 400:
            raise RuntimeError(f"dispatch answered {response.status}")


async def _profile(ctx, env, query, origin):
    import cProfile
    import io
    import pstats
    from urllib.parse import parse_qs

    params = parse_qs(query)
    n = int(params.get("n", ["500"])[0])
    top = int(params.get("top", ["30"])[0])
    url = origin + params.get("path", ["/api/health"])[0]
    method = params.get("method", ["GET"])[0]
    body = params.get("body", [None])[0]
    await _dispatch_loop(ctx, env, 50, url, method, body)  # warm up
    started = _time.perf_counter()
    await _dispatch_loop(ctx, env, n, url, method, body)
    per_request_us = (_time.perf_counter() - started) / n * 1e6
    profiler = cProfile.Profile()
    profiler.enable()
    await _dispatch_loop(ctx, env, n, url, method, body)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return {"per_request_us": per_request_us, "n": n, "profile": out.getvalue()}


class Default(_real.Default):
    async def fetch(self, request):
        url = request.url
        if "/__bench/profile" in url:
            from urllib.parse import urlsplit

            import js

            parts = urlsplit(url)
            result = await _profile(self.ctx, self.env, parts.query, f"{parts.scheme}://{parts.netloc}")
            return js.Response.new(_json.dumps(result))
        return await super().fetch(request)
'''


def wrap(dist: Path) -> None:
    """Make dist/src/entry.py the timing wrapper around the real entry."""
    src = dist / "src"
    (src / "entry.py").rename(src / "_bench_real_entry.py")
    (src / "entry.py").write_text(WRAPPER.replace("__MARK__", MARK))


def build(worker: str, dist: Path) -> None:
    import peers

    builders = {
        "dj": peers.build_dj,
        "runtime": peers.build_runtime,
        "bare": peers.build_bare,
        "hayate": peers.build_hayate,
        "fastapi": peers.build_fastapi,
    }
    builders[worker](dist)


def package_of(name: str) -> str:
    return name.split(".", 1)[0]


def summarise(starts: list[dict[str, Any]], top: int) -> dict[str, Any]:
    per_module: dict[str, list[tuple[float, float]]] = {}
    for start in starts:
        for name, self_ms, total_ms in start["modules"]:
            per_module.setdefault(name, []).append((self_ms, total_ms))
    rows = [
        (
            name,
            statistics.median(s for s, _ in values),
            statistics.median(t for _, t in values),
        )
        for name, values in per_module.items()
    ]
    rows.sort(key=lambda r: r[1], reverse=True)
    packages: dict[str, float] = {}
    for name, self_ms, _ in rows:
        packages[package_of(name)] = packages.get(package_of(name), 0.0) + self_ms
    builds: dict[str, list[float]] = {}
    counts: dict[str, int] = {}
    for start in starts:
        for module, (count, ms) in start.get("model_builds", {}).items():
            builds.setdefault(module, []).append(ms)
            counts[module] = count
    model_rows = sorted(
        ((m, counts[m], statistics.median(v)) for m, v in builds.items()),
        key=lambda r: r[2],
        reverse=True,
    )
    compile_ms: dict[str, list[float]] = {}
    for start in starts:
        for package, ms in start.get("compile_ms", {}).items():
            compile_ms.setdefault(package, []).append(ms)
    return {
        "compile_ms": {
            p: round(statistics.median(v), 1)
            for p, v in sorted(compile_ms.items(), key=lambda kv: -statistics.median(kv[1]))
        },
        "model_build_ms": round(sum(ms for _, _, ms in model_rows), 1),
        "model_builds": [
            {"module": m, "models": c, "ms": round(ms, 1)} for m, c, ms in model_rows[:top]
        ],
        "total_ms": statistics.median(s["total_ms"] for s in starts),
        "host_import_ms": statistics.median(s["host_import_ms"] for s in starts),
        "models": starts[-1]["models"],
        "module_count": len(rows),
        "packages": dict(sorted(packages.items(), key=lambda kv: kv[1], reverse=True)),
        "modules": [
            {"module": n, "self_ms": round(s, 2), "cumulative_ms": round(t, 2)}
            for n, s, t in rows[:top]
        ],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--worker", choices=("dj", "runtime", "bare", "hayate", "fastapi"), default="dj"
    )
    parser.add_argument("--dist", type=Path, help="profile this built dist/ instead")
    parser.add_argument("--starts", type=int, default=3, help="cold starts for import times")
    parser.add_argument("--dispatches", type=int, default=500, help="0: no request profile")
    parser.add_argument("--path", default="/api/health", help="route for the request profile")
    parser.add_argument("--post", help="dispatch POSTs of this JSON body to --path instead")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    toolchain.ensure_node_modules()

    cleanup: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="djbuild-importprof-") as tmp:
        dist = Path(tmp) / "dist"
        if args.dist is not None:
            # A sibling copy, so paths relative to the dist (assets) still resolve.
            dist = args.dist.resolve().parent / (args.dist.name + ".import-profile")
            shutil.rmtree(dist, ignore_errors=True)
            shutil.copytree(args.dist, dist)
            cleanup.append(dist)
        else:
            build(args.worker, dist)
        wrap(dist)
        starts: list[dict[str, Any]] = []
        request_profile: dict[str, Any] | None = None
        for index in range(args.starts):
            host = LocalHost(dist, in_memory=True)
            try:
                url = host.start()
                line = host.wait_for_line("^" + MARK, timeout=30)
                start = json.loads(line[len(MARK) :])
                start["host_import_ms"] = host.import_ms
                starts.append(start)
                if index == args.starts - 1 and args.dispatches:
                    query = urlencode(
                        {"n": args.dispatches, "top": args.top, "path": args.path}
                        | ({"method": "POST", "body": args.post} if args.post else {})
                    )
                    with urllib.request.urlopen(
                        f"{url}/__bench/profile?{query}", timeout=300
                    ) as answer:
                        request_profile = json.loads(answer.read())
            finally:
                host.stop()
    for folder in cleanup:
        shutil.rmtree(folder, ignore_errors=True)
    summary = summarise(starts, args.top)
    if request_profile is not None:
        summary["dispatch"] = request_profile
    if args.json:
        print(json.dumps(summary, indent=1))
        return 0
    print(
        f"import of the entry, median of {len(starts)} cold starts: {summary['total_ms']:.0f} ms "
        f"(host's figure {summary['host_import_ms']:.0f} ms); {summary['module_count']} modules; "
        f"{summary['models']} pydantic models built"
    )
    print(
        f"\npydantic model classes built while importing: {summary['model_build_ms']:.0f} ms "
        "(inside the modules' self times below); by module:"
    )
    for row in summary["model_builds"]:
        print(f"  {row['module']:<48} {row['models']:4d} models {row['ms']:8.1f} ms")
    print(
        "\ncompiling the sources of the modules loaded from the bundle (part of their self "
        "times; no bytecode ships): "
        + ", ".join(f"{p} {ms:.0f} ms" for p, ms in summary["compile_ms"].items())
    )
    print("\nby top-level package (self time, ms):")
    for name, ms in summary["packages"].items():
        if ms >= 1.0:
            print(f"  {name:<32} {ms:8.1f}")
    print(f"\ntop {args.top} modules by self time (ms):")
    for row in summary["modules"]:
        print(
            f"  {row['module']:<48} self {row['self_ms']:8.1f}  cumulative {row['cumulative_ms']:8.1f}"
        )
    if request_profile is not None:
        print(
            f"\n{request_profile['n']} in-process dispatches of "
            f"{'POST' if args.post else 'GET'} {args.path}: "
            f"{request_profile['per_request_us']:.0f} µs per request (no profiler)\n"
        )
        print(request_profile["profile"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
