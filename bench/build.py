"""Build benchmark: warm and cold `djbuild build`, `djbuild check`, a `djbuild dev` rebuild.

Each figure is the median of N runs (default 5), each run a fresh process:

  warm build   `djbuild build` again with nothing changed (verify dist/ and reuse it)
  cold build   a fresh output folder and a cache that holds only the vendored packages and the
               npm packages (no build records, no scan cache, no shrunk project sources, no
               project bytecode; the npm packages' folder keeps the Pyodide snapshot the
               bytecode compiler boots from, made once per npm install)
  first build  a fresh output folder, every cache warm but no build record for it
  check        `djbuild check` with nothing changed, and after editing one route module
  dev rebuild  `djbuild dev` on a temp copy of the project: from saving an edited route
               module to the server answering with the new code (the host reloads the
               worker in place; the line says how many rebuilds did, from dev's log)

The machine's load (os.getloadavg) is printed with the figures, and each djbuild process's
CPU time (user + sys) beside its wall time: on a busy machine the wall times are upper bounds
and the CPU times the fairer figure. Targets: warm <= 1.0 s, cold <= 4 s, check <= 0.4 s, dev rebuild <= 1.5 s.

    python bench/build.py [--runs N] [--skip-dev]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from djbuild import toolchain, vendor  # noqa: E402

PROJECT_FILES = ("routes", "dj", "runtime", "public", "pyproject.toml", "wrangler.toml")


CPU: list[float] = []  # CPU seconds (user + sys) of each djbuild process, in run order


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def djbuild(*args: str, env: dict[str, str] | None = None, cwd: Path = ROOT) -> tuple[float, str]:
    cpu = _children_cpu()
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "djbuild.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env or dict(os.environ),
    )
    elapsed = time.perf_counter() - started
    CPU.append(_children_cpu() - cpu)
    if proc.returncode != 0:
        sys.exit(f"djbuild {' '.join(args)} failed:\n{proc.stderr}")
    return elapsed, proc.stdout


def median(runs: int, one: Callable[[int], float]) -> tuple[float, list[float], float]:
    """Median wall time of `runs` calls, the times, and the median CPU time of the calls."""
    cpu: list[float] = []
    times = []
    for i in range(runs):
        before = len(CPU)
        times.append(one(i))
        cpu.append(CPU[-1] if len(CPU) > before else float("nan"))
    return statistics.median(times), times, statistics.median(cpu)


def vendor_only_cache(base: Path) -> Path:
    """A cache root holding only the vendored packages and npm packages of the real one."""
    real = vendor.cache_root()
    cache = Path(tempfile.mkdtemp(prefix="cache-", dir=base))
    (cache / "vendor").symlink_to(real / "vendor")
    node = toolchain.node_packages_dir()
    (cache / node.name).symlink_to(node)
    return cache


def copy_project(dest: Path) -> Path:
    dest.mkdir(parents=True)
    for name in PROJECT_FILES:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, dest / name)
    return dest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.read().decode()
    except OSError:
        return None


def dev_rebuilds(base: Path, runs: int) -> tuple[list[float], str]:
    """Save an edited route module, poll until the served answer shows it."""
    project = copy_project(base / "devproject")
    port = free_port()
    url = f"http://127.0.0.1:{port}/api/health"
    log = (base / "dev.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "djbuild.cli", "dev", "--root", str(project), "--port", str(port)],
        cwd=project,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    times: list[float] = []
    try:
        deadline = time.monotonic() + 300
        while get(url) is None:
            if proc.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"djbuild dev did not start; see {base / 'dev.log'}")
            time.sleep(0.2)
        module = project / "routes" / "health.py"
        original = module.read_text()
        for i in range(runs):
            marker = f"healthy-{i}"
            time.sleep(1.1)  # a new modification time for the watcher
            module.write_text(original.replace('status="healthy"', f'status="{marker}"'))
            saved = time.perf_counter()
            deadline = time.monotonic() + 120
            while marker not in (get(url) or ""):
                if time.monotonic() > deadline:
                    sys.exit(f"the edit never showed; see {base / 'dev.log'}")
                time.sleep(0.02)
            times.append(time.perf_counter() - saved)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
    text = (base / "dev.log").read_text()
    how = (
        f"{text.count('djbuild dev: reloaded in place')} reloaded in place, "
        f"{text.count('djbuild dev: restarting the host')} restarts"
    )
    return times, how


def fmt(
    label: str, value: float, times: list[float], target: float | None, cpu: float | None = None
) -> str:
    goal = f"  target <= {target:.1f} s {'met' if value <= target else 'MISSED'}" if target else ""
    spread = ", ".join(f"{t:.2f}" for t in times)
    cpu_text = f"  CPU {cpu:5.2f} s" if cpu is not None else ""
    return f"  {label:<28} median {value:6.2f} s{cpu_text}  ({spread}){goal}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--skip-dev", action="store_true", help="Leave out the dev rebuild.")
    args = parser.parse_args()
    load_before = os.getloadavg()
    lines: list[str] = []
    with tempfile.TemporaryDirectory(prefix="djbuild-bench-") as tmp:
        base = Path(tmp)
        out = base / "dist"
        djbuild("build", "--root", str(ROOT), "--out", str(out))  # the build to reuse
        warm, warm_t, warm_cpu = median(
            args.runs, lambda i: djbuild("build", "--root", str(ROOT), "--out", str(out))[0]
        )
        lines.append(fmt("warm build (unchanged)", warm, warm_t, 1.0, warm_cpu))

        def cold(i: int) -> float:
            env = dict(os.environ, DJBUILD_CACHE=str(vendor_only_cache(base)))
            return djbuild("build", "--root", str(ROOT), "--out", str(base / f"c{i}"), env=env)[0]

        cold_m, cold_t, cold_cpu = median(args.runs, cold)
        lines.append(fmt("cold build (vendor cache)", cold_m, cold_t, 4.0, cold_cpu))
        first, first_t, first_cpu = median(
            args.runs,
            lambda i: djbuild("build", "--root", str(ROOT), "--out", str(base / f"f{i}"))[0],
        )
        lines.append(fmt("first build (warm caches)", first, first_t, None, first_cpu))

        check, check_t, check_cpu = median(
            args.runs, lambda i: djbuild("check", "--root", str(ROOT))[0]
        )
        lines.append(fmt("check (unchanged)", check, check_t, 0.4, check_cpu))
        edited = copy_project(base / "checkproject")
        module = edited / "routes" / "health.py"
        original = module.read_text()

        def check_after_edit(i: int) -> float:
            module.write_text(original.replace('"healthy"', f'"healthy-{i}"'))
            return djbuild("check", "--root", str(edited), cwd=edited)[0]

        djbuild("check", "--root", str(edited), cwd=edited)
        edit_m, edit_t, edit_cpu = median(args.runs, check_after_edit)
        lines.append(fmt("check (one route edited)", edit_m, edit_t, None, edit_cpu))
        if not args.skip_dev:
            dev_t, how = dev_rebuilds(base, args.runs)
            lines.append(fmt("dev rebuild (save->served)", statistics.median(dev_t), dev_t, 1.5))
            lines.append(f"  {'':<28} ({how})")
        _, report_text = djbuild("build", "--root", str(ROOT), "--out", str(out), "--json")
        report = json.loads(report_text)
    total = report["total"]
    print(f"djbuild on the DJ API ({report['routes']} routes, {total['files']} modules)")
    print("\n".join(lines))
    print(
        f"  bundle raw {total['raw'] / 1024:8.1f} KiB (target <= 5.5 MiB = 5632 KiB)"
        f"  gzip {total['gzip'] / 1024:7.1f} KiB (target <= 1.7 MiB = 1740.8 KiB)"
    )
    after = os.getloadavg()
    print(
        f"  load average before {load_before[0]:.2f}, after {after[0]:.2f} "
        f"({os.cpu_count()} cores): figures on a busy machine are upper bounds"
    )


if __name__ == "__main__":
    main()
