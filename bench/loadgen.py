"""A small HTTP/1.1 load generator for the benchmarks, run as its own process.

    .venv/bin/python bench/loadgen.py http://127.0.0.1:PORT/api/health -c 8 -n 3000
    .venv/bin/python bench/loadgen.py URL -X POST -d '{"message": "hi"}' -H 'Content-Type: application/json'

Keep-alive connections (one per unit of concurrency) on the loopback address only, a bounded
number of requests and a bounded time; a warm-up phase first (not measured). Prints one JSON
object: requests, errors (non-2xx or broken connections), seconds, rps, p50_ms, p99_ms.
It runs in its own process so that its CPU does not compete, under one GIL, with the fake
upstreams or the host's output readers of the process that drives the benchmark.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from urllib.parse import urlsplit

LOOPBACK = ("127.0.0.1", "localhost", "::1")


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length = None
    chunked = False
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value.strip())
        elif name == "transfer-encoding" and "chunked" in value.lower():
            chunked = True
    if length is not None:
        await reader.readexactly(length)
    elif chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    return status


def build_request(
    url: str, method: str = "GET", body: bytes = b"", headers: list[str] | None = None
) -> tuple[str, int, bytes]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    if host not in LOOPBACK:
        raise ValueError("load goes to the loopback address only")
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}:{port}"]
    lines += headers or []
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    return host, port, ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def run(
    host: str, port: int, request: bytes, concurrency: int, requests: int, max_seconds: float
) -> tuple[list[float], int, float]:
    latencies: list[float] = []
    errors = 0
    remaining = requests
    deadline = time.perf_counter() + max_seconds

    async def connection() -> None:
        nonlocal remaining, errors
        try:
            reader, writer = await asyncio.open_connection(host, port)
        except OSError:
            errors += 1
            return
        try:
            while remaining > 0 and time.perf_counter() < deadline:
                remaining -= 1
                started = time.perf_counter()
                writer.write(request)
                try:
                    status = await _read_response(reader)
                except (OSError, asyncio.IncompleteReadError, ValueError):
                    errors += 1
                    return
                latencies.append(time.perf_counter() - started)
                if not 200 <= status < 300:
                    errors += 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(concurrency)))
    return latencies, errors, time.perf_counter() - started


def summarise(latencies: list[float], errors: int, elapsed: float) -> dict[str, float]:
    ordered = sorted(latencies)
    n = len(ordered)
    return {
        "requests": n,
        "errors": errors,
        "seconds": round(elapsed, 3),
        "rps": round(n / elapsed, 1) if elapsed > 0 else 0.0,
        "p50_ms": round(statistics.median(ordered) * 1000, 2) if n else 0.0,
        "p99_ms": round(ordered[min(n - 1, int(n * 0.99))] * 1000, 2) if n else 0.0,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url")
    parser.add_argument("-X", "--method", default="GET")
    parser.add_argument("-d", "--data", default="", help="request body")
    parser.add_argument("-H", "--header", action="append", default=[], help="'Name: value'")
    parser.add_argument("-c", "--concurrency", type=int, default=8)
    parser.add_argument("-n", "--requests", type=int, default=3000)
    parser.add_argument("-t", "--max-seconds", type=float, default=20.0)
    parser.add_argument("-w", "--warmup", type=int, default=100, help="unmeasured requests first")
    args = parser.parse_args(argv)
    host, port, request = build_request(
        args.url, args.method.upper(), args.data.encode(), args.header
    )
    if args.warmup:
        asyncio.run(run(host, port, request, min(args.concurrency, 4), args.warmup, 10.0))
    latencies, errors, elapsed = asyncio.run(
        run(host, port, request, args.concurrency, args.requests, args.max_seconds)
    )
    result = {"concurrency": args.concurrency, **summarise(latencies, errors, elapsed)}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
