"""The mix service layer in process (CPython): routes over MemoryKV, upstreams are the fakes.

What the shared e2e host cannot easily vary: the KV contents (an invalid stored session),
configuration (no Anthropic key), timing (a suggestion call that never ends), and the
background auto-fill racing an ended session.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from dj.mix import autofill as mix_autofill
from dj.mix.sessions import MixService
from dj.mix.suggestions import SuggestionEngine, parse_proposals
from dj.models.mix import MixSession
from fakes import DEV_TOKEN, FakeSuite, start_all
from fakes.anthropic import Reply, text, thinking
from routes import mix, steer
from runtime import App
from runtime.http import Headers
from runtime.outbound import OutboundRequest, TransportResponse
from runtime.testing import Client, MemoryKV, Result

AUTH = {"Authorization": f"Bearer {DEV_TOKEN}"}
KEY = "mix:fakeuser"


class HttpxTransport:
    """Outbound calls from the in-process app, sent to the fakes over loopback."""

    async def send(self, request: OutboundRequest) -> TransportResponse:
        async with httpx.AsyncClient(verify=False, trust_env=False) as client:
            r = await client.request(
                request.method, request.url, headers=request.headers, content=request.body
            )
        return TransportResponse(r.status_code, Headers(list(r.headers.items())), r.content)


@dataclass
class Harness:
    client: Client
    fakes: FakeSuite
    kv: MemoryKV

    async def post(self, path: str, body: Any = None) -> Result:
        return await self.client.post(path, headers=AUTH, json=body if body is not None else {})

    async def get(self, path: str) -> Result:
        return await self.client.get(path, headers=AUTH)

    async def put(self, path: str, body: Any) -> Result:
        return await self.client.request("PUT", path, headers=AUTH, json=body)

    async def patch(self, path: str, body: Any) -> Result:
        return await self.client.request("PATCH", path, headers=AUTH, json=body)

    def stored(self) -> dict[str, Any] | None:
        entry = self.kv.data.get(KEY)
        return None if entry is None else json.loads(entry[0])

    def catalog_reply(self, count: int, *, thinking_text: str | None = None) -> Reply:
        """A Claude answer naming `count` real catalog tracks."""
        cat = self.fakes.spotify.catalog
        tracks = [
            {"artist": cat.artists[t.artist_ids[0]].name, "name": t.name, "reason": "fits"}
            for t in cat.tracks[:count]
        ]
        blocks = [thinking(thinking_text)] if thinking_text else []
        return Reply([*blocks, text(json.dumps({"tracks": tracks}))])


@pytest.fixture(scope="module")
def suite() -> Iterator[FakeSuite]:
    fakes = start_all(musicbrainz_rate=None)
    yield fakes
    fakes.stop()


def make(suite: FakeSuite, **env: Any) -> Harness:
    suite.reset()
    kv = MemoryKV()
    app = App(title="t", version="1")
    app.route("/api/mix", mix.router)
    app.route("/api/mix/vibe", steer.router)
    full_env = {**suite.vars, "MIX_SESSIONS": kv, **env}
    client = Client(app, env={k: v for k, v in full_env.items() if v is not None})
    client.platform.transport = HttpxTransport()
    return Harness(client, suite, kv)


@pytest.fixture
def h(suite: FakeSuite) -> Iterator[Harness]:
    harness = make(suite)
    yield harness
    assert suite.anthropic.pending == 0, "a scripted Claude reply was not used"


# -- sessions and identity -------------------------------------------------------------------


async def test_an_invalid_stored_session_reads_as_no_session(h: Harness) -> None:
    await h.kv.put(KEY, json.dumps({"id": "not-a-uuid", "queue": "nope"}), expirationTtl=3600)
    current = await h.get("/api/mix/current")
    assert current.status == 200 and current.json() == {"session": None}
    assert (await h.get("/api/mix/queue")).status == 404
    started = await h.post("/api/mix/start", {"preferences": {"autoFill": False}})
    assert started.status == 200
    assert started.json()["session"]["id"] != "not-a-uuid"
    assert h.stored() is not None and h.stored()["userId"] == "fakeuser"  # type: ignore[index]


async def test_a_stored_value_that_is_not_json_reads_as_no_session(h: Harness) -> None:
    await h.kv.put(KEY, "{{{", expirationTtl=3600)
    assert (await h.get("/api/mix/current")).json() == {"session": None}
    assert (await h.get("/api/mix/vibe")).json() == {"error": "No active session"}


async def test_me_is_asked_once_per_request(h: Harness) -> None:
    await h.post("/api/mix/start", {"preferences": {"autoFill": False}})
    await h.post("/api/mix/playback/track-played", {"trackId": "x", "trackUri": "spotify:track:x"})
    h.fakes.spotify.reset_calls()
    await h.post("/api/mix/save", {"name": "Mine"})
    assert len(h.fakes.spotify.calls_to("me")) == 1


async def test_sessions_are_saved_with_the_8_hour_ttl(h: Harness) -> None:
    await h.post("/api/mix/start", {"preferences": {"autoFill": False}})
    assert h.kv.ttls[KEY] == 8 * 3600


async def test_spotify_refusing_the_token_is_401_invalid_authorization_token(h: Harness) -> None:
    r = await h.client.get("/api/mix/current", headers={"Authorization": "Bearer revoked"})
    assert r.status == 401
    assert r.json() == {"error": "Invalid authorization token"}


async def test_without_the_binding_mix_routes_are_500_not_available(suite: FakeSuite) -> None:
    harness = make(suite, MIX_SESSIONS=None)
    r = await harness.get("/api/mix/current")
    assert r.status == 500
    assert r.json() == {"error": "Mix sessions not available"}


# -- refresh (work after the response) -------------------------------------------------------


async def _service(h: Harness) -> tuple[MixService, MixSession]:
    await h.post("/api/mix/start", {"preferences": {"autoFill": False}})
    from runtime.context import Context, Env
    from runtime.http import Request
    from runtime.kv import mix_sessions
    from runtime.logging import ServiceLogger

    c = Context(Request("GET", "http://t/"), Env({}), h.client.platform, ServiceLogger("t"))
    store = mix_sessions(Env({"MIX_SESSIONS": h.kv}), MixSession)
    assert store is not None
    svc = MixService(c, store, "fakeuser")
    session = await svc.require()
    return svc, session


async def test_refresh_keeps_the_newer_stored_version(h: Harness) -> None:
    svc, _ = await _service(h)
    other = await _service(h)
    await other[0].save(other[1].model_copy(update={"fallback_pool": ["spotify:track:new"]}))
    refreshed = await svc.refresh()
    assert refreshed is not None and refreshed.fallback_pool == ["spotify:track:new"]


async def test_refresh_keeps_this_requests_version_when_kv_is_behind(h: Harness) -> None:
    svc, session = await _service(h)
    mine = await svc.save(session.model_copy(update={"fallback_pool": ["spotify:track:mine"]}))
    stale = session.model_dump_json(by_alias=True)
    await h.kv.put(KEY, stale, expirationTtl=3600)  # a lagging replica answering the old one
    refreshed = await svc.refresh()
    assert refreshed is not None and refreshed.updated_at == mine.updated_at


async def test_refresh_gives_up_when_the_session_was_ended_or_replaced(h: Harness) -> None:
    svc, _ = await _service(h)
    await h.client.request("DELETE", "/api/mix/end", headers=AUTH)
    assert await svc.refresh() is None
    await h.post("/api/mix/start", {"preferences": {"autoFill": False}})  # a new session id
    assert await svc.refresh() is None


async def test_two_saves_in_one_request_stay_ordered(h: Harness) -> None:
    svc, session = await _service(h)
    first = await svc.save(session)
    second = await svc.save(first)
    assert second.updated_at > first.updated_at


# -- auto-fill -------------------------------------------------------------------------------


async def test_background_fill_never_revives_an_ended_session(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = asyncio.Event()
    original = SuggestionEngine.generate

    async def held(self: SuggestionEngine, session: MixSession, count: int) -> Any:
        await gate.wait()
        return await original(self, session, count)

    await h.post("/api/mix/start", {"preferences": {"autoFill": False}})
    await h.patch("/api/mix/preferences", {"autoFill": False})
    stored = h.stored()
    assert stored is not None
    stored["preferences"]["autoFill"] = True
    await h.kv.put(KEY, json.dumps(stored), expirationTtl=3600)
    monkeypatch.setattr(SuggestionEngine, "generate", held)
    cat = h.fakes.spotify.catalog
    played = await h.post(
        "/api/mix/playback/track-played",
        {"trackId": cat.tracks[3].id, "trackUri": f"spotify:track:{cat.tracks[3].id}"},
    )
    assert played.json()["movedToHistory"] is True
    ended = await h.client.request("DELETE", "/api/mix/end", headers=AUTH)
    assert ended.status == 200
    gate.set()
    await h.client.platform.drain()
    assert h.stored() is None


async def test_auto_fill_timeout_keeps_the_vibe_change(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    await h.post("/api/mix/start", {"preferences": {"autoFill": False}})
    await h.patch("/api/mix/preferences", {"autoFill": True})
    h.fakes.spotify.reset_calls()

    async def never(self: SuggestionEngine, session: MixSession, count: int) -> Any:
        await asyncio.sleep(30)

    monkeypatch.setattr(SuggestionEngine, "generate", never)
    monkeypatch.setattr(mix_autofill, "AUTO_FILL_TIMEOUT", 0.05)
    original = mix_autofill.candidates

    async def quick(c: Any, session: MixSession, **kw: Any) -> Any:
        return await original(c, session, timeout=0.05)

    monkeypatch.setattr(mix_autofill, "candidates", quick)
    r = await h.put("/api/mix/vibe", {"energyLevel": 9, "bpmRange": {"min": 120, "max": 130}})
    assert r.status == 200
    assert r.json()["vibe"]["energyLevel"] == 9
    stored = h.stored()
    assert stored is not None
    assert stored["vibe"]["energyLevel"] == 9
    assert stored["vibe"]["bpmRange"] == {"min": 120, "max": 130}


async def test_vibe_change_is_saved_when_auto_fill_is_off(h: Harness) -> None:
    await h.post("/api/mix/start", {"preferences": {"autoFill": False}})
    r = await h.put("/api/mix/vibe", {"energyDirection": "winding_down"})
    assert r.status == 200 and r.json()["queue"] == []
    assert h.stored()["vibe"]["energyDirection"] == "winding_down"  # type: ignore[index]
    assert h.fakes.anthropic.requests == []


async def test_auto_fill_dedups_by_uri_and_mirrors_each_addition(h: Harness) -> None:
    cat = h.fakes.spotify.catalog
    h.fakes.spotify.start_playback(track_ids=[cat.tracks[40].id])
    try:
        reply = h.catalog_reply(4)
        data = json.loads(reply.blocks[0].text)
        data["tracks"].append(dict(data["tracks"][0]))  # the same track twice
        h.fakes.anthropic.script(Reply([text(json.dumps(data))]))
        r = await h.post("/api/mix/start", {"seedPlaylistId": "nope"})
        queue = r.json()["session"]["queue"]
        uris = [t["trackUri"] for t in queue]
        assert len(uris) == len(set(uris)) == 5  # four from Claude, one from the search fallback
        assert set(uris[:4]) == {f"spotify:track:{t.id}" for t in cat.tracks[:4]}
        assert queue[4]["reason"] != "fits"
        mirrored = [c.q("uri") for c in h.fakes.spotify.calls_to("queue_add")]
        assert mirrored == uris
    finally:
        h.fakes.spotify.stop_playback()


async def test_suggestion_calls_use_dateless_models_and_a_budget_below_max_tokens(
    h: Harness,
) -> None:
    await h.post("/api/mix/start", {"preferences": {"autoFill": False}})
    h.fakes.anthropic.script(h.catalog_reply(6, thinking_text="Let me think about flow."))
    r = await h.get("/api/mix/suggestions?count=3")
    assert r.status == 200
    assert len(r.json()["suggestions"]) == 3
    (request,) = h.fakes.anthropic.requests
    assert request["model"] == "claude-sonnet-4-6"
    assert 1024 <= request["thinking"]["budget_tokens"] < request["max_tokens"]


async def test_get_routes_call_no_ai_and_write_nothing(h: Harness) -> None:
    await h.post("/api/mix/start", {"preferences": {"autoFill": True}, "seedPlaylistId": "x"})
    h.fakes.anthropic.reset_calls()
    before = list(h.kv.ops)
    for path in ("/api/mix/current", "/api/mix/queue", "/api/mix/vibe"):
        assert (await h.get(path)).status == 200
    await h.client.platform.drain()
    assert h.fakes.anthropic.requests == []
    assert all(op == "get" for op, _ in h.kv.ops[len(before) :])


# -- steering --------------------------------------------------------------------------------


async def test_presets_steer_without_an_anthropic_key(suite: FakeSuite) -> None:
    harness = make(suite, ANTHROPIC_API_KEY=None)
    await harness.post("/api/mix/start", {"preferences": {"autoFill": False}})
    r = await harness.post("/api/mix/vibe/steer", {"direction": "more energy"})
    assert r.status == 200
    assert r.json()["changes"] == ["Energy: 5/10 → 7/10", "Direction: steady → building"]
    free = await harness.post("/api/mix/vibe/steer", {"direction": "something odd"})
    assert free.status == 500 and free.json() == {"error": "AI vibe steering not available"}


async def test_steer_stream_without_an_anthropic_key_is_500_before_streaming(
    suite: FakeSuite,
) -> None:
    harness = make(suite, ANTHROPIC_API_KEY=None)
    await harness.post("/api/mix/start", {"preferences": {"autoFill": False}})
    r = await harness.post("/api/mix/vibe/steer-stream", {"direction": "darker"})
    assert r.status == 500 and r.json() == {"error": "AI not available"}


async def test_free_text_steering_takes_claudes_energy_as_absolute(h: Harness) -> None:
    await h.post("/api/mix/start", {"preferences": {"autoFill": False}})
    h.fakes.anthropic.script('{"energyLevel": 3, "mood": ["dreamy"]}')
    r = await h.post("/api/mix/vibe/steer", {"direction": "float away"})
    assert r.status == 200
    assert r.json()["vibe"]["energyLevel"] == 3
    assert r.json()["changes"] == ["Energy: 5/10 → 3/10", "Added moods: dreamy"]
    (request,) = h.fakes.anthropic.requests
    assert request["model"] == "claude-haiku-4-5" and request["max_tokens"] == 500


async def test_claude_failing_on_free_text_steering_is_502_and_changes_nothing(
    h: Harness,
) -> None:
    await h.post("/api/mix/start", {"preferences": {"autoFill": False}})
    before = h.stored()
    h.fakes.anthropic.script(Reply.overloaded(), Reply.overloaded())
    r = await h.post("/api/mix/vibe/steer", {"direction": "float away"})
    assert r.status == 502
    assert h.stored() == before


def test_parse_proposals_drops_malformed_items() -> None:
    data = {
        "tracks": [
            {"artist": "Queen", "name": "Under Pressure", "reason": "classic"},
            {"artist": "", "name": "x"},
            "nope",
            {"artist": "Daft Punk", "name": "One More Time"},
        ]
    }
    found = parse_proposals(data)
    assert [(p.artist, p.name, p.reason) for p in found] == [
        ("Queen", "Under Pressure", "classic"),
        ("Daft Punk", "One More Time", "Fits the vibe"),
    ]
    assert parse_proposals({"tracks": "x"}) == [] and parse_proposals(None) == []
