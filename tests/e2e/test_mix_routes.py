"""Mix routes end to end: the built DJ API on the local host (Pyodide), KV in Miniflare,
Spotify and Claude faked. Each route on success and on each documented error.

Every test uses the fake's one user, so each starts from no session (`fresh`).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from fakes.anthropic import Reply, text
from fakes.catalog import PLAYLIST_100
from tests.e2e.conftest import DJ, auth


def start(dj: DJ, **body: Any) -> dict[str, Any]:
    body.setdefault("preferences", {"autoFill": False})
    r = dj.http.post("/api/mix/start", headers=auth(dj), json=body)
    assert r.status_code == 200, r.text
    return r.json()["session"]


def track_uri(dj: DJ, n: int) -> str:
    return f"spotify:track:{dj.fakes.spotify.catalog.tracks[n].id}"


def claude_tracks(dj: DJ, indexes: list[int]) -> Reply:
    cat = dj.fakes.spotify.catalog
    tracks = [
        {
            "artist": cat.artists[cat.tracks[i].artist_ids[0]].name,
            "name": cat.tracks[i].name,
            "reason": f"pick {i}",
        }
        for i in indexes
    ]
    return Reply([text(json.dumps({"tracks": tracks}))])


# -- auth and validation (every route) -------------------------------------------------------

ROUTES: list[tuple[str, str, Any]] = [
    ("POST", "/api/mix/start", {}),
    ("GET", "/api/mix/current", None),
    ("DELETE", "/api/mix/end", None),
    ("GET", "/api/mix/queue", None),
    ("POST", "/api/mix/queue/add", {"trackUri": "spotify:track:abc"}),
    ("DELETE", "/api/mix/queue/0", None),
    ("PUT", "/api/mix/queue/reorder", {"from": 0, "to": 1}),
    ("GET", "/api/mix/vibe", None),
    ("PUT", "/api/mix/vibe", {"energyLevel": 5}),
    ("POST", "/api/mix/vibe/steer", {"direction": "more energy"}),
    ("GET", "/api/mix/suggestions", None),
    ("POST", "/api/mix/save", {"name": "x"}),
    ("POST", "/api/mix/playback/track-played", {"trackId": "a", "trackUri": "b"}),
    ("POST", "/api/mix/queue/spotify", {"trackUri": "spotify:track:abc"}),
    ("PATCH", "/api/mix/preferences", {"autoFill": True}),
    ("POST", "/api/mix/vibe/steer-stream", {"direction": "x"}),
]


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
def test_every_mix_route_without_a_bearer_token_is_401(
    dj: DJ, method: str, path: str, body: Any
) -> None:
    r = dj.http.request(method, path, json=body)
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert dj.fakes.spotify.calls_to("me") == []


@pytest.mark.parametrize(
    ("method", "path", "body"), [r for r in ROUTES if r[2] is not None and r[1] != "/api/mix/start"]
)
def test_every_mix_body_that_fails_its_model_is_400(
    fresh: DJ, method: str, path: str, body: Any
) -> None:
    r = fresh.http.request(
        method,
        path,
        headers=auth(fresh),
        json={
            "direction": 7,
            "from": -1,
            "name": "",
            "trackId": "",
            "energyLevel": 11,
            "trackUri": "nope",
            "autoFill": "maybe",
        },
    )
    assert r.status_code == 400, r.text
    if path.endswith("/steer-stream"):  # the web client's contract: `error` is a string
        assert r.json() == {"error": "Invalid request"}
    else:
        assert r.json()["success"] is False


def test_a_revoked_token_is_401_invalid_authorization_token(fresh: DJ) -> None:
    r = fresh.http.get("/api/mix/current", headers={"Authorization": "Bearer revoked"})
    assert r.status_code == 401
    assert r.json() == {"error": "Invalid authorization token"}


def test_preferences_with_a_revoked_token_says_failed_to_get_user_identity(fresh: DJ) -> None:
    r = fresh.http.patch(
        "/api/mix/preferences", headers={"Authorization": "Bearer revoked"}, json={"autoFill": True}
    )
    assert r.status_code == 401
    assert r.json() == {"error": "Failed to get user identity"}


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/mix/queue", None),
        ("POST", "/api/mix/queue/add", {"trackUri": "spotify:track:abc"}),
        ("DELETE", "/api/mix/queue/0", None),
        ("PUT", "/api/mix/queue/reorder", {"from": 0, "to": 0}),
        ("GET", "/api/mix/vibe", None),
        ("PUT", "/api/mix/vibe", {"energyLevel": 5}),
        ("POST", "/api/mix/vibe/steer", {"direction": "more energy"}),
        ("GET", "/api/mix/suggestions", None),
        ("POST", "/api/mix/save", {"name": "x"}),
        ("POST", "/api/mix/playback/track-played", {"trackId": "a", "trackUri": "b"}),
        ("DELETE", "/api/mix/end", None),
        ("POST", "/api/mix/vibe/steer-stream", {"direction": "x"}),
    ],
)
def test_routes_that_need_a_session_are_404_without_one(
    fresh: DJ, method: str, path: str, body: Any
) -> None:
    r = fresh.http.request(method, path, headers=auth(fresh), json=body)
    assert r.status_code == 404
    assert r.json() == {"error": "No active session"}


def test_preferences_without_a_session_is_404_no_active_mix_session(fresh: DJ) -> None:
    r = fresh.http.patch("/api/mix/preferences", headers=auth(fresh), json={"autoFill": True})
    assert r.status_code == 404
    assert r.json() == {"error": "No active mix session"}


# -- start / current / end -------------------------------------------------------------------


def test_start_creates_a_session_seeded_from_a_playlist(fresh: DJ) -> None:
    playlist = fresh.fakes.spotify.catalog.playlist_by_name(PLAYLIST_100)
    session = start(fresh, seedPlaylistId=playlist.id)
    assert session["userId"] == fresh.fakes.spotify.user.id
    assert session["queue"] == [] and session["history"] == []
    assert session["vibe"]["genres"]  # from the seed artists
    assert len(session["fallbackPool"]) == 10
    assert session["preferences"]["autoFill"] is False
    items = fresh.fakes.spotify.calls_to("playlist_items")
    assert items and items[0].path.endswith(f"/playlists/{playlist.id}/items")


def test_start_returns_the_running_session_unchanged(fresh: DJ) -> None:
    first = start(fresh)
    again = start(fresh, preferences={"autoFill": True})
    assert again == first


def test_start_accepts_an_empty_body(fresh: DJ) -> None:
    fresh.fakes.anthropic.script(claude_tracks(fresh, [0, 1, 2, 3, 4]))
    r = fresh.http.post("/api/mix/start", headers=auth(fresh))
    assert r.status_code == 200
    assert len(r.json()["session"]["queue"]) == 5


def test_current_is_null_without_a_session_and_the_session_with_one(fresh: DJ) -> None:
    r = fresh.http.get("/api/mix/current", headers=auth(fresh))
    assert r.status_code == 200 and r.json() == {"session": None}
    session = start(fresh)
    r = fresh.http.get("/api/mix/current", headers=auth(fresh))
    assert r.json()["session"]["id"] == session["id"]


def test_current_has_no_side_effects_even_with_a_short_queue(fresh: DJ) -> None:
    start(fresh)
    fresh.http.patch("/api/mix/preferences", headers=auth(fresh), json={"autoFill": False})
    fresh.fakes.anthropic.reset_calls()
    before = fresh.http.get("/api/mix/current", headers=auth(fresh)).json()
    after = fresh.http.get("/api/mix/current", headers=auth(fresh)).json()
    assert before == after
    assert fresh.fakes.anthropic.calls == []
    assert fresh.fakes.spotify.calls_to("queue_add") == []


def test_end_of_a_fresh_session_is_200_with_zeros(fresh: DJ) -> None:
    start(fresh)
    r = fresh.http.delete("/api/mix/end", headers=auth(fresh))
    assert r.status_code == 200
    assert r.json() == {"success": True, "sessionDuration": 0, "tracksPlayed": 0}
    assert fresh.http.get("/api/mix/current", headers=auth(fresh)).json() == {"session": None}


# -- queue -----------------------------------------------------------------------------------


def test_queue_add_remove_and_reorder(fresh: DJ) -> None:
    start(fresh)
    h = auth(fresh)
    for n in (1, 2, 3):
        r = fresh.http.post("/api/mix/queue/add", headers=h, json={"trackUri": track_uri(fresh, n)})
        assert r.status_code == 200 and r.json()["success"] is True
    r = fresh.http.post(
        "/api/mix/queue/add", headers=h, json={"trackUri": track_uri(fresh, 4), "position": 0}
    )
    queue = r.json()["queue"]
    assert [t["trackUri"] for t in queue] == [track_uri(fresh, n) for n in (4, 1, 2, 3)]
    assert [t["position"] for t in queue] == [0, 1, 2, 3]
    assert queue[0]["addedBy"] == "user" and queue[0]["reason"] == "Manually added"
    assert queue[0]["vibeScore"] == 50
    r = fresh.http.put("/api/mix/queue/reorder", headers=h, json={"from": 0, "to": 3})
    assert [t["trackUri"] for t in r.json()["queue"]] == [track_uri(fresh, n) for n in (1, 2, 3, 4)]
    r = fresh.http.delete("/api/mix/queue/1", headers=h)
    assert [t["trackUri"] for t in r.json()["queue"]] == [track_uri(fresh, n) for n in (1, 3, 4)]
    r = fresh.http.get("/api/mix/queue", headers=h)
    assert [t["position"] for t in r.json()["queue"]] == [0, 1, 2]


def test_queue_add_of_an_unknown_track_is_400_failed_to_fetch_track_details(fresh: DJ) -> None:
    start(fresh)
    r = fresh.http.post(
        "/api/mix/queue/add",
        headers=auth(fresh),
        json={"trackUri": "spotify:track:0000000000000000000000"},
    )
    assert r.status_code == 400
    assert r.json() == {"error": "Failed to fetch track details"}


def test_queue_add_to_a_full_queue_is_400(fresh: DJ) -> None:
    start(fresh)
    h = auth(fresh)
    for n in range(10):
        assert (
            fresh.http.post(
                "/api/mix/queue/add", headers=h, json={"trackUri": track_uri(fresh, n)}
            ).status_code
            == 200
        )
    r = fresh.http.post("/api/mix/queue/add", headers=h, json={"trackUri": track_uri(fresh, 10)})
    assert r.status_code == 400
    assert r.json() == {"error": "Queue is full (max 10 tracks)"}


def test_bad_queue_positions_are_400(fresh: DJ) -> None:
    start(fresh)
    h = auth(fresh)
    fresh.http.post("/api/mix/queue/add", headers=h, json={"trackUri": track_uri(fresh, 1)})
    r = fresh.http.delete("/api/mix/queue/1", headers=h)
    assert r.status_code == 400 and r.json() == {"error": "Invalid position"}
    r = fresh.http.put("/api/mix/queue/reorder", headers=h, json={"from": 0, "to": 5})
    assert r.status_code == 400 and r.json() == {"error": "Invalid positions"}
    r = fresh.http.delete("/api/mix/queue/-1", headers=h)
    assert r.status_code == 400 and r.json()["success"] is False


# -- queue/spotify ---------------------------------------------------------------------------


def test_queue_spotify_adds_to_the_players_queue(fresh: DJ) -> None:
    fresh.fakes.spotify.start_playback(track_ids=[fresh.fakes.spotify.catalog.tracks[0].id])
    r = fresh.http.post(
        "/api/mix/queue/spotify", headers=auth(fresh), json={"trackUri": track_uri(fresh, 5)}
    )
    assert r.status_code == 200 and r.json() == {"queued": True, "success": True}
    (call,) = fresh.fakes.spotify.calls_to("queue_add")
    assert call.q("uri") == track_uri(fresh, 5)
    assert fresh.fakes.spotify.calls_to("me") == []  # this route needs no session


def test_queue_spotify_without_a_device_is_403_with_a_hint(fresh: DJ) -> None:
    r = fresh.http.post(
        "/api/mix/queue/spotify", headers=auth(fresh), json={"trackUri": track_uri(fresh, 5)}
    )
    assert r.status_code == 403
    assert r.json() == {"error": "No active Spotify device. Start playing on a device first."}


def test_queue_spotify_without_premium_passes_spotifys_403(fresh: DJ) -> None:
    fresh.fakes.spotify.start_playback(track_ids=[fresh.fakes.spotify.catalog.tracks[0].id])
    fresh.fakes.spotify.user.premium = False
    try:
        r = fresh.http.post(
            "/api/mix/queue/spotify", headers=auth(fresh), json={"trackUri": track_uri(fresh, 5)}
        )
    finally:
        fresh.fakes.spotify.user.premium = True
    assert r.status_code == 403
    assert "Premium required" in r.json()["error"]


def test_queue_spotify_with_a_track_spotify_refuses_is_a_400_with_its_message(
    fresh: DJ,
) -> None:
    fresh.fakes.spotify.start_playback(track_ids=[fresh.fakes.spotify.catalog.tracks[0].id])
    r = fresh.http.post(
        "/api/mix/queue/spotify",
        headers=auth(fresh),
        json={"trackUri": "spotify:track:0000000000000000000000"},
    )
    assert r.status_code == 400
    assert r.json() == {"error": "Invalid track uri"}


def test_queue_spotify_when_spotify_fails_is_502(fresh: DJ) -> None:
    fresh.fakes.spotify.start_playback(track_ids=[fresh.fakes.spotify.catalog.tracks[0].id])
    fresh.fakes.spotify.inject("queue_add", 500)
    r = fresh.http.post(
        "/api/mix/queue/spotify", headers=auth(fresh), json={"trackUri": track_uri(fresh, 5)}
    )
    assert r.status_code == 502
    assert r.json() == {"error": "Spotify API error: 500"}


# -- vibe ------------------------------------------------------------------------------------


def test_get_vibe_and_put_vibe_saves_it_even_when_nothing_is_added(fresh: DJ) -> None:
    start(fresh)
    h = auth(fresh)
    r = fresh.http.put(
        "/api/mix/vibe",
        headers=h,
        json={
            "energyLevel": 8,
            "energyDirection": "building",
            "bpmRange": {"min": 100, "max": 110},
        },
    )
    assert r.status_code == 200
    assert r.json()["queue"] == []
    vibe = fresh.http.get("/api/mix/vibe", headers=h).json()["vibe"]
    assert vibe["energyLevel"] == 8 and vibe["energyDirection"] == "building"
    assert vibe["bpmRange"] == {"min": 100, "max": 110}  # narrowed, not unioned


def test_put_vibe_with_auto_fill_clears_and_refills_the_queue(fresh: DJ) -> None:
    start(fresh)
    h = auth(fresh)
    fresh.http.post("/api/mix/queue/add", headers=h, json={"trackUri": track_uri(fresh, 30)})
    fresh.http.patch("/api/mix/preferences", headers=h, json={"autoFill": False})
    stored = fresh.http.get("/api/mix/current", headers=h).json()["session"]
    assert stored["preferences"]["autoFill"] is False
    fresh.fakes.anthropic.script(claude_tracks(fresh, [10, 11, 12, 13, 14, 15, 16, 17]))
    fresh.http.patch("/api/mix/preferences", headers=h, json={"autoFill": True})
    fresh.fakes.anthropic.script(claude_tracks(fresh, [20, 21, 22, 23, 24, 25, 26, 27]))
    r = fresh.http.put("/api/mix/vibe", headers=h, json={"energyLevel": 3})
    queue = r.json()["queue"]
    assert {t["trackUri"] for t in queue} <= {track_uri(fresh, n) for n in range(20, 28)}
    assert len(queue) == 5 and track_uri(fresh, 30) not in {t["trackUri"] for t in queue}
    assert all(t["addedBy"] == "ai" for t in queue)


def test_steer_with_a_preset_changes_and_saves_the_vibe(fresh: DJ) -> None:
    start(fresh)
    h = auth(fresh)
    r = fresh.http.post("/api/mix/vibe/steer", headers=h, json={"direction": "80s vibes"})
    assert r.status_code == 200
    body = r.json()
    assert body["vibe"]["era"] == {"start": 1980, "end": 1989}
    assert "Era: " in body["changes"][0]
    assert fresh.http.get("/api/mix/vibe", headers=h).json()["vibe"] == body["vibe"]
    assert fresh.fakes.anthropic.calls == []


def test_steer_with_free_text_asks_the_fast_model(fresh: DJ) -> None:
    start(fresh)
    fresh.fakes.anthropic.script('{"energyLevel": 9, "energyDirection": "building"}')
    r = fresh.http.post(
        "/api/mix/vibe/steer", headers=auth(fresh), json={"direction": "make the floor shake"}
    )
    assert r.status_code == 200
    assert r.json()["vibe"]["energyLevel"] == 9
    assert r.json()["changes"] == ["Energy: 5/10 → 9/10", "Direction: steady → building"]
    assert fresh.fakes.anthropic.requests[0]["model"] == "claude-haiku-4-5"


def test_steer_when_claude_fails_is_502(fresh: DJ) -> None:
    start(fresh)
    fresh.fakes.anthropic.script(Reply(status=400, error_type="invalid_request_error"))
    r = fresh.http.post(
        "/api/mix/vibe/steer", headers=auth(fresh), json={"direction": "make the floor shake"}
    )
    assert r.status_code == 502
    assert r.json() == {"error": "Could not work out how to steer the mix"}


# -- suggestions, save, preferences ----------------------------------------------------------


def test_suggestions_are_scored_catalog_tracks_and_based_on_the_vibe(fresh: DJ) -> None:
    start(fresh)
    fresh.fakes.anthropic.script(claude_tracks(fresh, [0, 1, 2, 3]))
    r = fresh.http.get("/api/mix/suggestions?count=2", headers=auth(fresh))
    assert r.status_code == 200
    body = r.json()
    assert "currentTrack" not in body["basedOn"]
    assert body["basedOn"]["vibeProfile"].startswith("Energy: 5/10 (steady), BPM: ")
    assert len(body["suggestions"]) == 2
    assert {s["trackUri"] for s in body["suggestions"]} <= {track_uri(fresh, n) for n in range(4)}
    assert all(0 <= s["vibeScore"] <= 100 for s in body["suggestions"])
    request = fresh.fakes.anthropic.requests[0]
    assert request["thinking"]["budget_tokens"] < request["max_tokens"]


def test_suggestions_count_out_of_range_is_400(fresh: DJ) -> None:
    start(fresh)
    r = fresh.http.get("/api/mix/suggestions?count=11", headers=auth(fresh))
    assert r.status_code == 400


def test_save_with_nothing_played_or_queued_is_400(fresh: DJ) -> None:
    start(fresh)
    r = fresh.http.post("/api/mix/save", headers=auth(fresh), json={"name": "Empty"})
    assert r.status_code == 400
    assert r.json() == {"error": "No tracks to save"}


def test_save_creates_a_private_playlist_history_oldest_first(fresh: DJ) -> None:
    start(fresh)
    h = auth(fresh)
    for n in (1, 2):
        fresh.http.post(
            "/api/mix/playback/track-played",
            headers=h,
            json={
                "trackId": fresh.fakes.spotify.catalog.tracks[n].id,
                "trackUri": track_uri(fresh, n),
            },
        )
    fresh.http.post("/api/mix/queue/add", headers=h, json={"trackUri": track_uri(fresh, 3)})
    r = fresh.http.post("/api/mix/save", headers=h, json={"name": "My mix", "includeQueue": False})
    assert r.status_code == 200
    body = r.json()
    assert body["success"] is True and body["trackCount"] == 2
    assert body["playlistUrl"].endswith(body["playlistId"])
    playlist = fresh.fakes.spotify.playlists[body["playlistId"]]
    assert playlist.public is False
    assert playlist.description.startswith("DJ Mix created on ")
    assert [f"spotify:track:{e.track_id}" for e in playlist.entries] == [
        track_uri(fresh, 1),
        track_uri(fresh, 2),
    ]


def test_save_when_spotify_refuses_is_its_status_with_failed_to_create_playlist(fresh: DJ) -> None:
    start(fresh)
    h = auth(fresh)
    fresh.http.post("/api/mix/queue/add", headers=h, json={"trackUri": track_uri(fresh, 3)})
    fresh.fakes.spotify.inject("create_playlist", 403)
    r = fresh.http.post("/api/mix/save", headers=h, json={"name": "x"})
    assert r.status_code == 403
    assert r.json() == {"error": "Failed to create playlist"}


def test_preferences_switch_auto_fill_and_fill_the_queue(fresh: DJ) -> None:
    start(fresh)
    fresh.fakes.anthropic.script(claude_tracks(fresh, [5, 6, 7, 8, 9, 10, 11, 12]))
    r = fresh.http.patch("/api/mix/preferences", headers=auth(fresh), json={"autoFill": True})
    assert r.status_code == 200
    body = r.json()
    assert body["success"] is True and body["preferences"]["autoFill"] is True
    assert len(body["session"]["queue"]) == 5


# -- track played ----------------------------------------------------------------------------


def test_track_played_moves_a_queued_track_to_history(fresh: DJ) -> None:
    start(fresh)
    h = auth(fresh)
    fresh.http.post("/api/mix/queue/add", headers=h, json={"trackUri": track_uri(fresh, 7)})
    tid = fresh.fakes.spotify.catalog.tracks[7].id
    r = fresh.http.post(
        "/api/mix/playback/track-played",
        headers=h,
        json={"trackId": tid, "trackUri": track_uri(fresh, 7)},
    )
    assert r.status_code == 200
    body = r.json()
    assert body["movedToHistory"] is True and body["success"] is True
    assert body["session"]["queue"] == []
    assert body["session"]["history"][0]["trackId"] == tid


def test_track_played_of_an_unknown_track_changes_no_history(fresh: DJ) -> None:
    start(fresh)
    r = fresh.http.post(
        "/api/mix/playback/track-played",
        headers=auth(fresh),
        json={
            "trackId": "0000000000000000000000",
            "trackUri": "spotify:track:0000000000000000000000",
        },
    )
    assert r.status_code == 200
    assert r.json()["movedToHistory"] is False
    assert r.json()["session"]["history"] == []


def test_track_played_with_missing_fields_is_400_not_500(fresh: DJ) -> None:
    start(fresh)
    r = fresh.http.post("/api/mix/playback/track-played", headers=auth(fresh), json={"trackId": 5})
    assert r.status_code == 400
    assert r.json()["success"] is False


@pytest.mark.parametrize("value", [0.0, 0, 1, "yes", "true"])
def test_preferences_auto_fill_must_be_a_json_boolean(fresh: DJ, value: Any) -> None:
    start(fresh)
    r = fresh.http.patch("/api/mix/preferences", headers=auth(fresh), json={"autoFill": value})
    assert r.status_code == 400, r.text
    [issue] = r.json()["error"]["issues"]
    assert issue["path"] == ["autoFill"]
    session = fresh.http.get("/api/mix/current", headers=auth(fresh)).json()["session"]
    assert session["preferences"]["autoFill"] is not value


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/mix/queue/reorder", {"from": True, "to": 1}),
        ("/api/mix/queue/reorder", {"from": "0", "to": 1}),
        ("/api/mix/vibe/steer", {"direction": "more energy", "intensity": "5"}),
        ("/api/mix/save", {"name": "x", "includeQueue": 1}),
        ("/api/mix/queue/add", {"trackUri": 5}),
    ],
)
def test_mix_bodies_do_not_coerce_types(fresh: DJ, path: str, body: dict) -> None:
    start(fresh)
    method = "PUT" if path.endswith("reorder") else "POST"
    r = fresh.http.request(method, path, headers=auth(fresh), json=body)
    assert r.status_code == 400, r.text
    assert r.json()["success"] is False
