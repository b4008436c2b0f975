from __future__ import annotations

import base64
import hashlib
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from fakes.catalog import (
    CATALOG,
    PLAYLIST_100,
    PLAYLIST_EMPTY,
    PLAYLIST_FOREIGN,
    PLAYLIST_NO_IMAGES,
    PLAYLIST_WITH_LOCAL,
)
from fakes.spotify import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, FakeSpotify

from .helpers import bearer

REDIRECT = "http://127.0.0.1:8787/api/spotify/callback"


def _pkce() -> tuple[str, str]:
    verifier = base64.urlsafe_b64encode(b"v" * 32).rstrip(b"=").decode()
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.rstrip(b"=").decode()


def _authorize(spotify: FakeSpotify, client: httpx.Client, challenge: str) -> str:
    r = client.get(
        f"{spotify.base_url}/authorize",
        params={
            "client_id": DEFAULT_CLIENT_ID,
            "response_type": "code",
            "redirect_uri": REDIRECT,
            "state": "st-123",
            "code_challenge_method": "S256",
            "code_challenge": challenge,
            "scope": "user-read-private",
        },
    )
    assert r.status_code == 302
    loc = urlsplit(r.headers["Location"])
    assert f"{loc.scheme}://{loc.netloc}{loc.path}" == REDIRECT
    q = parse_qs(loc.query)
    assert q["state"] == ["st-123"]
    return q["code"][0]


def _token(spotify: FakeSpotify, client: httpx.Client, **form: str) -> httpx.Response:
    return client.post(f"{spotify.base_url}/api/token", data=form)


def test_me_has_the_february_2026_dev_mode_shape(
    spotify: FakeSpotify, client: httpx.Client
) -> None:
    body = client.get(f"{spotify.api}/me", headers=bearer()).json()
    assert body["id"] == "fakeuser" and body["type"] == "user"
    for gone in ("country", "email", "product", "explicit_content", "followers"):
        assert gone not in body


def test_unknown_and_missing_tokens_get_spotify_401_bodies(
    spotify: FakeSpotify, client: httpx.Client
) -> None:
    r = client.get(f"{spotify.api}/me", headers=bearer("nope"))
    assert r.status_code == 401
    assert r.json() == {"error": {"status": 401, "message": "Invalid access token"}}
    assert client.get(f"{spotify.api}/me").json()["error"]["message"] == "No token provided"


def test_pkce_round_trip_issues_tokens_that_work(
    spotify: FakeSpotify, client: httpx.Client
) -> None:
    verifier, challenge = _pkce()
    code = _authorize(spotify, client, challenge)
    r = _token(
        spotify,
        client,
        grant_type="authorization_code",
        code=code,
        redirect_uri=REDIRECT,
        client_id=DEFAULT_CLIENT_ID,
        client_secret=DEFAULT_CLIENT_SECRET,
        code_verifier=verifier,
    )
    assert r.status_code == 200
    tok = r.json()
    assert tok["token_type"] == "Bearer" and tok["expires_in"] == 3600
    assert tok["refresh_token"] and tok["scope"] == "user-read-private"
    assert client.get(f"{spotify.api}/me", headers=bearer(tok["access_token"])).status_code == 200
    again = _token(
        spotify,
        client,
        grant_type="authorization_code",
        code=code,
        redirect_uri=REDIRECT,
        client_id=DEFAULT_CLIENT_ID,
        code_verifier=verifier,
    )
    assert again.status_code == 400
    assert again.json() == {
        "error": "invalid_grant",
        "error_description": "Invalid authorization code",
    }


def test_wrong_code_verifier_is_invalid_grant(spotify: FakeSpotify, client: httpx.Client) -> None:
    _, challenge = _pkce()
    code = _authorize(spotify, client, challenge)
    r = _token(
        spotify,
        client,
        grant_type="authorization_code",
        code=code,
        redirect_uri=REDIRECT,
        client_id=DEFAULT_CLIENT_ID,
        code_verifier="wrong",
    )
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_grant"


def test_token_endpoint_rejects_a_json_body(spotify: FakeSpotify, client: httpx.Client) -> None:
    r = client.post(
        f"{spotify.base_url}/api/token", json={"grant_type": "refresh_token", "refresh_token": "x"}
    )
    assert r.status_code == 400
    assert r.json()["error"] == "unsupported_grant_type"


def test_authorize_can_report_access_denied(spotify: FakeSpotify, client: httpx.Client) -> None:
    spotify.authorize_error = "access_denied"
    r = client.get(
        f"{spotify.base_url}/authorize",
        params={
            "client_id": DEFAULT_CLIENT_ID,
            "response_type": "code",
            "redirect_uri": REDIRECT,
            "state": "s",
        },
    )
    q = parse_qs(urlsplit(r.headers["Location"]).query)
    assert q == {"error": ["access_denied"], "state": ["s"]}


def test_refresh_rotates_every_second_time_and_old_token_dies(
    spotify: FakeSpotify, client: httpx.Client
) -> None:
    rt = spotify.issue_refresh_token()
    first = _token(
        spotify, client, grant_type="refresh_token", refresh_token=rt, client_id=DEFAULT_CLIENT_ID
    ).json()
    assert "refresh_token" not in first and first["access_token"]
    second = _token(
        spotify, client, grant_type="refresh_token", refresh_token=rt, client_id=DEFAULT_CLIENT_ID
    ).json()
    assert second["refresh_token"] != rt
    stale = _token(
        spotify, client, grant_type="refresh_token", refresh_token=rt, client_id=DEFAULT_CLIENT_ID
    )
    assert stale.status_code == 400
    assert stale.json() == {"error": "invalid_grant", "error_description": "Invalid refresh token"}
    fresh = _token(
        spotify,
        client,
        grant_type="refresh_token",
        refresh_token=second["refresh_token"],
        client_id=DEFAULT_CLIENT_ID,
    )
    assert fresh.status_code == 200


def test_expired_token_answers_401_token_expired(
    spotify: FakeSpotify, client: httpx.Client
) -> None:
    tok = spotify.issue_token(lifetime=0)
    r = client.get(f"{spotify.api}/me", headers=bearer(tok))
    assert r.status_code == 401
    assert r.json()["error"]["message"] == "The access token expired"


def test_hundred_track_playlist_pages_items_by_fifty(
    spotify: FakeSpotify, client: httpx.Client
) -> None:
    pid = CATALOG.playlist_by_name(PLAYLIST_100).id
    url = f"{spotify.api}/playlists/{pid}/items"
    assert client.get(url, params={"limit": 100}, headers=bearer()).status_code == 400
    page1 = client.get(url, params={"limit": 50}, headers=bearer()).json()
    assert page1["total"] == 100 and len(page1["items"]) == 50
    page2 = client.get(page1["next"], headers=bearer()).json()
    assert len(page2["items"]) == 50 and page2["next"] is None
    entry = page1["items"][0]
    assert "track" not in entry
    item = entry["item"]
    assert item["type"] == "track" and "popularity" not in item
    assert "available_markets" not in item["album"]
    ids = {e["item"]["id"] for e in page1["items"] + page2["items"]}
    assert len(ids) == 100


def test_old_tracks_paths_and_batch_lookups_are_forbidden(
    spotify: FakeSpotify, client: httpx.Client
) -> None:
    pid = CATALOG.playlist_by_name(PLAYLIST_100).id
    ids = ",".join(t.id for t in CATALOG.tracks[:3])
    for method, path in [
        ("GET", f"/playlists/{pid}/tracks"),
        ("POST", f"/playlists/{pid}/tracks"),
        ("GET", f"/tracks?ids={ids}"),
        ("GET", f"/artists?ids={ids}"),
        ("POST", "/users/fakeuser/playlists"),
        ("GET", "/recommendations"),
    ]:
        r = client.request(method, f"{spotify.api}{path}", headers=bearer(), json={})
        assert r.status_code == 403, path
        assert r.json() == {"error": {"status": 403, "message": "Forbidden"}}


def test_single_track_lookup_keeps_isrc_and_date_precision(
    spotify: FakeSpotify, client: httpx.Client
) -> None:
    by_precision = {}
    for t in CATALOG.tracks:
        body = client.get(f"{spotify.api}/tracks/{t.id}", headers=bearer()).json()
        by_precision[body["album"]["release_date_precision"]] = body
        if len(by_precision) == 3:
            break
    assert set(by_precision) == {"year", "month", "day"}
    assert len(by_precision["year"]["album"]["release_date"]) == 4
    some = client.get(f"{spotify.api}/tracks/{CATALOG.tracks[0].id}", headers=bearer()).json()
    assert some["external_ids"]["isrc"] == CATALOG.tracks[0].isrc
    assert client.get(f"{spotify.api}/tracks/notanid", headers=bearer()).status_code == 400


def test_local_file_and_removed_track_entries(spotify: FakeSpotify, client: httpx.Client) -> None:
    pid = CATALOG.playlist_by_name(PLAYLIST_WITH_LOCAL).id
    items = client.get(f"{spotify.api}/playlists/{pid}/items?limit=50", headers=bearer()).json()[
        "items"
    ]
    local = [e for e in items if e["is_local"]]
    assert len(local) == 1
    assert local[0]["item"]["id"] is None and local[0]["item"]["uri"].startswith("spotify:local:")
    assert sum(1 for e in items if e["item"] is None) == 1


def test_foreign_playlist_hides_items_in_dev_mode(
    spotify: FakeSpotify, client: httpx.Client
) -> None:
    pid = CATALOG.playlist_by_name(PLAYLIST_FOREIGN).id
    meta = client.get(f"{spotify.api}/playlists/{pid}", headers=bearer()).json()
    assert meta["owner"]["id"] == "spotify" and "items" not in meta
    assert client.get(f"{spotify.api}/playlists/{pid}/items", headers=bearer()).status_code == 403


def test_my_playlists_include_one_with_null_images(
    spotify: FakeSpotify, client: httpx.Client
) -> None:
    body = client.get(f"{spotify.api}/me/playlists?limit=50", headers=bearer()).json()
    by_name = {p["name"]: p for p in body["items"]}
    assert by_name[PLAYLIST_NO_IMAGES]["images"] is None
    assert by_name[PLAYLIST_100]["items"] == {
        "href": f"{spotify.api}/playlists/{by_name[PLAYLIST_100]['id']}/items",
        "total": 100,
    }
    assert by_name[PLAYLIST_EMPTY]["items"]["total"] == 0
    assert client.get(f"{spotify.api}/me/playlists?limit=51", headers=bearer()).status_code == 400


def test_create_playlist_then_add_and_remove_items(
    spotify: FakeSpotify, client: httpx.Client
) -> None:
    created = client.post(
        f"{spotify.api}/me/playlists", headers=bearer(), json={"name": "Mix", "public": False}
    )
    assert created.status_code == 201
    pid = created.json()["id"]
    uris = [t.uri for t in CATALOG.tracks[:3]]
    added = client.post(
        f"{spotify.api}/playlists/{pid}/items", headers=bearer(), json={"uris": uris}
    )
    assert added.status_code == 201 and "snapshot_id" in added.json()
    removed = client.request(
        "DELETE",
        f"{spotify.api}/playlists/{pid}/items",
        headers=bearer(),
        json={"items": [{"uri": uris[0]}]},
    )
    assert removed.status_code == 200
    assert removed.json()["snapshot_id"] != added.json()["snapshot_id"]
    items = client.get(f"{spotify.api}/playlists/{pid}/items", headers=bearer()).json()["items"]
    assert [e["item"]["uri"] for e in items] == uris[1:]
    too_many = client.post(
        f"{spotify.api}/playlists/{pid}/items", headers=bearer(), json={"uris": uris * 34}
    )
    assert too_many.status_code == 400


def test_search_limit_is_capped_at_ten(spotify: FakeSpotify, client: httpx.Client) -> None:
    url = f"{spotify.api}/search"
    assert client.get(
        url, params={"q": "love", "type": "track", "limit": 11}, headers=bearer()
    ).json() == {"error": {"status": 400, "message": "Invalid limit"}}
    default = client.get(url, params={"q": "a", "type": "track"}, headers=bearer()).json()
    assert default["tracks"]["limit"] == 5 and len(default["tracks"]["items"]) == 5


def test_search_understands_field_filters_and_isrc(
    spotify: FakeSpotify, client: httpx.Client
) -> None:
    url = f"{spotify.api}/search"
    r = client.get(
        url,
        params={"q": 'artist:"Queen" track:"Bohemian Rhapsody"', "type": "track", "limit": 10},
        headers=bearer(),
    ).json()
    assert [i["name"] for i in r["tracks"]["items"]] == ["Bohemian Rhapsody"]
    t = CATALOG.tracks[5]
    r = client.get(url, params={"q": f"isrc:{t.isrc}", "type": "track"}, headers=bearer()).json()
    assert [i["id"] for i in r["tracks"]["items"]] == [t.id]
    r = client.get(
        url,
        params={"q": 'genre:"disco" OR genre:"jazz"', "type": "track,artist", "limit": 10},
        headers=bearer(),
    ).json()
    assert r["tracks"]["total"] > 10 and "artists" in r
    assert client.get(url, params={"q": "x", "type": "song"}, headers=bearer()).status_code == 400


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clocked() -> FakeSpotify:
    fake = FakeSpotify(clock=Clock())
    fake.start()
    yield fake  # type: ignore[misc]
    fake.stop()


def test_player_is_204_when_nothing_is_active(spotify: FakeSpotify, client: httpx.Client) -> None:
    r = client.get(f"{spotify.api}/me/player", headers=bearer())
    assert r.status_code == 204 and r.content == b""
    assert (
        client.get(f"{spotify.api}/me/player/currently-playing", headers=bearer()).status_code
        == 204
    )


def test_player_commands_need_an_active_device_and_premium(
    spotify: FakeSpotify, client: httpx.Client
) -> None:
    r = client.put(f"{spotify.api}/me/player/play", headers=bearer())
    assert r.status_code == 404 and r.json()["error"]["reason"] == "NO_ACTIVE_DEVICE"
    spotify.start_playback([CATALOG.tracks[0].id])
    spotify.user.premium = False
    r = client.post(f"{spotify.api}/me/player/next", headers=bearer())
    assert r.status_code == 403 and r.json()["error"]["reason"] == "PREMIUM_REQUIRED"


def test_pause_twice_is_a_restriction_violation(spotify: FakeSpotify, client: httpx.Client) -> None:
    spotify.start_playback([CATALOG.tracks[0].id])
    assert client.put(f"{spotify.api}/me/player/pause", headers=bearer()).status_code == 204
    again = client.put(f"{spotify.api}/me/player/pause", headers=bearer())
    assert again.status_code == 403 and again.json()["error"]["reason"] == "UNKNOWN"


def test_queue_add_then_next_plays_the_queued_track(
    spotify: FakeSpotify, client: httpx.Client
) -> None:
    a, b = CATALOG.tracks[0], CATALOG.tracks[9]
    spotify.start_playback([a.id], queue=[])
    assert (
        client.post(
            f"{spotify.api}/me/player/queue", params={"uri": b.uri}, headers=bearer()
        ).status_code
        == 204
    )
    queue = client.get(f"{spotify.api}/me/player/queue", headers=bearer()).json()
    assert queue["currently_playing"]["id"] == a.id and queue["queue"][0]["id"] == b.id
    client.post(f"{spotify.api}/me/player/next", headers=bearer())
    state = client.get(f"{spotify.api}/me/player", headers=bearer()).json()
    assert state["item"]["id"] == b.id and state["progress_ms"] < 1000


def test_volume_rules(spotify: FakeSpotify, client: httpx.Client) -> None:
    spotify.start_playback([CATALOG.tracks[0].id], device=0)
    url = f"{spotify.api}/me/player/volume"
    assert client.put(url, params={"volume_percent": 101}, headers=bearer()).status_code == 400
    assert client.put(url, params={"volume_percent": 30}, headers=bearer()).status_code == 204
    devices = client.get(f"{spotify.api}/me/player/devices", headers=bearer()).json()["devices"]
    assert devices[0]["volume_percent"] == 30 and devices[0]["is_active"] is True
    phone = spotify.player.devices[2].id
    assert (
        client.put(
            f"{spotify.api}/me/player", json={"device_ids": [phone]}, headers=bearer()
        ).status_code
        == 204
    )
    r = client.put(url, params={"volume_percent": 30}, headers=bearer())
    assert r.status_code == 403 and r.json()["error"]["reason"] == "VOLUME_CONTROL_DISALLOW"


def test_timeline_changes_track_pauses_switches_device_then_expires(
    clocked: FakeSpotify, client: httpx.Client
) -> None:
    clock = clocked.clock
    assert isinstance(clock, Clock)
    a, b = CATALOG.tracks[0], CATALOG.tracks[1]
    clocked.start_playback([a.id])
    clocked.timeline(
        [
            (2.0, {"play": b.id}),
            (5.0, {"pause": True}),
            (7.0, {"device": 1}),
            (9.0, {"expire_tokens": True}),
        ]
    )

    def state() -> httpx.Response:
        return client.get(f"{clocked.api}/me/player", headers=bearer())

    clock.now += 1.0
    s = state().json()
    assert s["item"]["id"] == a.id and s["progress_ms"] == 1000 and s["is_playing"]
    clock.now += 1.5
    s = state().json()
    assert s["item"]["id"] == b.id and s["progress_ms"] == 500
    clock.now += 3.0
    s = state().json()
    assert s["is_playing"] is False and s["progress_ms"] == 3000
    clock.now += 2.0
    s = state().json()
    assert s["device"]["id"] == clocked.player.devices[1].id
    clock.now += 2.0
    r = state()
    assert r.status_code == 401
    assert r.json()["error"]["message"] == "The access token expired"


def test_playback_advances_to_the_next_track_at_the_end(
    clocked: FakeSpotify, client: httpx.Client
) -> None:
    a, b = CATALOG.tracks[0], CATALOG.tracks[1]
    clocked.start_playback([a.id, b.id])
    clock = clocked.clock
    assert isinstance(clock, Clock)
    clock.now += a.duration_ms / 1000 + 2.0
    s = client.get(f"{clocked.api}/me/player/currently-playing", headers=bearer()).json()
    assert s["item"]["id"] == b.id and 1900 <= s["progress_ms"] <= 2100
