"""Build benchmark: cold and warm `djbuild build` times, and the bundle's size.

cold = empty djbuild cache (pydantic is vendored for Pyodide from scratch);
warm = cache filled (what every build after the first one sees).
Each run is a fresh `python -m djbuild.cli build` process, so imports are not reused.

    python bench/build.py [--cold N] [--warm N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_build(out: Path, cache: Path) -> tuple[float, dict]:
    env = dict(os.environ, DJBUILD_CACHE=str(cache))
    started = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "djbuild.cli",
            "build",
            "--root",
            str(ROOT),
            "--out",
            str(out),
            "--json",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"build failed:\n{proc.stderr}")
    return elapsed, json.loads(proc.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold", type=int, default=3)
    parser.add_argument("--warm", type=int, default=5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        cold = []
        for i in range(args.cold):
            seconds, report = run_build(base / f"cold{i}" / "dist", base / f"cache{i}")
            cold.append(seconds)
        warm_cache = base / "cache0"
        warm = []
        for i in range(args.warm):
            seconds, report = run_build(base / f"warm{i}" / "dist", warm_cache)
            warm.append(seconds)
        hashes = {
            run_build(base / "again" / "dist", warm_cache)[1]["bundleHash"],
            report["bundleHash"],
        }

    total = report["total"]
    print(f"djbuild build of the DJ API ({report['routes']} routes, {total['files']} modules)")
    print(
        f"  cold build  median {statistics.median(cold):6.2f} s  (n={len(cold)}, min {min(cold):.2f}, max {max(cold):.2f})"
    )
    print(
        f"  warm build  median {statistics.median(warm):6.2f} s  (n={len(warm)}, min {min(warm):.2f}, max {max(warm):.2f})"
    )
    print(f"  warm / cold {statistics.median(warm) / statistics.median(cold):6.2f}")
    print(f"  bundle raw  {total['raw'] / 1024:9.1f} KiB")
    print(
        f"  bundle gzip {total['gzip'] / 1024:9.1f} KiB  ({100 * total['gzip'] / (3 * 1024 * 1024):.0f}% of 3 MB free, "
        f"{100 * total['gzip'] / (10 * 1024 * 1024):.0f}% of 10 MB paid)"
    )
    for group in report["groups"]:
        print(
            f"    {group['group']:<34} {group['raw'] / 1024:9.1f} KiB raw {group['gzip'] / 1024:8.1f} KiB gzip"
        )
    print(
        f"  deterministic: {'yes' if len(hashes) == 1 else 'NO'} (bundle {sorted(hashes)[0][:16]})"
    )


if __name__ == "__main__":
    main()
