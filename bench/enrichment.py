"""Playlist analysis bench: cold and warm analysis of 100 tracks on the local host.

    .venv/bin/python bench/enrichment.py [--latency 0.05]

Builds the DJ API, serves it on Pyodide (in-memory Miniflare KV) against the fakes with
`latency` seconds added to every fake answer, and analyses the 100-track playlist twice:
cold (empty cache) then warm. Prints wall times, calls per service, the worst sliding
second at the fakes, and the ratio to the lower bound the limits allow. Then, on a fresh host,
a cold analysis with Deezer and Last.fm both answering 500, and the calls it cost them.

The bound:

* rate: every external call needs a token, 40 per 1.1 s window (the runtime's bucket), so
  N calls take at least (N - 40) / (40 / 1.1) s after the first burst;
* lanes: a lane of concurrency k at latency L completes at most k calls per L seconds, so
  a lane's n calls take at least n * L / k; Last.fm tracks are 2 sequential rounds
  (correction, then info/tags/similar together) and artists a third;
* MusicBrainz is paced to one call per 1.1 s (its published limit), so m calls take
  (m - 1) * 1.1 s;
the bound is the largest of these. Figures only; nothing is asserted.
"""

from __future__ import annotations

import argparse
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
from fakes import FakeSuite, start_all  # noqa: E402
from fakes.catalog import CATALOG, PLAYLIST_100  # noqa: E402
from fakes.spotify import DEV_TOKEN  # noqa: E402
from runtime.ratelimit import DEFAULT_LANES, GLOBAL_BURST, GLOBAL_RATE, WINDOW_SECONDS  # noqa: E402

SERVICES = ("spotify", "deezer", "lastfm", "musicbrainz")
LANE_OF = {"spotify": "spotify", "deezer": "deezer", "lastfm": "lastfm", "musicbrainz": "default"}
MB_INTERVAL = 1.1


def worst_second(times: list[float]) -> int:
    times = sorted(times)
    best = start = 0
    for end, t in enumerate(times):
        while t - times[start] >= 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best


def lower_bound(counts: dict[str, int], latency: float) -> tuple[float, dict[str, float]]:
    total = sum(counts.values())
    per_window = min(GLOBAL_RATE * WINDOW_SECONDS, GLOBAL_BURST)
    bounds = {"rate": max(0.0, (total - GLOBAL_BURST) / (per_window / WINDOW_SECONDS))}
    for service, n in counts.items():
        if n:
            bounds[f"lane:{service}"] = n * latency / DEFAULT_LANES[LANE_OF[service]]
    bounds["lastfm-chain"] = 3 * latency if counts.get("lastfm") else 0.0
    if counts.get("musicbrainz"):
        bounds["musicbrainz-pacing"] = (counts["musicbrainz"] - 1) * MB_INTERVAL
    return max(bounds.values()), bounds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--latency", type=float, default=0.05)
    args = parser.parse_args()

    suite = start_all()
    for name in SERVICES:
        getattr(suite, name).latency = args.latency
    tmp = Path(tempfile.mkdtemp(prefix="bench-enrichment-"))
    build_project(ROOT, tmp / "dist")
    (tmp / ".dev.vars").write_text(suite.dev_vars())
    host = LocalHost(tmp / "dist", in_memory=True, env_file=tmp / ".dev.vars")
    url = host.start()
    playlist = CATALOG.playlist_by_name(PLAYLIST_100).id
    print(f"latency {args.latency * 1000:.0f} ms per fake answer; 100-track playlist")
    try:
        with httpx.Client(base_url=url, timeout=300) as client:
            for run in ("cold", "warm"):
                suite.reset()
                started = time.perf_counter()
                r = client.get(
                    f"/api/spotify/playlists/{playlist}/analysis",
                    headers={"Authorization": f"Bearer {DEV_TOKEN}"},
                )
                elapsed = time.perf_counter() - started
                counts = {s: len(getattr(suite, s).calls) for s in SERVICES}
                arrivals = [c.arrived for s in SERVICES for c in getattr(suite, s).calls]
                bound, parts = lower_bound(counts, args.latency)
                body = r.json()
                print(f"\n{run}: HTTP {r.status_code} in {elapsed:.2f} s")
                print("  calls: " + ", ".join(f"{s} {n}" for s, n in counts.items()))
                print(f"  worst sliding second at the fakes: {worst_second(arrivals)} calls")
                print(
                    "  lower bound: "
                    + ", ".join(f"{k} {v:.2f} s" for k, v in parts.items())
                    + f" -> {bound:.2f} s"
                )
                if bound > 0:
                    print(f"  ratio to the bound: {elapsed / bound:.2f}")
                dz = body.get("deezer_analysis") or {}
                lf = body.get("lastfm_analysis") or {}
                print(
                    f"  deezer checked {dz.get('total_checked')}, found {dz.get('tracks_found')};"
                    f" last.fm sample {lf.get('sample_size')}, artists {lf.get('artists_enriched')}"
                )
    finally:
        host.stop()
    try:
        dead_upstreams(suite, tmp, playlist)
    finally:
        suite.stop()


def dead_upstreams(suite: FakeSuite, tmp: Path, playlist: str) -> None:
    """Deezer and Last.fm answering 500 to everything, on a fresh host (nothing cached):
    the per-request circuit breaker should keep their calls to a lane-full each."""
    host = LocalHost(tmp / "dist", in_memory=True, env_file=tmp / ".dev.vars")
    url = host.start()
    try:
        suite.reset()
        suite.deezer.inject("*", 500)
        suite.lastfm.inject("*", 500)
        started = time.perf_counter()
        r = httpx.get(
            f"{url}/api/spotify/playlists/{playlist}/analysis",
            headers={"Authorization": f"Bearer {DEV_TOKEN}"},
            timeout=300,
        )
        elapsed = time.perf_counter() - started
        counts = {s: len(getattr(suite, s).calls) for s in SERVICES}
        body = r.json()
        print(f"\ndead Deezer + dead Last.fm (cold): HTTP {r.status_code} in {elapsed:.2f} s")
        print("  calls: " + ", ".join(f"{s} {n}" for s, n in counts.items()))
        print(
            f"  deezer + last.fm calls: {counts['deezer'] + counts['lastfm']} (limit 20); "
            f"sections: deezer {'null' if body.get('deezer_analysis') is None else 'present'}, "
            f"last.fm {'null' if body.get('lastfm_analysis') is None else 'present'}"
        )
        suite.reset()
    finally:
        host.stop()


if __name__ == "__main__":
    main()
