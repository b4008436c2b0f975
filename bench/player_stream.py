"""The player stream's cost: server time per poll and calls per 5-minute stream, against the
subrequest budget (950 per request).

Builds the worker of `tests/dj/test_player_stream_worker.py` (the real `GET
/api/player/stream` router, plus test routes to seed a mix session in KV), serves it with the
local host (Pyodide under Node) on 127.0.0.1 against the local fakes, and runs one stream
with its lifetime compressed: the same number of polls as a 5-minute stream (300), `--poll`
seconds apart, while the fake player changes track every `--track-every` seconds to tracks
that are all in the seeded queue, so each transition does its whole job (GET /me once, BPM
lookup, KV read and write). It prints:

* per poll: the worker's own processing (parse, diff, encode, hand-over) as the stream
  measured it, and the outbound call as seen by the worker minus the time the fake spent on
  it (what the runtime's outbound path and the loopback cost);
* the calls the stream made, counted at the fakes, per kind, and the request's subrequest
  and KV-operation counts from the stream's closing log line;
* the arithmetic for a real 5-minute stream (1 s polls) against 950, for a realistic session
  and for the worst case the allowance permits.

    .venv/bin/python bench/player_stream.py [--poll 0.05] [--track-every 0.6]

Figures are from the local host (Node's Pyodide, no CPU limits), not from workerd.
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
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from dj.player_stream import LIFETIME_SECONDS_DEFAULT, POLL_SECONDS_DEFAULT  # noqa: E402
from dj.player_transitions import (  # noqa: E402
    BPM_KV_OPS,
    BPM_SUBREQUESTS,
    ME_SUBREQUESTS,
    SESSION_KV_OPS,
)
from djbuild.build import build_project  # noqa: E402
from djbuild.host import LocalHost  # noqa: E402
from fakes import start_all  # noqa: E402
from runtime.budget import KV_OPS_MAX, SUBREQUEST_MAX  # noqa: E402

APP = "tests.dj.test_player_stream_worker:app"
POLLS = round(LIFETIME_SECONDS_DEFAULT / POLL_SECONDS_DEFAULT)  # 300


def summary_of(lines: list[str]) -> dict[str, Any]:
    for line in reversed(lines):
        if "player stream ended" in line and "{" in line:
            return json.loads(line[line.index("{") :])["fields"]
    raise SystemExit("the stream's closing log line was not found")


def transitions_of(lines: list[str]) -> list[dict[str, Any]]:
    return [
        json.loads(line[line.index("{") :])["fields"]
        for line in lines
        if "player transition recorded" in line and "{" in line
    ]


async def run_stream(url: str, token: str, lifetime: float) -> tuple[list[str], float]:
    names: list[str] = []
    started = time.perf_counter()
    async with httpx.AsyncClient(timeout=lifetime + 30) as client:
        async with client.stream(
            "GET", f"{url}/api/player/stream", headers={"Authorization": f"Bearer {token}"}
        ) as r:
            buffer = ""
            async for chunk in r.aiter_text():
                buffer += chunk
                *blocks, buffer = buffer.split("\n\n")
                names += [b.split("\n")[0][7:] for b in blocks if b.startswith("event: ")]
    return names, time.perf_counter() - started


def seed_session(url: str, user: str, track_ids: list[str]) -> None:
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    queue = [
        {
            "trackId": tid,
            "trackUri": f"spotify:track:{tid}",
            "name": f"Track {i}",
            "artist": "Artist",
            "position": i,
            "addedBy": "ai",
            "vibeScore": 70,
        }
        for i, tid in enumerate(track_ids[:10])
    ]
    session = {
        "id": "123e4567-e89b-42d3-a456-426614174000",
        "userId": user,
        "createdAt": now,
        "updatedAt": now,
        "vibe": {},
        "queue": queue,
        "preferences": {"autoFill": True},
    }
    r = httpx.put(f"{url}/api/test/mix/{user}", json=session, timeout=30)
    r.raise_for_status()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--poll", type=float, default=0.05, help="compressed poll interval (s)")
    parser.add_argument("--track-every", type=float, default=0.6, help="seconds per track")
    args = parser.parse_args()
    lifetime = round(POLLS * args.poll, 3)

    suite = start_all()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "dist"
            build_project(ROOT, out, app=APP)
            env = Path(tmp) / ".dev.vars"
            env.write_text(
                suite.dev_vars()
                + f"PLAYER_POLL_SECONDS={args.poll}\n"
                + f"PLAYER_STREAM_LIFETIME_SECONDS={lifetime}\n"
                + "SSE_HEARTBEAT_SECONDS=15\n"
            )
            with LocalHost(out, in_memory=True, env_file=env) as host:
                spotify = suite.spotify
                catalog = [t.id for t in spotify.catalog.tracks]
                changes = int(lifetime / args.track_every) - 1
                seed_session(host.url, spotify.user.id, catalog[: changes + 1])
                spotify.start_playback(track_ids=catalog[:1])
                # warm-up stream: imports and first-call costs out of the measurement
                spotify.timeline([])
                suite.reset()
                spotify.timeline(
                    [(args.track_every * k, {"play": catalog[k]}) for k in range(1, changes + 1)]
                )
                token = spotify.issue_token()
                mark = len(host.lines)
                names, elapsed = asyncio.run(run_stream(host.url, token, lifetime))
                time.sleep(1.0)  # let the last transitions (waitUntil) finish
                summary = summary_of(host.lines[mark:])
                recorded = transitions_of(host.lines[mark:])
                player = spotify.calls_to("player")
                fake_ms = [
                    (c.finished - c.arrived) * 1000 for c in player if c.finished is not None
                ]
                me = len(spotify.calls_to("me"))
                deezer = len(suite.deezer.calls)
                musicbrainz = len(suite.musicbrainz.calls)
    finally:
        suite.stop()

    polls = summary["polls"]
    transitions = summary["transitions"]
    counted = len(player) + me + deezer + musicbrainz
    fake_mean = statistics.fmean(fake_ms) if fake_ms else 0.0
    print(f"compressed stream: {polls} polls {args.poll * 1000:.0f} ms apart over {elapsed:.1f} s")
    print(
        f"  ended with `{names[-1]}` (reason {summary['reason']}); "
        f"{len(names)} events, {transitions} track transitions"
    )
    print("per poll (worker on the local host):")
    print(
        f"  processing (parse + diff + encode + hand-over): mean {summary['process_ms_mean']:.3f} ms,"
        f" p95 {summary['process_ms_p95']:.3f} ms"
    )
    print(
        f"  GET /me/player as the worker saw it: mean {summary['fetch_ms_mean']:.2f} ms, of which "
        f"the fake {fake_mean:.2f} ms -> outbound path + loopback "
        f"{summary['fetch_ms_mean'] - fake_mean:.2f} ms"
    )
    print(
        f"  server cost per poll ~ {summary['process_ms_mean'] + summary['fetch_ms_mean'] - fake_mean:.2f} ms"
    )
    print("calls made by this stream (counted at the fakes):")
    print(
        f"  /me/player {len(player)}, /me {me}, deezer {deezer}, musicbrainz {musicbrainz}"
        f" = {counted}; the request's tracker says {summary['subrequests']} subrequests,"
        f" {summary['kv_ops']} KV operations (limits {SUBREQUEST_MAX} / {KV_OPS_MAX})"
    )
    moved = sum(1 for t in recorded if t.get("moved"))
    cleared = sum(1 for t in recorded if t.get("queue_cleared"))
    per_move = (deezer + musicbrainz) / moved if moved else 0.0
    per_transition = (deezer + musicbrainz) / transitions if transitions else 0.0
    print(
        f"  transitions: {len(recorded)} recorded, {moved} moved a queued track to the history"
        f" ({cleared} cleared the queue after 3 skips, so later ones only add a signal);"
        f" BPM calls {per_move:.2f} per moved track, {per_transition:.2f} per transition"
        f" (worst case {BPM_SUBREQUESTS})"
    )

    spare = SUBREQUEST_MAX - POLLS - ME_SUBREQUESTS
    worst = spare // BPM_SUBREQUESTS
    print(f"a real stream: {POLLS} polls, 1 s apart, for {LIFETIME_SECONDS_DEFAULT:.0f} s")
    print(
        f"  fixed: {POLLS} polls + {ME_SUBREQUESTS} for GET /me (once, retried once at most)"
        f" = {POLLS + ME_SUBREQUESTS} of {SUBREQUEST_MAX}; {spare} left for transitions"
    )
    for label, n in (("one queued track every 3.5 min", 2), ("a queued track every 10 s", 30)):
        extra = round(n * per_move)
        used = POLLS + 1 + extra
        print(
            f"  {label}: {n} moves x {per_move:.2f} BPM calls measured = "
            f"{POLLS} + 1 + {extra} = {used} subrequests "
            f"({100 * used / SUBREQUEST_MAX:.0f} % of {SUBREQUEST_MAX})"
        )
    print(
        f"  worst case: every transition at {BPM_SUBREQUESTS} -> {worst} enriched transitions fit "
        f"({POLLS + ME_SUBREQUESTS + worst * BPM_SUBREQUESTS} <= {SUBREQUEST_MAX}); later ones are "
        "recorded without BPM, and polling is never starved (the allowance keeps the remaining "
        "polls reserved)"
    )
    kv_fixed = POLLS // 10
    print(
        f"  KV: {kv_fixed} queue checks + {SESSION_KV_OPS + BPM_KV_OPS} per transition at most "
        f"-> {(KV_OPS_MAX - kv_fixed) // (SESSION_KV_OPS + BPM_KV_OPS)} transitions "
        f"within {KV_OPS_MAX}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
