"""Player proxy routes end to end against the fake Spotify player (Premium, devices, 204s)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import DJ


@pytest.fixture
def player(dj: DJ) -> Iterator[Any]:
    """The fake's player, playing the first track on the first device; reset afterwards."""
    fake = dj.fakes.spotify
    fake.start_playback(track_ids=[t.id for t in fake.catalog.tracks[:5]])
    yield fake
    fake.user.premium = True
    fake.stop_playback()


def auth(dj: DJ) -> dict[str, str]:
    return {"Authorization": f"Bearer {dj.fakes.spotify.issue_token()}"}


# -- reads -----------------------------------------------------------------------------------


def test_state_when_nothing_is_active_is_the_idle_shape(dj: DJ) -> None:
    dj.fakes.spotify.stop_playback()
    r = dj.http.get("/api/player/state", headers=auth(dj))
    assert r.status_code == 200
    assert r.json() == {"device": None, "is_playing": False, "item": None}


def test_state_passes_spotifys_playback_through(dj: DJ, player: Any) -> None:
    r = dj.http.get("/api/player/state", headers=auth(dj))
    assert r.status_code == 200
    body = r.json()
    assert body["is_playing"] is True
    assert body["item"]["id"] == player.catalog.tracks[0].id
    assert body["device"]["id"] == player.player.devices[0].id
    assert body["smart_shuffle"] is False  # a field we do not model is still there


def test_devices_lists_every_device(dj: DJ, player: Any) -> None:
    r = dj.http.get("/api/player/devices", headers=auth(dj))
    assert r.status_code == 200
    devices = r.json()["devices"]
    assert [d["name"] for d in devices] == [d.name for d in player.player.devices]
    assert [d["is_active"] for d in devices] == [True, False, False]


def test_queue_lists_what_plays_next(dj: DJ, player: Any) -> None:
    r = dj.http.get("/api/player/queue", headers=auth(dj))
    assert r.status_code == 200
    body = r.json()
    assert body["currently_playing"]["id"] == player.catalog.tracks[0].id
    assert [t["id"] for t in body["queue"]] == [t.id for t in player.catalog.tracks[1:5]]


def test_reads_without_a_token_are_401(dj: DJ) -> None:
    for path in ("/api/player/state", "/api/player/devices", "/api/player/queue"):
        r = dj.http.get(path)
        assert r.status_code == 401
        assert r.headers["www-authenticate"].startswith("Bearer")
    assert dj.fakes.spotify.calls == []


def test_state_with_an_expired_token_is_spotifys_401_with_details(dj: DJ) -> None:
    r = dj.http.get("/api/player/state", headers={"Authorization": "Bearer expired"})
    assert r.status_code == 401
    body = r.json()
    assert body["error"] == "Failed to get playback state"
    assert "Invalid access token" in body["details"]


def test_state_rate_limited_passes_429_and_retry_after(dj: DJ) -> None:
    dj.fakes.spotify.inject("player", 429, retry_after=60)
    r = dj.http.get("/api/player/state", headers=auth(dj))
    assert r.status_code == 429
    assert r.headers["retry-after"] == "60"
    assert r.json()["error"] == "Failed to get playback state"


def test_devices_when_spotify_fails_is_a_502_with_spotifys_details(dj: DJ) -> None:
    dj.fakes.spotify.inject("devices", 503)
    r = dj.http.get("/api/player/devices", headers=auth(dj))
    assert r.status_code == 502
    assert r.json()["details"]
    assert r.json()["error"] == "Failed to get devices"
    assert len(dj.fakes.spotify.calls_to("devices")) == 3  # reads are retried


# -- commands --------------------------------------------------------------------------------


def test_play_without_a_body_resumes(dj: DJ, player: Any) -> None:
    player.start_playback(track_ids=[player.catalog.tracks[0].id], playing=False)
    r = dj.http.post("/api/player/play", headers=auth(dj))
    assert r.status_code == 200, r.text
    assert r.json() == {"success": True}
    assert dj.fakes.spotify.calls_to("play")[0].body == b""
    assert player.player.is_playing is True


def test_play_with_uris_forwards_only_what_was_set(dj: DJ, player: Any) -> None:
    wanted = [t.uri for t in player.catalog.tracks[10:13]]
    r = dj.http.post(
        "/api/player/play",
        headers=auth(dj),
        json={"uris": wanted, "offset": {"position": 1}, "ignored": True},
    )
    assert r.status_code == 200, r.text
    assert dj.fakes.spotify.calls_to("play")[0].json() == {
        "uris": wanted,
        "offset": {"position": 1},
    }
    assert player.player.current == player.catalog.tracks[11].id


@pytest.mark.parametrize(
    "content",
    [b"{not json", b'{"uris": "spotify:track:x"}', b'{"position_ms": -1}'],
    ids=["bad-json", "uris-not-a-list", "negative-position"],
)
def test_play_with_bad_input_is_400_not_500(dj: DJ, player: Any, content: bytes) -> None:
    r = dj.http.post(
        "/api/player/play",
        headers={**auth(dj), "Content-Type": "application/json"},
        content=content,
    )
    assert r.status_code == 400
    assert r.json()["success"] is False
    assert dj.fakes.spotify.calls_to("play") == []


def test_pause_with_no_active_device_is_spotifys_404_with_details(dj: DJ) -> None:
    dj.fakes.spotify.stop_playback()
    r = dj.http.post("/api/player/pause", headers=auth(dj))
    assert r.status_code == 404
    body = r.json()
    assert body["error"] == "Failed to pause playback"
    assert "NO_ACTIVE_DEVICE" in body["details"]


def test_commands_without_premium_are_spotifys_403(dj: DJ, player: Any) -> None:
    player.user.premium = False
    for method, path in (("POST", "/api/player/pause"), ("POST", "/api/player/next")):
        r = dj.http.request(method, path, headers=auth(dj))
        assert r.status_code == 403
        assert "PREMIUM_REQUIRED" in r.json()["details"]


def test_pause_then_next_then_previous(dj: DJ, player: Any) -> None:
    headers = auth(dj)
    first, second = player.catalog.tracks[0].id, player.catalog.tracks[1].id
    assert dj.http.post("/api/player/pause", headers=headers).json() == {"success": True}
    assert player.player.is_playing is False
    assert dj.http.post("/api/player/next", headers=headers).json() == {"success": True}
    assert player.player.current == second
    assert dj.http.post("/api/player/previous", headers=headers).json() == {"success": True}
    assert player.player.current == first


def test_next_is_not_retried_so_it_cannot_skip_twice(dj: DJ, player: Any) -> None:
    dj.fakes.spotify.inject("next", 502)
    r = dj.http.post("/api/player/next", headers=auth(dj))
    assert r.status_code == 502
    assert r.json()["error"] == "Failed to skip track"
    assert len(dj.fakes.spotify.calls_to("next")) == 1


def test_seek_rounds_the_position(dj: DJ, player: Any) -> None:
    r = dj.http.post("/api/player/seek", headers=auth(dj), json={"position_ms": 61234.5})
    assert r.status_code == 200
    assert dj.fakes.spotify.calls_to("seek")[0].q("position_ms") == "61235"


@pytest.mark.parametrize(
    "body", [{}, {"position_ms": "soon"}, {"position_ms": -1}, {"position_ms": True}]
)
def test_seek_input_is_validated_with_the_web_clients_message(dj: DJ, body: dict) -> None:
    r = dj.http.post("/api/player/seek", headers=auth(dj), json=body)
    assert r.status_code == 400
    assert r.json() == {"error": "position_ms is required"}
    assert dj.fakes.spotify.calls_to("seek") == []


def test_device_transfers_playback(dj: DJ, player: Any) -> None:
    target = player.player.devices[1].id
    r = dj.http.put(
        "/api/player/device", headers=auth(dj), json={"device_id": target, "play": True}
    )
    assert r.status_code == 200
    assert dj.fakes.spotify.calls_to("transfer")[0].json() == {"device_ids": [target], "play": True}
    assert player.player.active_device == target


def test_device_defaults_play_to_false(dj: DJ, player: Any) -> None:
    target = player.player.devices[2].id
    dj.http.put("/api/player/device", headers=auth(dj), json={"device_id": target})
    assert dj.fakes.spotify.calls_to("transfer")[0].json()["play"] is False


def test_device_input_and_unknown_devices(dj: DJ, player: Any) -> None:
    missing = dj.http.put("/api/player/device", headers=auth(dj), json={"play": True})
    assert missing.status_code == 400
    unknown = dj.http.put("/api/player/device", headers=auth(dj), json={"device_id": "nope"})
    assert unknown.status_code == 404
    assert "DEVICE_NOT_FOUND" in unknown.json()["details"]


def test_volume_is_rounded_for_spotify_and_echoed(dj: DJ, player: Any) -> None:
    r = dj.http.put("/api/player/volume", headers=auth(dj), json={"volume_percent": 55.5})
    assert r.status_code == 200
    assert r.json() == {"success": True, "volume_percent": 55.5}
    assert dj.fakes.spotify.calls_to("volume")[0].q("volume_percent") == "56"
    assert player.player.devices[0].volume_percent == 56


@pytest.mark.parametrize("value", [-1, 101, "loud", None, True, "50"])
def test_volume_out_of_range_is_400_with_the_web_clients_message(dj: DJ, value: Any) -> None:
    r = dj.http.put("/api/player/volume", headers=auth(dj), json={"volume_percent": value})
    assert r.status_code == 400
    assert r.json() == {"error": "volume_percent must be a number between 0 and 100"}
    assert dj.fakes.spotify.calls_to("volume") == []


def test_volume_on_a_device_without_volume_control_is_403(dj: DJ, player: Any) -> None:
    player.start_playback(device=2)
    r = dj.http.put("/api/player/volume", headers=auth(dj), json={"volume_percent": 10})
    assert r.status_code == 403
    assert "VOLUME_CONTROL_DISALLOW" in r.json()["details"]


def test_queue_add_appends_to_the_queue(dj: DJ, player: Any) -> None:
    uri = player.catalog.tracks[20].uri
    r = dj.http.post("/api/player/queue/add", headers=auth(dj), json={"uri": uri})
    assert r.status_code == 200
    assert r.json() == {"success": True, "uri": uri}
    assert dj.fakes.spotify.calls_to("queue_add")[0].q("uri") == uri
    assert player.player.queue[-1] == player.catalog.tracks[20].id


def test_queue_add_input_and_spotify_refusal(dj: DJ, player: Any) -> None:
    assert dj.http.post("/api/player/queue/add", headers=auth(dj), json={}).status_code == 400
    r = dj.http.post("/api/player/queue/add", headers=auth(dj), json={"uri": "spotify:track:bad"})
    assert r.status_code == 400
    assert r.json()["error"] == "Failed to add to queue"
    assert "Invalid track uri" in r.json()["details"]


def test_commands_without_a_token_are_401(dj: DJ) -> None:
    for method, path in (
        ("POST", "/api/player/play"),
        ("POST", "/api/player/pause"),
        ("POST", "/api/player/next"),
        ("POST", "/api/player/previous"),
        ("POST", "/api/player/seek"),
        ("PUT", "/api/player/device"),
        ("PUT", "/api/player/volume"),
        ("POST", "/api/player/queue/add"),
    ):
        r = dj.http.request(method, path, json={})
        assert r.status_code == 401, path
    assert dj.fakes.spotify.calls == []


def test_error_details_do_not_echo_the_token(dj: DJ) -> None:
    dj.fakes.spotify.stop_playback()
    secret = dj.fakes.spotify.issue_token()
    r = dj.http.post("/api/player/pause", headers={"Authorization": f"Bearer {secret}"})
    assert r.status_code == 404
    assert secret not in r.text
