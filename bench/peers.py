"""Our runtime against its peers, and the DJ API against a bare worker, in one run.

    .venv/bin/python bench/peers.py [--rounds 3] [--slices 4] [--requests 2000] [--only bare ...] [--json]

The same two routes, `GET /api/health` (JSON) and `POST /api/echo` (a body validated by one
pydantic model: `message` 1-2000 characters, `mode` a Literal), written as:

- `bare`: a `WorkerEntrypoint` dispatching by hand, the SDK's `Response.json`, pydantic;
- `hayate`: hayate's current PyPI release, served with `to_workers`;
- `fastapi`: FastAPI served through the SDK's `asgi` adapter;
- `runtime`: our runtime (Router + App, no middleware), built by djbuild;
- `noop`: no framework at all, a `WorkerEntrypoint` whose `fetch` hands back a JS Response made
  once (after reading a POST's body, as any handler must): the most a Python framework can
  reach on this host (what it measures is the SDK's conversions around `fetch`, the host's
  HTTP and the isolate);

plus the DJ API built by djbuild: `GET /api/health` and an authenticated
`GET /api/spotify/playlists` against the fake Spotify, and (`dj_source`) the same health route
built without bytecode, to show what `[tool.djbuild] bytecode` buys.

Each worker is a tiny dist/ served by the local host (Node + Pyodide). Peers are vendored for
Pyodide when the bench runs, the way djbuild vendors (pip for pyemscripten_2026_0_wasm32,
Python 3.14, into djbuild's cache): nothing fetched is part of the repository. In each of
`--rounds` rounds every worker is started cold (its import time is measured inside Pyodide)
and all stay up; then each load (GET and POST at concurrency 8 and 32, from a separate
process, bench/loadgen.py, on the loopback address) runs in `--slices` short turns, the
workers taking turns slice by slice in a rotating order. The table shows medians of all
samples; each ratio (to hayate, to the bare worker) is the median of the ratios of samples
taken seconds apart, which the machine's drifting speed hardly moves.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from djbuild import toolchain, vendor  # noqa: E402
from djbuild.host import LocalHost  # noqa: E402

LOADGEN = Path(__file__).resolve().parent / "loadgen.py"
CONCURRENCIES = (8, 32)
ECHO_BODY = json.dumps({"message": "play something with a steady groove", "mode": "chat"})
JSON_HEADER = "Content-Type: application/json"

WRANGLER = """\
name = "bench-{name}"
main = "src/entry.py"
compatibility_date = "2026-09-10"
compatibility_flags = ["python_workers"]
"""

# The shared model, written once per peer in that peer's idiom.
MODEL = """\
from typing import Literal

from pydantic import BaseModel, Field


class Echo(BaseModel):
    message: str = Field(min_length=1, max_length=2000)
    mode: Literal["analyze", "chat"] = "analyze"
"""

BARE_ENTRY = (
    MODEL
    + """
from pydantic import ValidationError
from workers import Response, WorkerEntrypoint

HEALTH = {"status": "healthy"}


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        url = request.url
        path = url[url.index("/", url.index("//") + 2) :].split("?", 1)[0]
        if path == "/api/health" and request.method == "GET":
            return Response.json(HEALTH)
        if path == "/api/echo" and request.method == "POST":
            try:
                echo = Echo.model_validate_json(await request.text())
            except ValidationError as exc:
                return Response.json({"error": "invalid body", "issues": exc.errors(include_url=False, include_input=False)}, status=400)
            return Response.json({"message": echo.message, "mode": echo.mode, "length": len(echo.message)})
        return Response.json({"error": "Not found"}, status=404)
"""
)

NOOP_ENTRY = """\
import js
from pyodide.ffi import to_js
from workers import WorkerEntrypoint

_made = []


def _answer():
    if not _made:  # made on the first request: nothing JS is built at import
        body = to_js(b'{"status":"healthy"}')
        init = to_js(
            {"status": 200, "headers": [["content-type", "application/json"]]},
            dict_converter=js.Object.fromEntries,
        )
        _made.extend((js.Response, body, init))
    response, body, init = _made
    return response.new(body, init)


async def _after_body(request):
    await request.js_object.arrayBuffer()  # a POST handler must at least read the body
    return _answer()


class Default(WorkerEntrypoint):
    def fetch(self, request):
        if request.method == "POST":
            return _after_body(request)
        return _answer()
"""

HAYATE_ENTRY = (
    MODEL
    + """
from hayate import Hayate
from hayate.adapters.workers import to_workers
from hayate.validator import validator
from pydantic import TypeAdapter

app = Hayate()


@app.get("/api/health")
async def health(c):
    return c.json({"status": "healthy"})


@app.post("/api/echo", validator("json", TypeAdapter(Echo).validate_python))
async def echo(c):
    body = c.req.valid("json")
    return c.json({"message": body.message, "mode": body.mode, "length": len(body.message)})


Default = to_workers(app)
"""
)

FASTAPI_ENTRY = (
    MODEL
    + """
from fastapi import FastAPI
from workers import WorkerEntrypoint

app = FastAPI()


@app.get("/api/health")
async def health():
    return {"status": "healthy"}


@app.post("/api/echo")
async def echo(body: Echo):
    return {"message": body.message, "mode": body.mode, "length": len(body.message)}


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        import asgi

        return await asgi.fetch(app, request, self.env)
"""
)

RUNTIME_APP = (
    MODEL
    + """
from runtime import App, Context, Router

router = Router()


@router.get("/health")
async def health(c: Context) -> dict:
    return {"status": "healthy"}


@router.post("/echo", body=Echo)
async def echo(c: Context) -> dict:
    return {"message": c.body.message, "mode": c.body.mode, "length": len(c.body.message)}


app = App(title="bench", version="1")
app.route("/api", router)
"""
)

RUNTIME_PYPROJECT = """\
[project]
name = "bench-runtime-peer"
version = "0"

[tool.djbuild]
app = "peer_app:app"
"""


# -- building the workers -------------------------------------------------------------------


def _pydantic_pin() -> str:
    return f"pydantic=={metadata.version('pydantic')}"


def _vendored(requirements: list[str]) -> tuple[Path, dict[str, str]]:
    """Install `requirements` for Pyodide into a cache folder; name the versions pip chose.

    The same pip flags as djbuild's vendoring (pyemscripten_2026_0_wasm32, Python 3.14,
    cp314, wheels only). `pip download` resolves against Python 3.14; `pip install --target`
    would refuse packages that need Python >= 3.12 because it checks the interpreter running
    pip (3.11 may run the bench), so the chosen wheels are unpacked directly: for pure-Python
    and Pyodide wheels that is what an install does.
    """
    key = hashlib.sha256(json.dumps([sorted(requirements), vendor.PLATFORM]).encode()).hexdigest()
    target = vendor.cache_root() / "bench-peers" / key[:16]
    done = target / ".djbuild-complete"
    if not done.exists():
        wheels = target.with_name(target.name + ".wheels")
        shutil.rmtree(wheels, ignore_errors=True)
        cmd = [
            sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
            "--dest", str(wheels), "--platform", vendor.PLATFORM,
            "--python-version", vendor.PYTHON_VERSION, "--implementation", "cp",
            "--abi", vendor.ABI, "--only-binary=:all:", *requirements,
        ]  # fmt: skip
        print(f"bench: vendoring for Pyodide: {' '.join(requirements)}", file=sys.stderr)
        subprocess.run(cmd, check=True)
        shutil.rmtree(target, ignore_errors=True)
        for wheel in sorted(wheels.glob("*.whl")):
            with zipfile.ZipFile(wheel) as archive:
                archive.extractall(target)
        shutil.rmtree(wheels, ignore_errors=True)
        done.write_text("\n".join(requirements) + "\n")
    found = vendor.VendorSet(target, tuple(requirements), cached=True)
    versions = {name: version for name, version in found.distributions().values()}
    return target, versions


def _copy_tree(source: Path, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for entry in source.iterdir():
        if entry.name.startswith(".djbuild") or entry.name == "bin":
            continue
        if entry.is_dir():
            shutil.copytree(entry, target / entry.name, dirs_exist_ok=True)
        else:
            shutil.copy2(entry, target / entry.name)


def _sdk_dist(dist: Path, name: str, entry: str, requirements: list[str]) -> dict[str, str]:
    (dist / "src").mkdir(parents=True, exist_ok=True)
    (dist / "src" / "entry.py").write_text(entry)
    (dist / "wrangler.toml").write_text(WRANGLER.format(name=name))
    folder, versions = _vendored(requirements)
    _copy_tree(folder, dist / "python_modules")
    toolchain.vendor_workers_sdk(dist / "python_modules")
    return versions


def build_bare(dist: Path) -> dict[str, str]:
    return _sdk_dist(dist, "bare", BARE_ENTRY, [_pydantic_pin()])


def build_noop(dist: Path) -> dict[str, str]:
    return _sdk_dist(dist, "noop", NOOP_ENTRY, [_pydantic_pin()])


def build_hayate(dist: Path) -> dict[str, str]:
    return _sdk_dist(dist, "hayate", HAYATE_ENTRY, ["hayate", _pydantic_pin()])


def build_fastapi(dist: Path) -> dict[str, str]:
    return _sdk_dist(dist, "fastapi", FASTAPI_ENTRY, ["fastapi", _pydantic_pin()])


def build_runtime(dist: Path) -> dict[str, str]:
    from djbuild.build import build_project

    project = dist.parent / "project"
    project.mkdir(parents=True, exist_ok=True)
    (project / "pyproject.toml").write_text(RUNTIME_PYPROJECT)
    (project / "wrangler.toml").write_text(WRANGLER.format(name="runtime"))
    (project / "peer_app.py").write_text(RUNTIME_APP)
    build_project(project, dist, openapi=False)
    sys.modules.pop("peer_app", None)
    return {}


def build_dj(dist: Path) -> dict[str, str]:
    from djbuild.build import build_project

    build_project(ROOT, dist)  # as configured: the project's modules ship as bytecode
    return {}


def build_dj_source(dist: Path) -> dict[str, str]:
    from djbuild.build import build_project

    build_project(ROOT, dist, bytecode="off")  # every module from source, for comparison
    return {}


# -- one worker, one round ------------------------------------------------------------------


@dataclass
class Load:
    label: str  # "GET" or "POST"
    path: str
    method: str = "GET"
    body: str = ""
    headers: Callable[[], list[str]] = field(default=lambda: [])


@dataclass
class Worker:
    name: str
    title: str
    build: Callable[[Path], dict[str, str]]
    loads: list[Load]
    env_file: Callable[[], Path | None] = field(default=lambda: None)
    dist: Path | None = None
    versions: dict[str, str] = field(default_factory=dict)


PEER_LOADS = [
    Load("GET", "/api/health"),
    Load("POST", "/api/echo", "POST", ECHO_BODY, lambda: [JSON_HEADER]),
]


def run_load(url: str, load: Load, concurrency: int, requests: int, seconds: float) -> dict:
    cmd = [
        sys.executable, str(LOADGEN), url + load.path, "-X", load.method,
        "-c", str(concurrency), "-n", str(requests), "-t", str(seconds),
    ]  # fmt: skip
    if load.body:
        cmd += ["-d", load.body]
    for header in load.headers():
        cmd += ["-H", header]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60, check=True)
    return json.loads(out.stdout)


WARMUP = 100  # bench/loadgen.py's unmeasured requests before each load


def host_cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU seconds the host process has used so far (Linux), else None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def run_round(
    workers: list[Worker],
    requests: int,
    seconds: float,
    slices: int,
    say: Callable[[str], None],
    before_load: Callable[[], None],
) -> dict[str, list[dict[str, Any]]]:
    """One round: every worker started cold (its import timed inside Pyodide) and given one
    unmeasured load; then each load at each concurrency runs in `slices` short slices, the
    workers taking turns slice by slice (the order rotating), so that a figure and the one it
    is compared with are measured seconds apart. The machine's speed drifts over minutes; a
    ratio of neighbours hardly sees it. Returns, per worker, one sample per slice (the
    import time repeated in each).

    Beside req/s and latency, each slice records the host process's CPU time per request
    (warm-up included): it does not depend on how the two cores were shared with the load
    generator, so it is the steadier figure on a busy machine."""
    hosts: dict[str, LocalHost] = {}
    urls: dict[str, str] = {}
    samples: dict[str, list[dict[str, Any]]] = {}
    try:
        for w in workers:
            assert w.dist is not None
            hosts[w.name] = LocalHost(w.dist, in_memory=True, env_file=w.env_file())
            urls[w.name] = hosts[w.name].start()
            imported = hosts[w.name].import_ms
            samples[w.name] = [{"import_ms": imported} for _ in range(slices)]
        for w in workers:  # unmeasured: past the first requests' one-time costs (JIT tiers)
            for load in w.loads:
                before_load()
                run_load(urls[w.name], load, CONCURRENCIES[0], requests, seconds)
        keys = [(label, c) for label in ("GET", "POST") for c in CONCURRENCIES]
        for label, concurrency in keys:
            loaded = [(w, load) for w in workers for load in w.loads if load.label == label]
            for i in range(slices):
                turn = loaded[i % len(loaded) :] + loaded[: i % len(loaded)] if loaded else []
                for w, load in turn:
                    say(f"  {w.name} {label} c{concurrency} slice {i + 1}/{slices}")
                    before_load()
                    pid = hosts[w.name].pid
                    before = host_cpu_seconds(pid)
                    figures = run_load(urls[w.name], load, concurrency, requests, seconds)
                    after = host_cpu_seconds(pid)
                    if before is not None and after is not None:
                        served = figures["requests"] + WARMUP
                        figures["cpu_us"] = round((after - before) / served * 1e6, 1)
                    samples[w.name][i][f"{label} c{concurrency}"] = figures
        return samples
    finally:
        for host in hosts.values():
            host.stop()


# -- figures --------------------------------------------------------------------------------


def median_of(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"import_ms": round(statistics.median(r["import_ms"] for r in rounds), 1)}
    for key in rounds[0]:
        if key == "import_ms":
            continue
        out[key] = {
            stat: round(statistics.median(r[key][stat] for r in rounds), 2)
            for stat in ("rps", "p50_ms", "p99_ms", "errors", "requests", "cpu_us")
            if all(stat in r[key] for r in rounds)
        }
    return out


def ratios(samples: dict[str, list[dict[str, Any]]], base: str) -> dict[str, dict[str, float]]:
    """Per worker: req/s, p99 and CPU per request against `base` (req/s > 1 and the others
    < 1 are better), each the median of the ratios of samples taken side by side."""
    ref_samples = samples.get(base)
    if not ref_samples:
        return {}

    def paired(name: str, key: str, ref_key: str, stat: str) -> float | None:
        pairs = [
            (mine[key][stat], ref[ref_key][stat])
            for mine, ref in zip(samples[name], ref_samples, strict=True)
            if stat in mine.get(key, {}) and ref.get(ref_key, {}).get(stat)
        ]
        if not pairs:
            return None
        return round(statistics.median(a / b for a, b in pairs), 2)

    out: dict[str, dict[str, float]] = {}
    for name, mine in samples.items():
        imports = [(m["import_ms"], r["import_ms"]) for m, r in zip(mine, ref_samples, strict=True)]
        row: dict[str, float] = {
            "import": round(statistics.median(a / max(b, 0.1) for a, b in imports), 2)
        }
        for key in mine[0]:
            if key == "import_ms":
                continue
            # The DJ API's rows compare with the peers' GET (health) figures.
            ref_key = key if key in ref_samples[0] else "GET " + key.split(" ")[-1]
            for stat, suffix in (("rps", "rps"), ("p99_ms", "p99"), ("cpu_us", "cpu")):
                value = paired(name, key, ref_key, stat)
                if value is not None:
                    row[f"{key} {suffix}"] = value
        out[name] = row
    return out


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def print_table(workers: list[Worker], medians: dict[str, dict[str, Any]]) -> None:
    columns = [f"{label} c{c}" for label in ("GET", "POST") for c in CONCURRENCIES]
    print(f"\n{'worker':<34} {'import':>9}  " + "  ".join(f"{c:>24}" for c in columns))
    for w in workers:
        m = medians[w.name]
        cells = []
        for col in columns:
            key = col
            if w.name.startswith("dj") and col.startswith("GET"):
                key = col.replace("GET", w.loads[0].label)
            if key in m:
                v = m[key]
                cells.append(f"{v['rps']:7.0f} ({v['p50_ms']:5.1f} / {v['p99_ms']:5.1f})")
            else:
                cells.append("–")
        print(f"{w.title:<34} {m['import_ms']:7.0f}ms  " + "  ".join(f"{c:>24}" for c in cells))
    print("  cells: req/s (p50 / p99 ms), medians of all slices")
    print(f"\n{'host CPU per request':<34} {'':>9}  " + "  ".join(f"{c:>24}" for c in columns))
    for w in workers:
        m = medians[w.name]
        cells = []
        for col in columns:
            key = col.replace("GET", w.loads[0].label) if w.name.startswith("dj") else col
            cpu = m.get(key, {}).get("cpu_us")
            cells.append(f"{cpu:9.0f} µs" if cpu is not None else "–")
        print(f"{w.title:<34} {'':>9}  " + "  ".join(f"{c:>24}" for c in cells))
    print("  cells: CPU time of the host process per request served (lower is better)")


def print_ratios(title: str, table: dict[str, dict[str, float]]) -> None:
    print(f"\nratios to {title} (req/s: higher is better; p99, cpu and import: lower is better)")
    for name, row in table.items():
        text = ", ".join(f"{k} {v:.2f}" for k, v in row.items())
        print(f"  {name:<12} {text}")


# The goals this bench was written to check: (worker, base, measure, bound, higher is better).
TARGETS = [
    ("dj", "bare", "import", 1.2, False),
    ("dj", "bare", "GET c8 rps", 0.95, True),
    ("dj", "bare", "GET c32 rps", 0.95, True),
    *[("runtime", "hayate", f"{m} c{c} rps", 1.1, True) for m in ("GET", "POST") for c in (8, 32)],
    *[("runtime", "hayate", f"{m} c{c} p99", 1.0, False) for m in ("GET", "POST") for c in (8, 32)],
]


def target_lines(
    to_hayate: dict[str, dict[str, float]], to_bare: dict[str, dict[str, float]]
) -> list[str]:
    """One line per goal whose figures this run has: the ratio, the bound, met or missed."""
    lines = []
    for worker, base, measure, bound, higher in TARGETS:
        value = (to_bare if base == "bare" else to_hayate).get(worker, {}).get(measure)
        if value is None:
            continue
        met = value >= bound if higher else value <= bound
        sign = ">=" if higher else "<="
        lines.append(
            f"  {worker} {measure} vs {base}: {value:.2f} (goal {sign} {bound:.2f}) "
            + ("met" if met else "MISSED")
        )
    return ["\ngoals:", *lines] if lines else []


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--requests", type=int, default=2000, help="per load and round (after warm-ups)"
    )
    parser.add_argument(
        "--slices", type=int, default=4, help="each load split in this many interleaved turns"
    )
    parser.add_argument("--max-seconds", type=float, default=15.0, help="per load")
    parser.add_argument("--only", nargs="+", help="worker names to run (default: all)")
    parser.add_argument("--json", action="store_true", help="print one JSON document only")
    args = parser.parse_args()

    toolchain.ensure_node_modules()
    from fakes import start_all

    suite = None

    def dj_env() -> Path | None:
        assert env_path is not None
        return env_path

    def bearer() -> list[str]:
        assert suite is not None
        return [f"Authorization: Bearer {token[0]}"]

    token = [""]
    workers = [
        Worker("bare", "bare WorkerEntrypoint + pydantic", build_bare, PEER_LOADS),
        Worker("hayate", "hayate (to_workers)", build_hayate, PEER_LOADS),
        Worker("fastapi", "FastAPI via workers.asgi", build_fastapi, PEER_LOADS),
        Worker("runtime", "our runtime (Router + App)", build_runtime, PEER_LOADS),
        Worker("noop", "no framework (the ceiling)", build_noop, PEER_LOADS),
        Worker("dj", "DJ API GET /api/health", build_dj, [Load("GET", "/api/health")], dj_env),
        Worker(
            "dj_source",
            "DJ API without bytecode, GET /api/health",
            build_dj_source,
            [Load("GET", "/api/health")],
            dj_env,
        ),
        Worker(
            "dj_playlists",
            "DJ API GET /api/spotify/playlists",
            build_dj,
            [Load("GET", "/api/spotify/playlists", headers=bearer)],
            dj_env,
        ),
    ]
    if args.only:
        unknown = set(args.only) - {w.name for w in workers}
        if unknown:
            parser.error(f"unknown worker(s): {', '.join(sorted(unknown))}")
        workers = [w for w in workers if w.name in args.only]

    say = (lambda *_: None) if args.json else (lambda m: print(m, file=sys.stderr, flush=True))
    env_path: Path | None = None
    with tempfile.TemporaryDirectory(prefix="djbuild-peers-") as tmp:
        built: dict[Callable[[Path], dict[str, str]], tuple[Path, dict[str, str]]] = {}
        for w in workers:
            if w.build not in built:
                say(f"building {w.name} ...")
                dist = Path(tmp) / w.name / "dist"
                built[w.build] = (dist, w.build(dist))
            w.dist, w.versions = built[w.build]
        if any(w.name.startswith("dj") for w in workers):
            suite = start_all()
            env_path = Path(tmp) / "dj.dev.vars"
            env_path.write_text(suite.dev_vars() + "FRONTEND_URL=http://127.0.0.1:5173\n")

        def fresh_token() -> None:
            if suite is not None:
                token[0] = suite.spotify.issue_token()

        per_slice = max(200, args.requests // args.slices)
        try:
            rounds: dict[str, list[dict[str, Any]]] = {w.name: [] for w in workers}
            loads_seen = [load_average()]
            started = time.perf_counter()
            for r in range(args.rounds):
                order = workers[r % len(workers) :] + workers[: r % len(workers)]
                say(f"round {r + 1}/{args.rounds}: starting {', '.join(w.name for w in order)}")
                found = run_round(order, per_slice, args.max_seconds, args.slices, say, fresh_token)
                for name, samples in found.items():
                    rounds[name].extend(samples)
                loads_seen.append(load_average())
        finally:
            if suite is not None:
                suite.stop()
    medians = {name: median_of(rs) for name, rs in rounds.items()}
    report = {
        "rounds": args.rounds,
        "requests_per_load": args.requests,
        "slices": args.slices,
        "load_average": loads_seen,
        "seconds": round(time.perf_counter() - started, 1),
        "versions": {w.name: w.versions for w in workers if w.versions},
        "medians": medians,
        "ratio_to_hayate": ratios(rounds, "hayate"),
        "ratio_to_bare": ratios(rounds, "bare"),
        "samples": rounds,
    }
    if args.json:
        print(json.dumps(report, indent=1))
        return 0
    peer_versions = "; ".join(
        f"{w.name}: "
        + ", ".join(
            f"{d} {v}"
            for d, v in sorted(w.versions.items())
            if d.lower() in ("hayate", "fastapi", "pydantic")
        )
        for w in workers
        if w.versions
    )
    print_table(workers, medians)
    print_ratios("hayate", report["ratio_to_hayate"])
    print_ratios("the bare worker", report["ratio_to_bare"])
    ceiling = report["ratio_to_hayate"].get("noop", {})
    reach = ", ".join(
        f"{k[: -len(' rps')]} {v:.2f}x" for k, v in ceiling.items() if k.endswith(" rps")
    )
    if reach:
        print(
            f"\nthe ceiling: a worker with no framework at all runs at {reach} hayate's req/s;"
            " no Python framework on this host can outrun hayate by more than that"
        )
    for line in target_lines(report["ratio_to_hayate"], report["ratio_to_bare"]):
        print(line)
    print(
        f"\n{args.rounds} rounds of {args.slices} interleaved slices in {report['seconds']:.0f} s;"
        " load average "
        f"(1/5/15 min) before and after each round: {' | '.join(loads_seen)}; "
        f"{os.cpu_count()} CPUs; vendored: {peer_versions}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
