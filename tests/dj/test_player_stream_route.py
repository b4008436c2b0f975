"""`GET /api/player/stream` in process, on virtual time: whole 5-minute lifetimes in milliseconds.

A scripted Spotify (a transport answering on the event loop's clock) plays a timeline; the
stream is read to its end through the runtime's test client, with KV in memory.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import urlsplit

import pytest

from dj.models.mix import MixSession
from routes import player_stream
from runtime import App, ratelimit
from runtime.http import Headers
from runtime.kv import KVStore, MixSessionStore
from runtime.outbound import OutboundRequest, TransportResponse
from runtime.testing import Client, MemoryKV
from tests.dj.factories import queued, session
from tests.support.virtual_time import VirtualTimeLoop, run_virtual

WALL0 = 1_767_225_600.0
API = "https://spotify.test/v1"
DEEZER = "https://deezer.test"


def track_json(n: int, duration: int = 200_000) -> dict[str, Any]:
    return {
        "id": f"q{n}",
        "uri": f"spotify:track:q{n}",
        "name": f"Queued {n}",
        "duration_ms": duration,
        "artists": [{"name": f"Artist {n}"}],
        "album": {"name": "A", "images": [{"url": f"https://img/{n}"}]},
        "external_ids": {"isrc": f"ISRC{n}"},
    }


class ScriptedSpotify:
    """Answers `GET /me/player` from a timeline on the loop's clock; also `/me` and Deezer."""

    def __init__(self, loop: VirtualTimeLoop, steps: list[tuple[float, dict[str, Any]]]) -> None:
        self.loop = loop
        self.steps = sorted(steps, key=lambda s: s[0])
        self.t0 = loop.time()
        self.track: int | None = 1
        self.playing = True
        self.device = 1
        self.volume = 50
        self.expired = False
        self.fail = 0
        self.started = 0.0
        self.calls: list[tuple[float, str]] = []
        self.bpm: float = 0
        self.duration = 200_000

    def _apply(self, now: float) -> None:
        while self.steps and self.steps[0][0] <= now - self.t0:
            _, action = self.steps.pop(0)
            if "play" in action:
                self.track, self.playing, self.started = action["play"], True, now
            self.playing = not action.get("pause", not self.playing)
            self.device = action.get("device", self.device)
            self.volume = action.get("volume", self.volume)
            self.expired = action.get("expire", self.expired)
            self.fail = action.get("fail", self.fail)
            if action.get("stop"):
                self.track = None

    def _json(self, status: int, body: Any) -> TransportResponse:
        return TransportResponse(
            status, Headers({"Content-Type": "application/json"}), json.dumps(body).encode()
        )

    async def send(self, request: OutboundRequest) -> TransportResponse:
        now = self.loop.time()
        self._apply(now)
        url = request.url
        path = urlsplit(url).path
        self.calls.append((now - self.t0, path))
        if url.startswith(DEEZER):
            return self._json(200, {"id": 7, "title": "x", "duration": 200, "bpm": self.bpm})
        if self.expired or request.headers.get("Authorization") != "Bearer good":
            return self._json(401, {"error": {"status": 401, "message": "expired"}})
        if path == "/v1/me":
            return self._json(200, {"id": "user-1", "display_name": "U"})
        if self.fail:
            self.fail -= 1
            return self._json(500, {"error": {"status": 500, "message": "down"}})
        if self.track is None:
            return TransportResponse(204, Headers(), b"")
        return self._json(
            200,
            {
                "device": {
                    "id": f"dev{self.device}",
                    "name": f"Device {self.device}",
                    "type": "Computer",
                    "volume_percent": self.volume,
                    "supports_volume": True,
                },
                "is_playing": self.playing,
                "progress_ms": int((now - self.started) * 1000),
                "item": track_json(self.track, self.duration),
                "shuffle_state": False,
                "repeat_state": "off",
                "currently_playing_type": "track",
                "context": None,
            },
        )

    def player_calls(self) -> list[float]:
        return [t for t, p in self.calls if p == "/v1/me/player"]


def make_client(spotify: ScriptedSpotify, kv: MemoryKV | None = None, **env: str) -> Client:
    app = App(title="t", version="1")
    app.route("/api/player", player_stream.router)
    variables: dict[str, Any] = {
        "SPOTIFY_API_BASE": API,
        "DEEZER_API_BASE": DEEZER,
        "SSE_HEARTBEAT_SECONDS": "15",
        **env,
    }
    if kv is not None:
        variables["MIX_SESSIONS"] = kv
        variables["AUDIO_FEATURES_CACHE"] = MemoryKV()
    client = Client(app, env=variables)
    client.platform.transport = spotify
    return client


async def read_stream(client: Client, token: str | None = "good") -> Any:
    """The whole response, then every `waitUntil` task (transitions, the stream's cleanup)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    result = await client.get("/api/player/stream", headers=headers)
    await client.platform.drain()
    return result


def events_of(body: bytes) -> list[tuple[str, Any]]:
    out = []
    for block in body.decode().split("\n\n"):
        lines = block.split("\n")
        if lines and lines[0].startswith("event: "):
            out.append((lines[0][7:], json.loads(lines[1][6:])))
    return out


def summary_line(out: str) -> dict[str, Any]:
    lines = [json.loads(x) for x in out.splitlines() if "player stream ended" in x]
    assert len(lines) == 1
    return lines[0]["fields"]


def virtual(
    monkeypatch: pytest.MonkeyPatch,
    factory: Callable[[VirtualTimeLoop], Coroutine[Any, Any, Any]],
) -> Any:
    """Run on virtual time, with the wall clock following it (as Date.now() would)."""

    def run(loop: VirtualTimeLoop) -> Coroutine[Any, Any, Any]:
        monkeypatch.setattr(time, "time", lambda: WALL0 + loop.time())
        # The rate limiter's token bucket must refill on the same (virtual) clock.
        monkeypatch.setattr(
            ratelimit, "orchestrator", lambda: ratelimit.RequestOrchestrator(clock=loop.time)
        )
        return factory(loop)

    return run_virtual(run)


def test_a_full_five_minute_stream_polls_300_times_and_ends_with_reconnect(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    kv = MemoryKV()
    state: dict[str, Any] = {}

    async def go(loop: VirtualTimeLoop) -> bytes:
        # A new 12-second track every 10 s (29 transitions, each heard to 83 %: completed);
        # the first ten are queued, so those transitions cost a BPM lookup as well.
        steps = [(10.0 * k + 0.5, {"play": k + 1}) for k in range(1, 30)]
        spotify = ScriptedSpotify(loop, steps)
        spotify.bpm = 121
        spotify.duration = 12_000
        state["spotify"] = spotify
        client = make_client(spotify, kv)
        seeded = session(user_id="user-1", queue=[queued(n, position=n - 2) for n in range(2, 12)])
        await MixSessionStore(KVStore(kv, name="MIX_SESSIONS"), MixSession).save("user-1", seeded)
        result = await read_stream(client)
        state["saved"] = await MixSessionStore(KVStore(kv, name="MIX_SESSIONS"), MixSession).load(
            "user-1"
        )
        return result.body

    body = virtual(monkeypatch, go)
    events = events_of(body)
    spotify = state["spotify"]
    assert events[0][0] == "connected" and events[1][0] == "init"
    assert events[-1] == ("reconnect", {"message": "Stream lifetime exceeded"})
    polls = spotify.player_calls()
    assert len(polls) == 300
    assert polls[0] == 0 and polls[-1] == pytest.approx(299, abs=0.01)
    assert [n for n, _ in events].count("track") == 29
    seqs = [d["seq"] for _, d in events if isinstance(d, dict) and "seq" in d]
    assert seqs == list(range(len(seqs)))
    me_calls = [t for t, p in spotify.calls if p == "/v1/me"]
    assert len(me_calls) == 1  # remembered for every transition and queue check
    line = summary_line(capsys.readouterr().out)
    assert line["reason"] == "lifetime" and line["polls"] == 300
    assert line["subrequests"] == len(spotify.calls) <= 950
    saved = state["saved"]
    assert saved is not None
    assert len(saved.signals) == 29
    assert [t.track_id for t in saved.history][:3] == ["q11", "q10", "q9"]
    assert saved.history[0].bpm == 121
    assert [n for n, _ in events].count("queue_low") >= 1


def test_a_poll_interval_too_short_for_the_budget_ends_with_reconnect_before_refusal(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    state: dict[str, Any] = {}

    async def go(loop: VirtualTimeLoop) -> bytes:
        spotify = ScriptedSpotify(loop, [])
        state["spotify"] = spotify
        client = make_client(spotify, PLAYER_POLL_SECONDS="0.1")
        result = await read_stream(client)
        return result.body

    events = events_of(virtual(monkeypatch, go))
    assert events[-1] == ("reconnect", {"message": "Stream subrequest budget used up"})
    assert len(state["spotify"].player_calls()) == 950
    line = summary_line(capsys.readouterr().out)
    assert line["reason"] == "budget" and line["subrequests"] == 950


def test_auth_expiry_mid_stream_sends_auth_expired_and_stops_polling(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    state: dict[str, Any] = {}

    async def go(loop: VirtualTimeLoop) -> bytes:
        spotify = ScriptedSpotify(
            loop,
            [
                (1.5, {"play": 2}),
                (3.5, {"pause": True}),
                (5.5, {"device": 2}),
                (7.5, {"volume": 20}),
                (9.5, {"expire": True}),
            ],
        )
        state["spotify"] = spotify
        result = await read_stream(make_client(spotify))
        return result.body

    events = events_of(virtual(monkeypatch, go))
    assert [n for n, _ in events if n != "tick"] == [
        "connected",
        "init",
        "track",
        "state",
        "device",
        "volume",
        "auth_expired",
    ]
    assert events[-1][1] == {"message": "Spotify token expired, please refresh"}
    assert len(state["spotify"].player_calls()) == 11  # t = 0..10 s, none after the 401


def test_five_consecutive_errors_close_the_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    state: dict[str, Any] = {}

    async def go(loop: VirtualTimeLoop) -> bytes:
        spotify = ScriptedSpotify(loop, [(1.5, {"fail": 100})])
        state["spotify"] = spotify
        result = await read_stream(make_client(spotify))
        return result.body

    events = events_of(virtual(monkeypatch, go))
    errors = [d for n, d in events if n == "error"]
    assert [d["retriesRemaining"] for d in errors] == [4, 3, 2, 1, 0]
    assert errors[0]["message"] == "Spotify API error: 500"
    assert errors[-1]["message"] == "Too many errors, closing stream"
    assert events[-1][0] == "error"
    assert len(state["spotify"].player_calls()) == 7  # 2 good polls, 5 failed, no retries


def test_errors_that_are_not_consecutive_do_not_close_the_stream(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def go(loop: VirtualTimeLoop) -> bytes:
        steps = [(1.5 + 5 * k, {"fail": 4}) for k in range(3)]
        spotify = ScriptedSpotify(loop, steps)
        result = await read_stream(make_client(spotify, PLAYER_STREAM_LIFETIME_SECONDS="20"))
        return result.body

    events = events_of(virtual(monkeypatch, go))
    assert [d["retriesRemaining"] for n, d in events if n == "error"] == [4, 3, 2, 1] * 3
    assert events[-1][0] == "reconnect"


def test_an_invalid_token_gets_a_stream_that_reports_auth_expired(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def go(loop: VirtualTimeLoop) -> Any:
        spotify = ScriptedSpotify(loop, [])
        return await read_stream(make_client(spotify), "nope")

    result = virtual(monkeypatch, go)
    assert result.status == 200
    assert [n for n, _ in events_of(result.body)] == ["connected", "auth_expired"]


def test_a_missing_token_is_401_json_before_any_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    async def go(loop: VirtualTimeLoop) -> Any:
        spotify = ScriptedSpotify(loop, [])
        result = await read_stream(make_client(spotify), None)
        assert spotify.calls == []
        return result

    result = virtual(monkeypatch, go)
    assert result.status == 401
    assert result.headers.get("content-type", "").startswith("application/json")
    assert "error" in result.json()


def test_the_connected_event_reports_the_configured_interval(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def go(loop: VirtualTimeLoop) -> bytes:
        spotify = ScriptedSpotify(loop, [])
        result = await read_stream(
            make_client(spotify, PLAYER_POLL_SECONDS="0.25", PLAYER_STREAM_LIFETIME_SECONDS="1")
        )
        assert len(spotify.player_calls()) == 4
        return result.body

    events = events_of(virtual(monkeypatch, go))
    assert events[0][1]["pollingInterval"] == 250
    assert events[-1][0] == "reconnect"


def test_malformed_vars_fall_back_to_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    async def go(loop: VirtualTimeLoop) -> bytes:
        spotify = ScriptedSpotify(loop, [(30.0, {"expire": True})])
        result = await read_stream(
            make_client(spotify, PLAYER_POLL_SECONDS="fast", PLAYER_STREAM_LIFETIME_SECONDS="-3")
        )
        assert len(spotify.player_calls()) == 31  # 1 s apart, still going at 30 s
        return result.body

    events = events_of(virtual(monkeypatch, go))
    assert events[0][1]["pollingInterval"] == 1000


def result_of(status: int | None, error: str | None = None, **kw: Any) -> Any:
    from runtime.outbound import FetchResult

    return FetchResult(
        service="spotify",
        method="GET",
        safe_url="u",
        ok=error is None,
        status=status,
        error=error,
        **kw,
    )


def test_poll_answers_map_spotify_outcomes() -> None:
    answer = player_stream.poll_answer
    assert answer(result_of(204)).data is None and answer(result_of(204)).kind == "state"
    assert answer(result_of(200, body=b'{"is_playing": true}')).data == {"is_playing": True}
    assert answer(result_of(200, body=b"<html>")).message == (
        "Invalid playback response from Spotify"
    )
    assert answer(result_of(401, "http_status")).kind == "auth"
    limited = answer(result_of(429, "http_status", headers=Headers({"Retry-After": "3"})))
    assert (limited.kind, limited.message, limited.retry_after) == (
        "error",
        "Spotify API error: 429",
        3.0,
    )
    assert answer(result_of(503, "http_status")).retry_after is None
    assert answer(result_of(None, "timeout")).message == "Spotify did not answer in time"
    assert answer(result_of(None, "network")).message == "Spotify could not be reached"
    assert answer(result_of(None, "budget_exhausted")).kind == "budget"


def test_a_429_delays_the_next_poll_by_its_retry_after(monkeypatch: pytest.MonkeyPatch) -> None:
    class Limited(ScriptedSpotify):
        async def send(self, request: OutboundRequest) -> TransportResponse:
            answer = await super().send(request)
            if len(self.player_calls()) == 2:
                return TransportResponse(429, Headers({"Retry-After": "4"}), b"{}")
            return answer

    state: dict[str, Any] = {}

    async def go(loop: VirtualTimeLoop) -> bytes:
        spotify = Limited(loop, [])
        state["spotify"] = spotify
        result = await read_stream(make_client(spotify, PLAYER_STREAM_LIFETIME_SECONDS="8"))
        return result.body

    events = events_of(virtual(monkeypatch, go))
    assert [d["retriesRemaining"] for n, d in events if n == "error"] == [4]
    polls = state["spotify"].player_calls()
    assert polls[:3] == [0, 1, pytest.approx(5, abs=0.01)]
