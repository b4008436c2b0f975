"""Local Worker host benchmark: cold start and requests/s of a JSON route.

    .venv/bin/python bench/host.py [--requests 3000] [--concurrency 8 32]

For the DJ API built by djbuild (GET /api/health through the whole runtime: routing,
middleware, pydantic) and for a bare `WorkerEntrypoint` answering the same JSON through the
SDK alone, measured in the same run, it prints the cold start (host start to first response,
and the worker module's import time inside Pyodide) and, per concurrency, requests/s with
p50/p99 latency, then our runtime's overhead as ratios against the bare worker. Load goes to 127.0.0.1 only, over keep-alive
HTTP/1.1 connections, bounded in count and in time.

`measure(dist_dir, path, concurrency, requests)` is reusable for any built dist/.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from djbuild import toolchain  # noqa: E402
from djbuild.host import LocalHost  # noqa: E402

BARE_ENTRY = """\
from workers import Response, WorkerEntrypoint


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return Response.json({"status": "healthy"})
"""

BARE_WRANGLER = """\
name = "bench-bare"
main = "src/entry.py"
compatibility_date = "2026-09-10"
compatibility_flags = ["python_workers"]
"""


def write_bare_dist(dist: Path) -> Path:
    """A dist/ with a bare WorkerEntrypoint returning JSON (the SDK vendored, nothing else)."""
    (dist / "src").mkdir(parents=True, exist_ok=True)
    (dist / "src" / "entry.py").write_text(BARE_ENTRY)
    (dist / "wrangler.toml").write_text(BARE_WRANGLER)
    toolchain.vendor_workers_sdk(dist / "python_modules")
    return dist


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    return status


async def _load(
    url: str, path: str, concurrency: int, requests: int, max_seconds: float
) -> tuple[list[float], int, float]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError("the benchmark only sends load to the loopback address")
    request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()
    latencies: list[float] = []
    errors = 0
    remaining = requests
    deadline = time.perf_counter() + max_seconds

    async def worker() -> None:
        nonlocal remaining, errors
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while remaining > 0 and time.perf_counter() < deadline:
                remaining -= 1
                started = time.perf_counter()
                writer.write(request)
                status = await _read_response(reader)
                latencies.append(time.perf_counter() - started)
                if status != 200:
                    errors += 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, errors, time.perf_counter() - started


def load(
    url: str, path: str, concurrency: int, requests: int, max_seconds: float = 30.0
) -> dict[str, float]:
    """Send `requests` GETs of `path` over `concurrency` connections; rps and latencies (ms)."""
    # Warm up the route (first-call costs inside Pyodide) before measuring.
    asyncio.run(_load(url, path, min(concurrency, 4), 50, 10.0))
    latencies, errors, elapsed = asyncio.run(_load(url, path, concurrency, requests, max_seconds))
    ordered = sorted(latencies)
    return {
        "concurrency": concurrency,
        "requests": len(latencies),
        "errors": errors,
        "seconds": round(elapsed, 3),
        "rps": round(len(latencies) / elapsed, 1) if elapsed else 0.0,
        "p50_ms": round(statistics.median(ordered) * 1000, 2) if ordered else 0.0,
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 2)
        if ordered
        else 0.0,
    }


def measure(dist_dir: Path, path: str, concurrency: int, requests: int) -> dict[str, float]:
    """Start a host on `dist_dir`, time its cold start, then load `path`; stop the host."""
    started = time.perf_counter()
    local = LocalHost(dist_dir, in_memory=True)
    try:
        url = local.start()
        asyncio.run(_load(url, path, 1, 1, 30.0))
        first_response_ms = (time.perf_counter() - started) * 1000
        result: dict[str, float] = {
            "cold_start_ms": round(first_response_ms, 1),
            "host_startup_ms": local.startup_ms,
            "import_ms": local.import_ms,
        }
        result.update(load(url, path, concurrency, requests))
        return result
    finally:
        local.stop()


def _line(label: str, result: dict[str, float]) -> str:
    return (
        f"  {label:<8} cold start {result['cold_start_ms']:6.0f} ms (worker import "
        f"{result['import_ms']:6.1f} ms) | {result['rps']:6.0f} req/s  p50 {result['p50_ms']:6.2f} ms"
        f"  p99 {result['p99_ms']:6.2f} ms  ({result['requests']:.0f} requests, {result['errors']:.0f} errors)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--path", default="/api/health")
    parser.add_argument("--json", action="store_true", help="print JSON lines only")
    args = parser.parse_args()
    toolchain.ensure_node_modules()
    from djbuild.build import build_project

    with tempfile.TemporaryDirectory(prefix="djbuild-bench-") as tmp:
        bare = write_bare_dist(Path(tmp) / "bare" / "dist")
        ours = Path(tmp) / "dj" / "dist"
        build_project(ROOT, ours)
        for concurrency in args.concurrency:
            b = measure(bare, args.path, concurrency, args.requests)
            o = measure(ours, args.path, concurrency, args.requests)
            if args.json:
                print(json.dumps({"bare": b, "runtime": o}))
                continue
            print(f"GET {args.path} at concurrency {concurrency}:")
            print(_line("bare SDK", b))
            print(_line("runtime", o))
            print(
                f"  runtime / bare: req/s {o['rps'] / b['rps']:.2f}, p50 {o['p50_ms'] / b['p50_ms']:.2f}, "
                f"p99 {o['p99_ms'] / b['p99_ms']:.2f}, import {o['import_ms'] / max(b['import_ms'], 0.1):.1f}x"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
