"""Soak: held SSE streams plus a steady mix of requests, watching the host's memory.

    .venv/bin/python bench/soak.py [--streams 50] [--rate 150] [--seconds 60]

Builds the DJ API, serves it on the local host (in-memory KV) against the fakes, then for
`seconds` keeps `streams` player streams (`GET /api/player/stream`) open, reopening any
that ends, while sending `rate` requests per second spread over a mix of routes (health,
playlists, player state, devices, me, mix current, a search, a bad body). Everything goes
to 127.0.0.1, bounded in time and in concurrency (a request due while `MAX_IN_FLIGHT` are
still unanswered is not sent, and counted). Prints, per route and overall, requests
sent, errors (a 5xx or no answer), p50/p99 latency, the achieved rate, the stream events
received, and the host process's resident memory at start, middle and end (it should level
off, not grow with the requests served). Figures only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from djbuild.build import build_project  # noqa: E402
from djbuild.host import LocalHost  # noqa: E402
from fakes import start_all  # noqa: E402
from fakes.catalog import CATALOG, PLAYLIST_100  # noqa: E402
from fakes.spotify import DEV_TOKEN  # noqa: E402

AUTH = {"Authorization": f"Bearer {DEV_TOKEN}"}
MAX_IN_FLIGHT = 96


def mixed_routes() -> list[tuple[str, str, str, dict | None]]:
    """(label, method, path, json body) in the proportions sent."""
    pid = CATALOG.playlist_by_name(PLAYLIST_100).id
    return [
        ("health", "GET", "/api/health", None),
        ("health", "GET", "/api/health", None),
        ("playlists", "GET", "/api/spotify/playlists?limit=20", None),
        ("tracks", "GET", f"/api/spotify/playlists/{pid}/tracks?limit=20", None),
        ("state", "GET", "/api/player/state", None),
        ("devices", "GET", "/api/player/devices", None),
        ("me", "GET", "/api/spotify/me", None),
        ("mix current", "GET", "/api/mix/current", None),
        ("search", "POST", "/api/spotify/search", {"query": "love", "type": "track"}),
        ("bad body", "POST", "/api/player/seek", {"position_ms": True}),
    ]


def rss_kb(pid: int | None) -> int:
    """Resident memory of the host process and its children, in KiB (Linux /proc)."""
    if pid is None:
        return 0
    total = 0
    family = {pid}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) in family:
            family.add(int(stat.parent.name))
    for member in family:
        try:
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


async def hold_stream(client: httpx.AsyncClient, stop: float, events: list[int]) -> None:
    while time.monotonic() < stop:
        try:
            async with client.stream("GET", "/api/player/stream", headers=AUTH) as r:
                async for line in r.aiter_lines():
                    if line.startswith("event:"):
                        events[0] += 1
                    if time.monotonic() >= stop:
                        return
        except httpx.HTTPError:
            events[1] += 1
            await asyncio.sleep(0.5)


async def one_request(
    client: httpx.AsyncClient,
    route: tuple[str, str, str, dict | None],
    results: dict[str, list[float]],
    errors: dict[str, int],
    gate: asyncio.Semaphore,
) -> None:
    label, method, path, body = route
    async with gate:
        started = time.perf_counter()
        try:
            r = await client.request(method, path, headers=AUTH, json=body)
            failed = r.status_code >= 500
        except httpx.HTTPError:
            failed = True
        results.setdefault(label, []).append(time.perf_counter() - started)
        if failed:
            errors[label] = errors.get(label, 0) + 1


async def soak(url: str, pid: int | None, streams: int, rate: float, seconds: float) -> None:
    limits = httpx.Limits(max_connections=streams + MAX_IN_FLIGHT + 8)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:
        memory = [("start", rss_kb(pid))]
        start = time.monotonic()
        stop = start + seconds
        events = [0, 0]
        holders = [asyncio.create_task(hold_stream(client, stop, events)) for _ in range(streams)]
        routes = mixed_routes()
        results: dict[str, list[float]] = {}
        errors: dict[str, int] = {}
        gate = asyncio.Semaphore(MAX_IN_FLIGHT)
        pending: set[asyncio.Task[None]] = set()
        sent = shed = 0
        middle_taken = False
        while (now := time.monotonic()) < stop:
            due = int((now - start) * rate)
            while sent + shed < due:
                if len(pending) >= MAX_IN_FLIGHT:  # the host is behind: count, do not queue
                    shed += 1
                    continue
                task = asyncio.create_task(
                    one_request(client, routes[sent % len(routes)], results, errors, gate)
                )
                pending.add(task)
                task.add_done_callback(pending.discard)
                sent += 1
            if not middle_taken and now - start >= seconds / 2:
                memory.append(("middle", rss_kb(pid)))
                middle_taken = True
            await asyncio.sleep(0.005)
        memory.append(("end", rss_kb(pid)))
        await asyncio.gather(*pending, return_exceptions=True)
        await asyncio.gather(*holders, return_exceptions=True)
        elapsed = time.monotonic() - start
        await asyncio.sleep(5)
        memory.append(("5 s after", rss_kb(pid)))

    print(f"\n{streams} player streams held, {rate:g} req/s asked for, {seconds:g} s")
    print(f"{'route':<12} {'sent':>6} {'errors':>6} {'p50 ms':>8} {'p99 ms':>8}")
    everything: list[float] = []
    for label, times in sorted(results.items()):
        everything += times
        print(
            f"{label:<12} {len(times):>6} {errors.get(label, 0):>6} "
            f"{_pct(times, 50):>8.1f} {_pct(times, 99):>8.1f}"
        )
    total_errors = sum(errors.values())
    print(
        f"{'all':<12} {len(everything):>6} {total_errors:>6} "
        f"{_pct(everything, 50):>8.1f} {_pct(everything, 99):>8.1f}"
    )
    print(f"achieved {len(everything) / elapsed:.1f} req/s over {elapsed:.1f} s")
    print(f"not sent ({MAX_IN_FLIGHT} already in flight: the host was behind): {shed}")
    print(f"stream events received {events[0]}, stream failures {events[1]}")
    print("host memory (RSS): " + ", ".join(f"{k} {v / 1024:.1f} MiB" for k, v in memory))


def _pct(values: list[float], pct: int) -> float:
    if not values:
        return 0.0
    if len(values) == 1:
        return values[0] * 1000
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--streams", type=int, default=50)
    parser.add_argument("--rate", type=float, default=150.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    if not (0 < args.seconds <= 600 and 0 < args.rate <= 1000 and 0 <= args.streams <= 200):
        parser.error("bounded: seconds 0-600, rate 0-1000, streams 0-200")

    suite = start_all(demo_playback=True)
    tmp = Path(tempfile.mkdtemp(prefix="bench-soak-"))
    try:
        build_project(ROOT, tmp / "dist")
        (tmp / ".dev.vars").write_text(
            suite.dev_vars()
            + f"PLAYER_STREAM_LIFETIME_SECONDS={int(args.seconds) + 30}\n"
            + "SSE_HEARTBEAT_SECONDS=15\n"
        )
        host = LocalHost(tmp / "dist", in_memory=True, env_file=tmp / ".dev.vars")
        url = host.start()
        try:
            asyncio.run(soak(url, host.pid, args.streams, args.rate, args.seconds))
        finally:
            host.stop()
    finally:
        suite.stop()


if __name__ == "__main__":
    main()
