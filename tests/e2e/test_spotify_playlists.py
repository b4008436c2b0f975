"""Playlist routes end to end against the fake Spotify's February-2026 playlist endpoints."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fakes.catalog import (
    PLAYLIST_100,
    PLAYLIST_FOREIGN,
    PLAYLIST_NO_IMAGES,
    PLAYLIST_WITH_LOCAL,
)
from tests.e2e.conftest import DJ


def auth(dj: DJ) -> dict[str, str]:
    return {"Authorization": f"Bearer {dj.fakes.spotify.issue_token()}"}


def playlist_id(dj: DJ, name: str) -> str:
    return dj.fakes.spotify.catalog.playlist_by_name(name).id


def uris(dj: DJ, start: int, count: int) -> list[str]:
    return [t.uri for t in dj.fakes.spotify.catalog.tracks[start : start + count]]


@pytest.fixture
def scratch(dj: DJ) -> Iterator[list[str]]:
    """Playlists a test creates are removed from the fake afterwards (shared session)."""
    before = set(dj.fakes.spotify.playlists)
    created: list[str] = []
    yield created
    for pid in set(dj.fakes.spotify.playlists) - before:
        dj.fakes.spotify.playlists.pop(pid, None)


def create(dj: DJ, headers: dict[str, str], name: str = "Scratch") -> dict:
    r = dj.http.post("/api/spotify/playlists", headers=headers, json={"name": name})
    assert r.status_code == 201, r.text
    return r.json()


# -- GET /playlists --------------------------------------------------------------------------


def test_playlists_are_a_paging_object_with_tracks_refs(dj: DJ) -> None:
    r = dj.http.get("/api/spotify/playlists", headers=auth(dj))
    assert r.status_code == 200, r.text
    page = r.json()
    assert page["limit"] == 20 and page["offset"] == 0
    assert page["total"] == len(dj.fakes.spotify.playlists)
    by_name = {p["name"]: p for p in page["items"]}
    road = by_name[PLAYLIST_100]
    assert road["tracks"]["total"] == 100
    assert road["tracks"]["href"].endswith(f"/playlists/{road['id']}/items")
    assert "items" not in road
    assert by_name[PLAYLIST_NO_IMAGES]["images"] == []
    call = dj.fakes.spotify.calls_to("me/playlists")[0]
    assert (call.q("limit"), call.q("offset")) == ("20", "0")


def test_playlists_pass_limit_and_offset(dj: DJ) -> None:
    r = dj.http.get("/api/spotify/playlists?limit=2&offset=1", headers=auth(dj))
    assert r.status_code == 200
    assert len(r.json()["items"]) == 2
    call = dj.fakes.spotify.calls_to("me/playlists")[0]
    assert (call.q("limit"), call.q("offset")) == ("2", "1")


@pytest.mark.parametrize("query", ["limit=0", "limit=51", "offset=-1", "limit=abc"])
def test_playlists_query_is_validated(dj: DJ, query: str) -> None:
    r = dj.http.get(f"/api/spotify/playlists?{query}", headers=auth(dj))
    assert r.status_code == 400
    assert r.json()["error"]["issues"][0]["in"] == "query"
    assert dj.fakes.spotify.calls_to("me/playlists") == []


def test_playlists_without_a_token_is_401(dj: DJ) -> None:
    r = dj.http.get("/api/spotify/playlists")
    assert r.status_code == 401
    assert "www-authenticate" in r.headers


@pytest.mark.parametrize(
    ("injected", "expected"), [(401, 401), (403, 403), (500, 502)], ids=["401", "403", "5xx"]
)
def test_playlists_failures_map_to_clear_statuses(dj: DJ, injected: int, expected: int) -> None:
    dj.fakes.spotify.inject("me/playlists", injected)
    r = dj.http.get("/api/spotify/playlists", headers=auth(dj))
    assert r.status_code == expected
    assert r.json() == {"error": "Failed to get playlists"}


def test_playlists_rate_limited_is_429_with_retry_after(dj: DJ) -> None:
    dj.fakes.spotify.inject("me/playlists", 429, retry_after=45)
    r = dj.http.get("/api/spotify/playlists", headers=auth(dj))
    assert r.status_code == 429
    assert r.headers["retry-after"] == "45"


# -- GET /playlists/{id}/tracks --------------------------------------------------------------


def test_a_hundred_entries_take_two_spotify_pages(dj: DJ) -> None:
    pid = playlist_id(dj, PLAYLIST_100)
    r = dj.http.get(f"/api/spotify/playlists/{pid}/tracks?limit=100", headers=auth(dj))
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert len(items) == 100
    expected = [e.track_id for e in dj.fakes.spotify.playlists[pid].entries]
    assert [e["track"]["id"] for e in items] == expected
    assert all("item" not in e for e in items)
    calls = dj.fakes.spotify.calls_to("playlist_items")
    assert [(c.q("limit"), c.q("offset")) for c in calls] == [("50", "0"), ("50", "50")]
    assert dj.fakes.spotify.calls_to("removed") == []


def test_default_limit_is_fifty_in_one_page(dj: DJ) -> None:
    pid = playlist_id(dj, PLAYLIST_100)
    r = dj.http.get(f"/api/spotify/playlists/{pid}/tracks", headers=auth(dj))
    assert len(r.json()["items"]) == 50
    assert len(dj.fakes.spotify.calls_to("playlist_items")) == 1


def test_a_page_near_the_end_stops_at_the_last_entry(dj: DJ) -> None:
    pid = playlist_id(dj, PLAYLIST_100)
    r = dj.http.get(f"/api/spotify/playlists/{pid}/tracks?limit=80&offset=40", headers=auth(dj))
    assert r.status_code == 200
    assert len(r.json()["items"]) == 60
    calls = dj.fakes.spotify.calls_to("playlist_items")
    assert [(c.q("limit"), c.q("offset")) for c in calls] == [("50", "40"), ("30", "90")]


def test_local_files_and_removed_entries_do_not_fail_the_page(dj: DJ) -> None:
    pid = playlist_id(dj, PLAYLIST_WITH_LOCAL)
    r = dj.http.get(f"/api/spotify/playlists/{pid}/tracks", headers=auth(dj))
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert len(items) == len(dj.fakes.spotify.playlists[pid].entries)
    local = items[5]
    assert local["is_local"] is True
    assert local["track"]["is_local"] is True
    assert local["track"]["id"] is None
    assert local["track"]["uri"].startswith("spotify:local:")
    assert items[11]["track"] is None
    assert items[0]["track"]["popularity"] is None  # removed by Spotify in 2026


def test_someone_elses_playlist_is_403_not_a_logout(dj: DJ) -> None:
    pid = playlist_id(dj, PLAYLIST_FOREIGN)
    r = dj.http.get(f"/api/spotify/playlists/{pid}/tracks", headers=auth(dj))
    assert r.status_code == 403
    assert "own or collaborate" in r.json()["error"]


def test_an_unknown_playlist_is_404(dj: DJ) -> None:
    r = dj.http.get("/api/spotify/playlists/0000000000000000000000/tracks", headers=auth(dj))
    assert r.status_code == 404
    assert r.json() == {"error": "Playlist not found"}


def test_a_malformed_playlist_id_is_400(dj: DJ) -> None:
    r = dj.http.get("/api/spotify/playlists/not-an-id!/tracks", headers=auth(dj))
    assert r.status_code == 400
    assert r.json() == {"error": "Failed to get playlist tracks"}


def test_a_playlist_id_cannot_escape_its_path(dj: DJ) -> None:
    r = dj.http.get("/api/spotify/playlists/..%2F..%2Fme/tracks", headers=auth(dj))
    assert r.status_code == 400
    assert dj.fakes.spotify.calls_to("me") == []
    assert all("/playlists/" in c.path for c in dj.fakes.spotify.calls)


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "offset=-5"])
def test_tracks_query_is_validated(dj: DJ, query: str) -> None:
    pid = playlist_id(dj, PLAYLIST_100)
    r = dj.http.get(f"/api/spotify/playlists/{pid}/tracks?{query}", headers=auth(dj))
    assert r.status_code == 400
    assert dj.fakes.spotify.calls_to("playlist_items") == []


def test_a_failing_second_page_fails_the_request(dj: DJ) -> None:
    pid = playlist_id(dj, PLAYLIST_100)
    dj.fakes.spotify.inject("playlist_items", 503, skip=1)
    r = dj.http.get(f"/api/spotify/playlists/{pid}/tracks?limit=100", headers=auth(dj))
    assert r.status_code == 502
    assert len(dj.fakes.spotify.calls_to("playlist_items")) == 4  # page 1, page 2 x3


def test_an_expired_token_is_401(dj: DJ) -> None:
    pid = playlist_id(dj, PLAYLIST_100)
    r = dj.http.get(
        f"/api/spotify/playlists/{pid}/tracks", headers={"Authorization": "Bearer expired"}
    )
    assert r.status_code == 401


# -- POST /playlists -------------------------------------------------------------------------


def test_create_playlist_is_one_call_to_me_playlists(dj: DJ, scratch: list[str]) -> None:
    headers = auth(dj)
    r = dj.http.post(
        "/api/spotify/playlists",
        headers=headers,
        json={"name": "Road Songs", "description": "for the car"},
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["name"] == "Road Songs"
    assert body["description"] == "for the car"
    assert body["public"] is False
    assert body["tracks"]["items"] == [] and body["tracks"]["total"] == 0
    assert "items" not in body
    assert body["images"] == []
    sent = dj.fakes.spotify.calls_to("create_playlist")[0].json()
    assert sent == {"name": "Road Songs", "public": False, "description": "for the car"}
    assert dj.fakes.spotify.calls_to("me") == []
    assert dj.fakes.spotify.calls_to("removed") == []


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": ""},
        {"name": "x" * 101},
        {"name": "ok", "description": "d" * 301},
        {"name": "ok", "public": "yes please"},
        {"name": "ok", "public": 0},
        {"name": "ok", "public": "true"},
        {"name": 12345},
    ],
    ids=[
        "none",
        "empty",
        "long-name",
        "long-description",
        "public-not-bool",
        "public-zero",
        "public-string-true",
        "name-a-number",
    ],
)
def test_create_playlist_input_is_validated(dj: DJ, body: dict) -> None:
    r = dj.http.post("/api/spotify/playlists", headers=auth(dj), json=body)
    assert r.status_code == 400
    assert r.json()["success"] is False
    assert dj.fakes.spotify.calls_to("create_playlist") == []


def test_create_playlist_is_not_retried_after_a_spotify_error(dj: DJ) -> None:
    dj.fakes.spotify.inject("create_playlist", 500)
    r = dj.http.post("/api/spotify/playlists", headers=auth(dj), json={"name": "Once"})
    assert r.status_code == 502
    assert r.json() == {"error": "Failed to create playlist"}
    assert len(dj.fakes.spotify.calls_to("create_playlist")) == 1


def test_create_playlist_forbidden_is_403(dj: DJ) -> None:
    dj.fakes.spotify.inject("create_playlist", 403)
    r = dj.http.post("/api/spotify/playlists", headers=auth(dj), json={"name": "No"})
    assert r.status_code == 403


# -- POST /playlists/modify ------------------------------------------------------------------


def test_adding_150_tracks_goes_in_two_batches(dj: DJ, scratch: list[str]) -> None:
    headers = auth(dj)
    pid = create(dj, headers)["id"]
    wanted = uris(dj, 0, 150)
    r = dj.http.post(
        "/api/spotify/playlists/modify",
        headers=headers,
        json={"action": "add", "playlistId": pid, "trackUris": wanted},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["action"] == "added" and body["success"] is True
    assert body["snapshot_id"] == dj.fakes.spotify.playlists[pid].snapshot_id
    batches = [c.json()["uris"] for c in dj.fakes.spotify.calls_to("add_items")]
    assert [len(b) for b in batches] == [100, 50]
    assert batches[0] + batches[1] == wanted
    listed = dj.http.get(
        f"/api/spotify/playlists/{pid}/tracks?limit=100&offset=50", headers=headers
    )
    assert [e["track"]["uri"] for e in listed.json()["items"]] == wanted[50:150]


def test_removing_tracks_sends_items_objects(dj: DJ, scratch: list[str]) -> None:
    headers = auth(dj)
    pid = create(dj, headers)["id"]
    dj.http.post(
        "/api/spotify/playlists/modify",
        headers=headers,
        json={"action": "add", "playlistId": pid, "trackUris": uris(dj, 0, 5)},
    )
    gone = uris(dj, 1, 2)
    r = dj.http.post(
        "/api/spotify/playlists/modify",
        headers=headers,
        json={"action": "remove", "playlistId": pid, "trackUris": gone},
    )
    assert r.status_code == 200, r.text
    assert r.json()["action"] == "removed"
    sent = dj.fakes.spotify.calls_to("remove_items")[0].json()
    assert sent == {"items": [{"uri": u} for u in gone]}
    left = [e.track_id for e in dj.fakes.spotify.playlists[pid].entries]
    assert left == [t.id for t in dj.fakes.spotify.catalog.tracks[:5] if t.uri not in gone]


def test_a_failed_second_batch_reports_what_was_applied(dj: DJ, scratch: list[str]) -> None:
    headers = auth(dj)
    pid = create(dj, headers)["id"]
    dj.fakes.spotify.inject("add_items", 403, skip=1)
    r = dj.http.post(
        "/api/spotify/playlists/modify",
        headers=headers,
        json={"action": "add", "playlistId": pid, "trackUris": uris(dj, 0, 120)},
    )
    assert r.status_code == 403
    assert r.json() == {"error": "Failed to add tracks", "applied": 100}
    assert len(dj.fakes.spotify.playlists[pid].entries) == 100


def test_adding_to_someone_elses_playlist_is_403(dj: DJ) -> None:
    pid = playlist_id(dj, PLAYLIST_FOREIGN)
    r = dj.http.post(
        "/api/spotify/playlists/modify",
        headers=auth(dj),
        json={"action": "add", "playlistId": pid, "trackUris": uris(dj, 0, 1)},
    )
    assert r.status_code == 403
    assert r.json()["applied"] == 0


def test_an_invalid_uri_is_spotifys_400(dj: DJ, scratch: list[str]) -> None:
    headers = auth(dj)
    pid = create(dj, headers)["id"]
    r = dj.http.post(
        "/api/spotify/playlists/modify",
        headers=headers,
        json={"action": "remove", "playlistId": pid, "trackUris": ["not-a-uri"]},
    )
    assert r.status_code == 400
    assert r.json()["error"] == "Failed to remove tracks"


@pytest.mark.parametrize(
    "body",
    [
        {"action": "add", "playlistId": "p", "trackUris": []},
        {"action": "add", "playlistId": "p", "trackUris": ["spotify:track:x"] * 501},
        {"action": "replace", "playlistId": "p", "trackUris": ["spotify:track:x"]},
        {"action": "add", "playlistId": "", "trackUris": ["spotify:track:x"]},
    ],
    ids=["no-uris", "too-many", "bad-action", "no-playlist"],
)
def test_modify_input_is_validated(dj: DJ, body: dict) -> None:
    r = dj.http.post("/api/spotify/playlists/modify", headers=auth(dj), json=body)
    assert r.status_code == 400
    assert r.json()["success"] is False
    assert dj.fakes.spotify.calls == []
