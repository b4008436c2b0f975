"""Chat on the local host: time to first event, to first content, and events per second.

Builds the DJ API, serves it with the local host (Pyodide under Node) on 127.0.0.1 against the
fakes, and runs a scripted three-turn conversation (narration, a tool turn with a search, a
second tool turn, then the answer) `--runs` times over HTTP. The fake Anthropic streams with
no artificial delay, so the figures are the worker's own overhead plus loopback HTTP.

    .venv/bin/python bench/chat.py [--runs 5]
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
from fakes import start_all  # noqa: E402
from fakes.anthropic import Reply, text, thinking, tool_use  # noqa: E402
from fakes.spotify import DEV_TOKEN  # noqa: E402

ANSWER = "Here is a short list of upbeat disco for tonight, with a word on each track. " * 6


def script(suite: object) -> None:
    fake = suite.anthropic  # type: ignore[attr-defined]
    fake.script(
        Reply([text("Warming up the decks...")]),
        Reply(
            [
                thinking("Search first."),
                text("Let me look."),
                tool_use("search_spotify_tracks", {"query": "disco", "limit": 5}),
            ]
        ),
        Reply([text("And the queue."), tool_use("get_queue", {})]),
        Reply([text(ANSWER)], chunk=12),
    )


async def one(client: httpx.AsyncClient) -> dict[str, float]:
    started = time.perf_counter()
    first_event = first_content = 0.0
    events = 0
    buffer = b""
    body = {"message": "Find me upbeat disco and tell me what is queued"}
    headers = {"Authorization": f"Bearer {DEV_TOKEN}"}
    async with client.stream("POST", "/api/chat-stream/message", json=body, headers=headers) as r:
        async for chunk in r.aiter_raw():
            buffer += chunk
            *blocks, buffer = buffer.split(b"\n\n")
            for block in blocks:
                if not block.startswith(b"data: "):
                    continue
                now = time.perf_counter() - started
                events += 1
                kind = json.loads(block[6:])["type"]
                if not first_event:
                    first_event = now
                if kind == "content" and not first_content:
                    first_content = now
    total = time.perf_counter() - started
    return {
        "first_event": first_event,
        "first_content": first_content,
        "total": total,
        "events": events,
        "events_per_s": events / total,
    }


async def run(base: str, suite: object, runs: int) -> list[dict[str, float]]:
    results = []
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        script(suite)
        await one(client)  # warm-up: first imports in the isolate
        for _ in range(runs):
            script(suite)
            results.append(await one(client))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    suite = start_all(musicbrainz_rate=None)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            dist = build_project(ROOT, Path(tmp) / "dist").out_dir
            assert dist is not None
            env = Path(tmp) / ".dev.vars"
            env.write_text(suite.dev_vars())
            host = LocalHost(dist, in_memory=True, env_file=env)
            base = host.start()
            try:
                results = asyncio.run(run(base, suite, max(1, args.runs)))
            finally:
                host.stop()
    finally:
        suite.stop()

    def med(key: str) -> float:
        return statistics.median(r[key] for r in results)

    print(
        f"chat, scripted 3-turn conversation (2 tool turns + answer), {len(results)} runs, median:"
    )
    print(f"  time to first event    {med('first_event') * 1000:8.1f} ms")
    print(f"  time to first content  {med('first_content') * 1000:8.1f} ms")
    print(f"  whole conversation     {med('total') * 1000:8.1f} ms")
    print(f"  events                 {med('events'):8.0f}")
    print(f"  events/s               {med('events_per_s'):8.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
