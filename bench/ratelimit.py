"""Rate limiter bench: achieved rate, worst 1-second window, time against the lower bound.

Runs the real `OutboundClient` (budget, lanes, token bucket, logging) against an in-process
fake upstream with a configurable latency, on the real asyncio clock. Prints figures; asserts
nothing.

    python bench/ratelimit.py                  # the default scenarios
    python bench/ratelimit.py --calls 300 --lane deezer --latency 0.05
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from runtime.budget import SubrequestTracker
from runtime.http import Headers
from runtime.logging import ServiceLogger
from runtime.outbound import OutboundClient, OutboundRequest, TransportResponse
from runtime.ratelimit import DEFAULT_LANES, GLOBAL_BURST, GLOBAL_RATE


class FakeUpstream:
    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.starts: list[float] = []
        self.in_flight = 0
        self.peak = 0

    async def send(self, request: OutboundRequest) -> TransportResponse:
        self.starts.append(time.monotonic())
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await asyncio.sleep(self.latency)
        finally:
            self.in_flight -= 1
        return TransportResponse(200, Headers({"Content-Type": "application/json"}), b"{}")


def worst_window(starts: list[float], width: float = 1.0) -> int:
    ordered = sorted(starts)
    best = 0
    j = 0
    for i, t in enumerate(ordered):
        while j < len(ordered) and ordered[j] < t + width:
            j += 1
        best = max(best, j - i)
    return best


def lower_bound(calls: int, latency: float, cap: int) -> float:
    # At most 40 calls may start in any one-second window: the last batch of 40 starts
    # (ceil(N/40) - 1) seconds after the first.
    rate_bound = (math.ceil(calls / GLOBAL_BURST) - 1) * 1.0 + latency
    lane_bound = math.ceil(calls / cap) * latency
    return max(rate_bound, lane_bound)


async def scenario(calls: int, lane: str, latency: float) -> None:
    upstream = FakeUpstream(latency)
    client = OutboundClient(
        upstream,
        subrequests=SubrequestTracker(10_000),
        logger=ServiceLogger("bench", sink=lambda line: None),
    )
    started = time.monotonic()
    results = await asyncio.gather(
        *(client.fetch(service=lane, url=f"https://upstream.test/{i}") for i in range(calls))
    )
    elapsed = time.monotonic() - started
    assert all(r.ok for r in results)
    cap = DEFAULT_LANES.get(lane, DEFAULT_LANES["default"])
    bound = lower_bound(calls, latency, cap)
    span = max(upstream.starts) - min(upstream.starts)
    rate = (calls - 1) / span if span else float("inf")
    print(
        f"{lane:<11} N={calls:<4} latency={latency * 1000:>4.0f}ms cap={cap:<2} | "
        f"elapsed {elapsed:5.2f}s bound {bound:5.2f}s ratio {elapsed / bound:4.2f} | "
        f"achieved {rate:5.1f}/s = {rate / GLOBAL_RATE:4.2f} of 40/s | "
        f"worst 1s window {worst_window(upstream.starts):2d} (limit {GLOBAL_BURST}) | "
        f"peak in flight {upstream.peak} (cap {cap})"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int)
    parser.add_argument("--lane", default="deezer")
    parser.add_argument("--latency", type=float, default=0.02)
    args = parser.parse_args()
    if args.calls:
        await scenario(args.calls, args.lane, args.latency)
        return
    print(f"token bucket {GLOBAL_RATE:g}/s burst {GLOBAL_BURST}; lanes {dict(DEFAULT_LANES)}")
    for calls, lane, latency in [
        (200, "deezer", 0.02),  # rate-bound
        (200, "lastfm", 0.2),  # rate-bound, latency hidden by 10 slots
        (60, "anthropic", 0.25),  # lane-bound (2 slots)
        (100, "spotify", 0.15),  # lane-bound (5 slots)
        (120, "musicbrainz", 0.05),  # default lane (3 slots)
    ]:
        await scenario(calls, lane, latency)


if __name__ == "__main__":
    asyncio.run(main())
