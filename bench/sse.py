"""SSE on the local host: time to first byte, per-event delivery delay, events per second.

Builds `tests/apps/sse_app.py` to a temporary dist, serves it with the local host (Pyodide
under Node) on 127.0.0.1 and reads streams over HTTP with httpx, for one stream and for N
concurrent streams. Delivery delay is arrival time minus the send time stamped into each
event by the worker (the same machine clock). All loops are bounded.

    .venv/bin/python bench/sse.py [--streams 50] [--events 2000]
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

import httpx

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from djbuild.build import build_project  # noqa: E402
from djbuild.host import LocalHost  # noqa: E402

APP = "tests.apps.sse_app:app"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def read_stream(client: httpx.AsyncClient, url: str) -> dict[str, object]:
    """Open `url`; return header time, first-byte time, per-event delays and event count."""
    started = time.perf_counter()
    wall_offset = time.time() - started
    delays: list[float] = []
    first_byte = 0.0
    buffer = b""
    events = 0
    async with client.stream("GET", url) as r:
        headers = time.perf_counter() - started
        async for chunk in r.aiter_raw():
            now = time.perf_counter()
            if not first_byte:
                first_byte = now - started
            buffer += chunk
            *blocks, buffer = buffer.split(b"\n\n")
            for block in blocks:
                if not block.startswith(b"data: "):
                    continue
                obj = json.loads(block[6:])
                if obj["type"] == "tick":
                    events += 1
                    delays.append((now + wall_offset - obj["data"]["t"]) * 1000)
    return {
        "headers": headers * 1000,
        "first_byte": first_byte * 1000,
        "delays": delays,
        "events": events,
        "seconds": time.perf_counter() - started,
    }


async def bench(base: str, streams: int, events: int) -> list[str]:
    limits = httpx.Limits(max_connections=streams + 5, max_keepalive_connections=streams + 5)
    lines = []
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        await read_stream(client, f"{base}/api/sse/stream?n=5")  # warm up
        ttfb = [await read_stream(client, f"{base}/api/sse/stream?n=1") for _ in range(30)]
        lines.append(
            "time to first byte (1 stream, 30 runs): headers p50 "
            f"{statistics.median(r['headers'] for r in ttfb):.1f} ms, first event p50 "
            f"{statistics.median(r['first_byte'] for r in ttfb):.1f} ms, p99 "
            f"{pct([r['first_byte'] for r in ttfb], 0.99):.1f} ms"
        )

        paced = await read_stream(client, f"{base}/api/sse/stream?n=200&gap_ms=5")
        d = paced["delays"]
        lines.append(
            f"delivery delay, 1 stream, 200 events 5 ms apart: p50 {pct(d, 0.5):.2f} ms, "
            f"p99 {pct(d, 0.99):.2f} ms"
        )

        burst = await read_stream(client, f"{base}/api/sse/stream?n={events}")
        lines.append(
            f"throughput, 1 stream, {events} events back to back: "
            f"{burst['events'] / burst['seconds']:.0f} events/s "
            f"(delay p50 {pct(burst['delays'], 0.5):.1f} ms, p99 {pct(burst['delays'], 0.99):.1f} ms)"
        )

        started = time.perf_counter()
        many = await asyncio.gather(
            *(
                read_stream(client, f"{base}/api/sse/stream?n=40&gap_ms=25&tag={k}")
                for k in range(streams)
            )
        )
        d = [x for r in many for x in r["delays"]]
        lines.append(
            f"delivery delay, {streams} concurrent streams, 40 events 25 ms apart each: "
            f"p50 {pct(d, 0.5):.2f} ms, p99 {pct(d, 0.99):.2f} ms; first event p50 "
            f"{statistics.median(r['first_byte'] for r in many):.1f} ms "
            f"({time.perf_counter() - started:.2f} s)"
        )

        per_stream = max(1, events // streams)
        started = time.perf_counter()
        many = await asyncio.gather(
            *(
                read_stream(client, f"{base}/api/sse/stream?n={per_stream}&tag={k}")
                for k in range(streams)
            )
        )
        elapsed = time.perf_counter() - started
        total = sum(int(r["events"]) for r in many)  # type: ignore[call-overload]
        d = [x for r in many for x in r["delays"]]
        lines.append(
            f"throughput, {streams} concurrent streams x {per_stream} events back to back: "
            f"{total / elapsed:.0f} events/s (delay p50 {pct(d, 0.5):.1f} ms, "
            f"p99 {pct(d, 0.99):.1f} ms)"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--streams", type=int, default=50)
    parser.add_argument("--events", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result = build_project(ROOT, Path(tmp) / "dist", app=APP)
        assert result.out_dir is not None
        host = LocalHost(result.out_dir, port=0, host="127.0.0.1", in_memory=True)
        base = host.start()
        try:
            print(f"local host (Pyodide under Node) at {base}, import {host.import_ms:.0f} ms")
            for line in asyncio.run(bench(base, args.streams, args.events)):
                print(line)
        finally:
            host.stop()


if __name__ == "__main__":
    main()
