"""`GET /api/player/stream` end to end: the Worker on the local host (Pyodide under Node), the
fake Spotify player changing over a scripted timeline, events read over HTTP on 127.0.0.1.

Most tests use a Worker built from `tests/dj/test_player_stream_worker.py` (the real router
plus test routes that seed and read `mix:{userId}` in KV) with fast vars: a poll every 0.2 s
and a 4-second lifetime. The last one checks the mount in the DJ API itself (default vars).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from djbuild.build import build_project
from djbuild.host import LocalHost
from fakes import FakeSuite
from fakes.spotify import FakeSpotify
from tests.e2e.conftest import DJ

ROOT = Path(__file__).resolve().parents[2]
APP = "tests.dj.test_player_stream_worker:app"
POLL = 0.2
LIFETIME = 4.0


@pytest.fixture(scope="module")
def worker(fake_suite: FakeSuite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    out = tmp_path_factory.mktemp("player-stream") / "dist"
    build_project(ROOT, out, app=APP)
    env_file = tmp_path_factory.mktemp("player-stream-env") / ".dev.vars"
    env_file.write_text(
        fake_suite.dev_vars()
        + f"PLAYER_POLL_SECONDS={POLL}\n"
        + f"PLAYER_STREAM_LIFETIME_SECONDS={LIFETIME}\n"
        + "SSE_HEARTBEAT_SECONDS=0.5\n"
    )
    with LocalHost(out, in_memory=True, env_file=env_file) as host:
        yield host.url


@pytest.fixture
def spotify(fake_suite: FakeSuite) -> Iterator[FakeSpotify]:
    fake = fake_suite.spotify
    fake_suite.reset()
    fake.start_playback(track_ids=[t.id for t in fake.catalog.tracks[:5]])
    yield fake
    fake.timeline([])
    fake.stop_playback()
    fake.revive_dev_token()
    fake_suite.reset()


class Reader:
    """Named SSE events from a streamed response, with arrival times; comments counted."""

    def __init__(self, response: httpx.Response) -> None:
        self._chunks = response.aiter_raw()
        self._buffer = b""
        self.comments = 0
        self.ended = False

    async def next_event(self) -> tuple[str, Any] | None:
        while True:
            while b"\n\n" not in self._buffer:
                try:
                    self._buffer += await self._chunks.__anext__()
                except StopAsyncIteration:
                    self.ended = True
                    return None
            block, _, self._buffer = self._buffer.partition(b"\n\n")
            if block.startswith(b":"):
                self.comments += 1
                continue
            lines = block.decode().split("\n")
            assert lines[0].startswith("event: ") and lines[1].startswith("data: "), block
            return lines[0][7:], json.loads(lines[1][6:])

    async def until(self, name: str, timeout: float = 6.0) -> list[tuple[str, Any]]:
        """Events up to and including the first `name` one."""
        seen: list[tuple[str, Any]] = []

        async def read() -> None:
            while True:
                event = await self.next_event()
                assert event is not None, f"stream ended before {name}: {seen}"
                seen.append(event)
                if event[0] == name:
                    return

        await asyncio.wait_for(read(), timeout)
        return seen

    async def rest(self, timeout: float = 8.0) -> list[tuple[str, Any]]:
        seen: list[tuple[str, Any]] = []

        async def read() -> None:
            while (event := await self.next_event()) is not None:
                seen.append(event)

        await asyncio.wait_for(read(), timeout)
        return seen


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def without_ticks(events: list[tuple[str, Any]]) -> list[str]:
    return [name for name, _ in events if name != "tick"]


def player_calls(fake: FakeSpotify) -> list[Any]:
    return fake.calls_to("player")


async def test_scripted_timeline_gives_the_exact_event_sequence_then_auth_expired(
    worker: str, spotify: FakeSpotify
) -> None:
    tracks = spotify.catalog.tracks
    token = spotify.issue_token()
    async with httpx.AsyncClient(timeout=20) as client:
        async with client.stream("GET", f"{worker}/api/player/stream", headers=bearer(token)) as r:
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("text/event-stream")
            spotify.timeline(
                [
                    (0.7, {"play": tracks[2].id}),
                    (1.3, {"pause": True}),
                    (1.9, {"device": 1}),
                    (2.5, {"volume": 20}),
                    (3.1, {"expire_tokens": True}),
                ]
            )
            reader = Reader(r)
            events = await reader.rest()
            assert reader.ended
    assert without_ticks(events) == [
        "connected",
        "init",
        "track",
        "state",
        "device",
        "volume",
        "auth_expired",
    ]
    by_name = {name: data for name, data in events if name != "tick"}
    assert by_name["connected"] == {
        "message": "Connected to playback stream (delta protocol v2)",
        "pollingInterval": 200,
    }
    init = by_name["init"]
    assert init["seq"] == 0 and init["track"]["id"] == tracks[0].id
    assert init["device"]["name"] == spotify.player.devices[0].name
    assert init["device"]["type"] == "speaker" and init["isPlaying"] is True
    assert by_name["track"]["id"] == tracks[2].id and by_name["track"]["seq"] == 1
    assert by_name["state"] == {"isPlaying": False, "seq": 2}
    assert by_name["device"]["name"] == "DJ Web Player" and by_name["device"]["seq"] == 3
    assert by_name["volume"] == {"percent": 20, "seq": 4}
    assert by_name["auth_expired"] == {"message": "Spotify token expired, please refresh"}
    ticks = [data for name, data in events if name == "tick"]
    assert ticks and set(ticks[0]) == {"p", "ts"}
    # ticks only while playing: none between the pause and the end
    paused_at = [name for name, _ in events].index("state")
    assert all(name != "tick" for name, _ in events[paused_at:])
    assert token not in json.dumps(events)


async def test_five_consecutive_spotify_errors_close_the_stream(
    worker: str, spotify: FakeSpotify
) -> None:
    spotify.inject("player", 500, times=5)
    async with httpx.AsyncClient(timeout=20) as client:
        async with client.stream(
            "GET", f"{worker}/api/player/stream", headers=bearer(spotify.issue_token())
        ) as r:
            reader = Reader(r)
            events = await reader.rest()
    assert [name for name, _ in events] == ["connected"] + ["error"] * 5
    errors = [data for _, data in events[1:]]
    assert [e["retriesRemaining"] for e in errors] == [4, 3, 2, 1, 0]
    assert errors[0]["message"] == "Spotify API error: 500"
    assert errors[-1]["message"] == "Too many errors, closing stream"
    await asyncio.sleep(3 * POLL)
    assert len(player_calls(spotify)) == 5  # not retried, and nothing after the close


async def test_the_lifetime_ends_with_reconnect_with_heartbeats_on_the_way(
    worker: str, spotify: FakeSpotify
) -> None:
    started = time.monotonic()
    async with httpx.AsyncClient(timeout=20) as client:
        async with client.stream(
            "GET", f"{worker}/api/player/stream", headers=bearer(spotify.issue_token())
        ) as r:
            reader = Reader(r)
            events = await reader.rest(timeout=LIFETIME + 4)
    elapsed = time.monotonic() - started
    assert events[-1] == ("reconnect", {"message": "Stream lifetime exceeded"})
    assert without_ticks(events) == ["connected", "init", "reconnect"]
    assert LIFETIME - 0.2 <= elapsed <= LIFETIME + 2.5
    polls = len(player_calls(spotify))
    assert LIFETIME / POLL - 4 <= polls <= LIFETIME / POLL
    assert reader.comments >= 4  # `: heartbeat` every 0.5 s
    await asyncio.sleep(3 * POLL)
    assert len(player_calls(spotify)) == polls


async def test_a_client_disconnect_stops_polling_at_the_fake(
    worker: str, spotify: FakeSpotify
) -> None:
    async with httpx.AsyncClient(timeout=20) as client:
        async with client.stream(
            "GET", f"{worker}/api/player/stream", headers=bearer(spotify.issue_token())
        ) as r:
            reader = Reader(r)
            await reader.until("init")
            await reader.until("tick")
            await reader.until("tick")
        gone = time.monotonic()
    await asyncio.sleep(6 * POLL)
    late = [c for c in player_calls(spotify) if c.arrived > gone + POLL]
    assert late == []
    assert len(player_calls(spotify)) >= 3


async def test_an_invalid_token_gets_a_stream_that_reports_auth_expired(
    worker: str, spotify: FakeSpotify
) -> None:
    async with httpx.AsyncClient(timeout=20) as client:
        async with client.stream(
            "GET", f"{worker}/api/player/stream", headers=bearer("not-a-spotify-token")
        ) as r:
            assert r.status_code == 200
            events = await Reader(r).rest()
    assert [name for name, _ in events] == ["connected", "auth_expired"]
    assert len(player_calls(spotify)) == 1


async def test_a_track_change_records_signal_and_history_in_the_mix_session(
    worker: str, spotify: FakeSpotify, fake_suite: FakeSuite
) -> None:
    tracks = spotify.catalog.tracks
    played, following = tracks[0], tracks[1]
    user = spotify.user.id
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())

    def queued(t: Any, position: int) -> dict[str, Any]:
        return {
            "trackId": t.id,
            "trackUri": f"spotify:track:{t.id}",
            "name": t.name,
            "artist": "someone",
            "position": position,
            "addedBy": "ai",
            "vibeScore": 70,
        }

    seeded = {
        "id": "123e4567-e89b-42d3-a456-426614174000",
        "userId": user,
        "createdAt": now,
        "updatedAt": now,
        "vibe": {},
        "queue": [queued(played, 0), queued(following, 1)],
        "preferences": {"autoFill": True},
    }
    async with httpx.AsyncClient(timeout=20) as client:
        put = await client.put(f"{worker}/api/test/mix/{user}", json=seeded)
        assert put.status_code == 200, put.text
        async with client.stream(
            "GET", f"{worker}/api/player/stream", headers=bearer(spotify.issue_token())
        ) as r:
            spotify.timeline([(0.7, {"play": following.id})])
            reader = Reader(r)
            before = await reader.until("track")
            assert before[-1][1]["id"] == following.id
            low = await reader.until("queue_low")  # 10th active poll, queue now 1 deep
            assert low[-1][1]["depth"] == 1
        session: dict[str, Any] | None = None
        for _ in range(30):
            session = (await client.get(f"{worker}/api/test/mix/{user}")).json()["session"]
            if session and session["signals"]:
                break
            await asyncio.sleep(0.1)
    assert session is not None
    signal = session["signals"][-1]
    assert signal["trackId"] == played.id and signal["type"] == "skipped"
    assert 0 < signal["listenDuration"] < 5_000
    assert signal["trackDuration"] == played.duration_ms
    assert [t["trackId"] for t in session["history"]] == [played.id]
    assert [t["trackId"] for t in session["queue"]] == [following.id]
    assert session["queue"][0]["position"] == 0
    # Deezer knows this track with a BPM of 0 ("unknown"): stored as null, and the save
    # went through (reference §12.10).
    [deezer_record] = fake_suite.deezer.catalog.deezer_by_isrc(played.isrc)
    assert deezer_record.bpm == 0
    assert session["history"][0]["bpm"] is None
    assert [c.path for c in fake_suite.deezer.calls] == [f"/track/isrc:{played.isrc}"]
    assert len(spotify.calls_to("me")) == 1  # one /me for the transition and the queue check


def test_the_dj_api_mounts_the_stream_and_refuses_a_missing_token(dj: DJ) -> None:
    r = dj.http.get("/api/player/stream")
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/json")
    assert "error" in r.json()
    fake = dj.fakes.spotify
    fake.start_playback(track_ids=[fake.catalog.tracks[0].id])
    try:
        names: list[str] = []
        with dj.http.stream("GET", "/api/player/stream", headers=bearer(fake.issue_token())) as s:
            assert s.status_code == 200
            buffer = ""
            for chunk in s.iter_text():
                buffer += chunk
                names = [line[7:] for line in buffer.split("\n") if line.startswith("event: ")]
                if "init" in names:
                    break
        assert names[:2] == ["connected", "init"]
    finally:
        fake.stop_playback()
