"""Spotify login, token and proxy routes end to end: the built worker on the local host,
against the fake Spotify accounts service and Web API (February-2026 behaviour)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from dj import spotify_oauth as oauth
from fakes.spotify import DEFAULT_CLIENT_SECRET
from tests.e2e.conftest import DJ

FRONTEND = "http://127.0.0.1:5173/"


# -- helpers ---------------------------------------------------------------------------------


@pytest.fixture
def browser(dj: DJ) -> Iterator[httpx.Client]:
    """A client with no shared cookie jar state: cookies are sent explicitly."""
    with httpx.Client(base_url=dj.url, timeout=30.0) as client:
        yield client


def set_cookies(response: httpx.Response) -> dict[str, str]:
    """Each Set-Cookie header by cookie name (the whole header value)."""
    out = {}
    for header in response.headers.get_list("set-cookie"):
        out[header.split("=", 1)[0]] = header
    return out


def cookie_value(header: str) -> str:
    return header.split(";", 1)[0].split("=", 1)[1]


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query, keep_blank_values=True).items()}


def start_login(browser: httpx.Client) -> tuple[str, str]:
    """auth-url → (Spotify authorize URL, spotify_oauth cookie value)."""
    r = browser.get("/api/spotify/auth-url")
    assert r.status_code == 200, r.text
    return r.json()["url"], cookie_value(set_cookies(r)["spotify_oauth"])


def authorize(url: str) -> str:
    """What the user's browser does at Spotify: the fake answers with a redirect."""
    r = httpx.get(url, follow_redirects=False)
    assert r.status_code == 302, r.text
    return r.headers["location"]


def call_back(browser: httpx.Client, location: str, cookie: str | None) -> httpx.Response:
    parts = urlsplit(location)
    headers = {"Cookie": f"spotify_oauth={cookie}"} if cookie is not None else {}
    return browser.get(f"{parts.path}?{parts.query}", headers=headers)


def login(browser: httpx.Client) -> tuple[httpx.Response, str, str]:
    url, cookie = start_login(browser)
    location = authorize(url)
    return call_back(browser, location, cookie), location, cookie


def error_code(response: httpx.Response) -> str | None:
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(FRONTEND)
    return query_of(location).get("error")


def signed_cookie(state: str, *, age_ms: int = 0, verifier: str = "v" * 43) -> str:
    data = oauth.OAuthState(state, int(time.time() * 1000) - age_ms, verifier)
    return oauth.seal_state(data, DEFAULT_CLIENT_SECRET)


@pytest.fixture
def rotation(dj: DJ) -> Iterator[None]:
    """Lets a test set the fake's refresh-token rotation; restores it afterwards."""
    before = dj.fakes.spotify.rotate_refresh_tokens
    yield
    dj.fakes.spotify.rotate_refresh_tokens = before


def token(dj: DJ) -> dict[str, str]:
    return {"Authorization": f"Bearer {dj.fakes.spotify.issue_token()}"}


# -- auth-url --------------------------------------------------------------------------------


def test_auth_url_sends_the_user_to_spotify_with_s256_pkce_and_state(
    dj: DJ, browser: httpx.Client
) -> None:
    r = browser.get("/api/spotify/auth-url")
    assert r.status_code == 200
    url = r.json()["url"]
    assert url.startswith(dj.fakes.spotify.base_url + "/authorize?")
    params = query_of(url)
    assert params["client_id"] == "fake-spotify-client-id"
    assert params["response_type"] == "code"
    assert params["code_challenge_method"] == "S256"
    assert params["show_dialog"] == "true"
    assert params["redirect_uri"] == f"{dj.url}/api/spotify/callback"
    assert params["scope"].split(" ") == list(oauth.SCOPES)
    assert len(oauth.SCOPES) == 11

    header = set_cookies(r)["spotify_oauth"]
    assert header.endswith("; Max-Age=900; Secure; SameSite=Lax; Path=/; HttpOnly")
    data = oauth.open_state(cookie_value(header), DEFAULT_CLIENT_SECRET)
    assert data.state == params["state"]
    assert oauth.code_challenge(data.verifier) == params["code_challenge"]
    assert abs(data.timestamp - time.time() * 1000) < 60_000
    assert "no-store" in r.headers["cache-control"]


def test_each_auth_url_has_its_own_state_and_verifier(browser: httpx.Client) -> None:
    first, second = start_login(browser), start_login(browser)
    assert query_of(first[0])["state"] != query_of(second[0])["state"]
    assert query_of(first[0])["code_challenge"] != query_of(second[0])["code_challenge"]


# -- callback --------------------------------------------------------------------------------


def test_login_round_trip_gives_a_working_token_and_a_refresh_cookie(
    dj: DJ, browser: httpx.Client
) -> None:
    r, _, cookie = login(browser)
    assert r.status_code == 302
    location = r.headers["location"]
    assert location.startswith(FRONTEND)
    params = query_of(location)
    assert params["auth_success"] == "true"
    assert params["expires_in"] == "3600"
    assert "error" not in params

    cookies = set_cookies(r)
    assert cookies["spotify_oauth"].startswith("spotify_oauth=; Max-Age=0;")
    refresh = cookies["spotify_refresh"]
    assert refresh.endswith("; Max-Age=2592000; Secure; SameSite=Lax; Path=/api/spotify; HttpOnly")
    assert cookie_value(refresh).startswith("AQ")

    exchange = dj.fakes.spotify.calls_to("token")[-1].form()
    verifier = oauth.open_state(cookie, DEFAULT_CLIENT_SECRET).verifier
    assert exchange["grant_type"] == "authorization_code"
    assert exchange["code_verifier"] == verifier
    assert exchange["client_secret"] == DEFAULT_CLIENT_SECRET
    assert exchange["redirect_uri"] == f"{dj.url}/api/spotify/callback"

    me = browser.get(
        "/api/spotify/me", headers={"Authorization": f"Bearer {params['spotify_token']}"}
    )
    assert me.status_code == 200
    assert me.json()["id"] == dj.fakes.spotify.user.id


def test_a_callback_cannot_be_replayed(dj: DJ, browser: httpx.Client) -> None:
    first, location, cookie = login(browser)
    assert error_code(first) is None
    calls = len(dj.fakes.spotify.calls_to("token"))
    again = call_back(browser, location, cookie)
    assert error_code(again) == "expired_auth"
    assert len(dj.fakes.spotify.calls_to("token")) == calls  # no second exchange


def test_spotify_refusal_is_passed_to_the_frontend(browser: httpx.Client) -> None:
    r = browser.get("/api/spotify/callback?error=access_denied&state=x")
    assert error_code(r) == "access_denied"


@pytest.mark.parametrize(
    "query",
    ["", "?code=abc", "?state=abc", "?code=&state=abc"],
    ids=["none", "no-state", "no-code", "empty-code"],
)
def test_callback_without_code_and_state_is_missing_parameters(
    browser: httpx.Client, query: str
) -> None:
    assert error_code(browser.get(f"/api/spotify/callback{query}")) == "missing_parameters"


def test_callback_without_the_cookie_is_missing_cookie(browser: httpx.Client) -> None:
    url, _ = start_login(browser)
    assert error_code(call_back(browser, authorize(url), None)) == "missing_cookie"


@pytest.mark.parametrize("bad", ["garbage", "only.", ".only", "a.b.c"])
def test_a_malformed_cookie_is_invalid_cookie(browser: httpx.Client, bad: str) -> None:
    url, _ = start_login(browser)
    assert error_code(call_back(browser, authorize(url), bad)) == "invalid_cookie"


def test_a_changed_signature_is_tampered_cookie(dj: DJ, browser: httpx.Client) -> None:
    url, cookie = start_login(browser)
    payload, signature = cookie.split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    r = call_back(browser, authorize(url), f"{payload}.{flipped}")
    assert error_code(r) == "tampered_cookie"
    assert dj.fakes.spotify.calls_to("token") == []


def test_a_cookie_forged_for_another_state_is_tampered_cookie(browser: httpx.Client) -> None:
    url, cookie = start_login(browser)
    location = authorize(url)
    _, signature = cookie.split(".")
    forged = oauth.b64url(
        json.dumps({"state": query_of(location)["state"], "timestamp": 0, "verifier": "x"}).encode()
    )
    assert error_code(call_back(browser, location, f"{forged}.{signature}")) == "tampered_cookie"


def test_a_cookie_for_another_login_is_state_mismatch(browser: httpx.Client) -> None:
    url, _ = start_login(browser)
    _, other_cookie = start_login(browser)
    assert error_code(call_back(browser, authorize(url), other_cookie)) == "state_mismatch"


def test_a_cookie_older_than_fifteen_minutes_is_expired_auth(dj: DJ, browser: httpx.Client) -> None:
    url, cookie = start_login(browser)
    location = authorize(url)
    state = query_of(location)["state"]
    verifier = oauth.open_state(cookie, DEFAULT_CLIENT_SECRET).verifier
    old = signed_cookie(state, age_ms=15 * 60 * 1000 + 5_000, verifier=verifier)
    assert error_code(call_back(browser, location, old)) == "expired_auth"
    assert dj.fakes.spotify.calls_to("token") == []


def test_a_code_spotify_refuses_is_token_exchange_failed(browser: httpx.Client) -> None:
    url, cookie = start_login(browser)
    location = authorize(url)
    state = query_of(location)["state"]
    r = browser.get(
        f"/api/spotify/callback?code=not-a-real-code&state={state}",
        headers={"Cookie": f"spotify_oauth={cookie}"},
    )
    assert error_code(r) == "token_exchange_failed"
    assert "spotify_refresh" not in set_cookies(r)


def test_spotify_down_during_the_exchange_is_token_exchange_failed(
    dj: DJ, browser: httpx.Client
) -> None:
    url, cookie = start_login(browser)
    location = authorize(url)
    dj.fakes.spotify.inject("token", 503)
    assert error_code(call_back(browser, location, cookie)) == "token_exchange_failed"
    assert len(dj.fakes.spotify.calls_to("token")) == 1  # a code is single use: no retry


def test_a_token_answer_without_a_token_is_invalid_token_response(
    dj: DJ, browser: httpx.Client
) -> None:
    url, cookie = start_login(browser)
    location = authorize(url)
    dj.fakes.spotify.inject("token", 200, body={"token_type": "Bearer", "expires_in": 3600})
    assert error_code(call_back(browser, location, cookie)) == "invalid_token_response"


def test_local_redirect_uri_completes_the_login_on_this_origin(
    dj: DJ, browser: httpx.Client
) -> None:
    url, _ = start_login(browser)
    location = authorize(url)
    assert location.startswith(f"{dj.url}/api/spotify/callback?")


# -- token -----------------------------------------------------------------------------------


def test_token_exchanges_a_code_and_verifier(dj: DJ, browser: httpx.Client) -> None:
    verifier = oauth.new_code_verifier()
    code = dj.fakes.spotify.issue_code(
        f"{dj.url}/api/spotify/callback", oauth.code_challenge(verifier)
    )
    r = browser.post("/api/spotify/token", json={"code": code, "codeVerifier": verifier})
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"access_token", "expires_in", "refresh_token", "scope", "token_type"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert "no-store" in r.headers["cache-control"]


def test_token_with_a_wrong_verifier_is_400_with_spotifys_description(
    dj: DJ, browser: httpx.Client
) -> None:
    code = dj.fakes.spotify.issue_code(
        f"{dj.url}/api/spotify/callback", oauth.code_challenge(oauth.new_code_verifier())
    )
    r = browser.post("/api/spotify/token", json={"code": code, "codeVerifier": "wrong" * 10})
    assert r.status_code == 400
    assert r.json() == {
        "error": "Token exchange failed",
        "error_description": "code_verifier was incorrect",
    }
    assert DEFAULT_CLIENT_SECRET not in r.text


def test_token_input_is_validated(browser: httpx.Client) -> None:
    r = browser.post("/api/spotify/token", json={"code": "abc"})
    assert r.status_code == 400
    issues = r.json()["error"]["issues"]
    assert issues[0]["path"] == ["codeVerifier"]


def test_token_when_spotify_is_down_is_502_not_400(dj: DJ, browser: httpx.Client) -> None:
    dj.fakes.spotify.inject("token", 502)
    r = browser.post("/api/spotify/token", json={"code": "c", "codeVerifier": "v"})
    assert r.status_code == 502
    assert r.json()["error"] == "Token exchange failed"


# -- refresh ---------------------------------------------------------------------------------


def test_refresh_with_rotation_resets_the_cookie_and_the_old_token_dies(
    dj: DJ, browser: httpx.Client, rotation: None
) -> None:
    dj.fakes.spotify.rotate_refresh_tokens = "always"
    old = dj.fakes.spotify.issue_refresh_token()
    r = browser.post("/api/spotify/refresh", headers={"Cookie": f"spotify_refresh={old}"})
    assert r.status_code == 200, r.text
    assert set(r.json()) == {"access_token", "expires_in"}
    header = set_cookies(r)["spotify_refresh"]
    new = cookie_value(header)
    assert new and new != old
    assert header.endswith("; Max-Age=2592000; Secure; SameSite=Lax; Path=/api/spotify; HttpOnly")
    form = dj.fakes.spotify.calls_to("token")[-1].form()
    assert form == {
        "client_id": "fake-spotify-client-id",
        "grant_type": "refresh_token",
        "refresh_token": old,
    }

    again = browser.post("/api/spotify/refresh", headers={"Cookie": f"spotify_refresh={new}"})
    assert again.status_code == 200
    stale = browser.post("/api/spotify/refresh", headers={"Cookie": f"spotify_refresh={old}"})
    assert stale.status_code == 401
    assert stale.json() == {"error": "Token refresh failed - please log in again"}
    assert set_cookies(stale)["spotify_refresh"].startswith("spotify_refresh=; Max-Age=0;")


def test_refresh_without_rotation_leaves_the_cookie_alone(
    dj: DJ, browser: httpx.Client, rotation: None
) -> None:
    dj.fakes.spotify.rotate_refresh_tokens = "never"
    rt = dj.fakes.spotify.issue_refresh_token()
    r = browser.post("/api/spotify/refresh", headers={"Cookie": f"spotify_refresh={rt}"})
    assert r.status_code == 200
    assert "spotify_refresh" not in set_cookies(r)
    access = r.json()["access_token"]
    me = browser.get("/api/spotify/me", headers={"Authorization": f"Bearer {access}"})
    assert me.status_code == 200


def test_refresh_without_a_cookie_is_401(browser: httpx.Client) -> None:
    r = browser.post("/api/spotify/refresh")
    assert r.status_code == 401
    assert r.json() == {"error": "No refresh token available"}


def test_refresh_while_spotify_is_down_keeps_the_cookie(dj: DJ, browser: httpx.Client) -> None:
    rt = dj.fakes.spotify.issue_refresh_token()
    dj.fakes.spotify.inject("token", 503)
    r = browser.post("/api/spotify/refresh", headers={"Cookie": f"spotify_refresh={rt}"})
    assert r.status_code == 502
    assert "spotify_refresh" not in set_cookies(r)


def test_refresh_rate_limited_is_429_with_retry_after(dj: DJ, browser: httpx.Client) -> None:
    rt = dj.fakes.spotify.issue_refresh_token()
    dj.fakes.spotify.inject("token", 429, retry_after=30)
    r = browser.post("/api/spotify/refresh", headers={"Cookie": f"spotify_refresh={rt}"})
    assert r.status_code == 429
    assert r.headers["retry-after"] == "30"
    assert "spotify_refresh" not in set_cookies(r)


# -- me, debug/scopes, search ----------------------------------------------------------------


def test_me_returns_the_profile_without_the_fields_spotify_removed(dj: DJ) -> None:
    r = dj.http.get("/api/spotify/me", headers=token(dj))
    assert r.status_code == 200
    assert r.json() == {
        "display_name": dj.fakes.spotify.user.display_name,
        "id": dj.fakes.spotify.user.id,
    }


def test_me_without_a_bearer_token_is_401_with_www_authenticate(dj: DJ) -> None:
    for headers in ({}, {"Authorization": "Token abc"}):
        r = dj.http.get("/api/spotify/me", headers=headers)
        assert r.status_code == 401
        assert r.headers["www-authenticate"].startswith("Bearer")
    assert dj.fakes.spotify.calls_to("me") == []


def test_me_with_a_token_spotify_rejects_is_401(dj: DJ) -> None:
    r = dj.http.get("/api/spotify/me", headers={"Authorization": "Bearer not-a-token"})
    assert r.status_code == 401
    assert r.json() == {"error": "Invalid or expired token"}


def test_me_rate_limited_briefly_is_retried_after_retry_after(dj: DJ) -> None:
    dj.fakes.spotify.inject("me", 429, retry_after=1, times=1)
    started = time.monotonic()
    r = dj.http.get("/api/spotify/me", headers=token(dj))
    assert r.status_code == 200
    assert time.monotonic() - started >= 0.9
    assert len(dj.fakes.spotify.calls_to("me")) == 2


def test_me_rate_limited_for_long_is_429_not_401(dj: DJ) -> None:
    dj.fakes.spotify.inject("me", 429, retry_after=120)
    r = dj.http.get("/api/spotify/me", headers=token(dj))
    assert r.status_code == 429
    assert r.headers["retry-after"] == "120"
    assert len(dj.fakes.spotify.calls_to("me")) == 1


def test_me_when_spotify_fails_is_retried_then_502(dj: DJ) -> None:
    dj.fakes.spotify.inject("me", 500)
    r = dj.http.get("/api/spotify/me", headers=token(dj))
    assert r.status_code == 502
    assert r.json() == {"error": "Failed to get user profile"}
    assert len(dj.fakes.spotify.calls_to("me")) == 3


def test_me_for_a_user_not_allowed_by_the_app_is_403(dj: DJ) -> None:
    dj.fakes.spotify.inject("me", 403, message="User not registered in the Developer Dashboard")
    r = dj.http.get("/api/spotify/me", headers=token(dj))
    assert r.status_code == 403


def test_debug_scopes_reports_tests_and_token_info(dj: DJ) -> None:
    r = dj.http.get("/api/spotify/debug/scopes", headers=token(dj))
    assert r.status_code == 200
    body = r.json()
    assert body["required_scopes"] == list(oauth.SCOPES)
    assert body["scope_tests"] == {"playlist-read-private": True, "user-read-private": True}
    assert body["token_info"] == {
        "country": "Unknown",
        "display_name": dj.fakes.spotify.user.display_name,
        "email": "Not provided",
        "product": "Unknown",
        "user_id": dj.fakes.spotify.user.id,
    }
    assert dj.fakes.spotify.calls_to("me/playlists")[0].q("limit") == "1"


def test_debug_scopes_reports_a_failing_playlist_read(dj: DJ) -> None:
    dj.fakes.spotify.inject("me/playlists", 403)
    r = dj.http.get("/api/spotify/debug/scopes", headers=token(dj))
    assert r.status_code == 200
    assert r.json()["scope_tests"]["playlist-read-private"] is False


def test_debug_scopes_with_a_rejected_token_is_401(dj: DJ) -> None:
    r = dj.http.get("/api/spotify/debug/scopes", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401


def test_search_asks_spotify_for_ten_results(dj: DJ) -> None:
    r = dj.http.post("/api/spotify/search", headers=token(dj), json={"query": "a"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"tracks"}
    assert len(body["tracks"]["items"]) == 10
    call = dj.fakes.spotify.calls_to("search")[0]
    assert (call.q("q"), call.q("type"), call.q("limit")) == ("a", "track", "10")


def test_search_for_artists_returns_artists(dj: DJ) -> None:
    artist = next(iter(dj.fakes.spotify.catalog.artists.values())).name
    r = dj.http.post(
        "/api/spotify/search", headers=token(dj), json={"query": artist, "type": "artist"}
    )
    assert r.status_code == 200
    names = [a["name"] for a in r.json()["artists"]["items"]]
    assert artist in names


@pytest.mark.parametrize(
    "body", [{"query": ""}, {"query": "x", "type": "playlist"}, {}], ids=["empty", "type", "none"]
)
def test_search_input_is_validated(dj: DJ, body: dict[str, str]) -> None:
    r = dj.http.post("/api/spotify/search", headers=token(dj), json=body)
    assert r.status_code == 400
    assert r.json()["success"] is False
    assert dj.fakes.spotify.calls_to("search") == []


@pytest.mark.parametrize(("injected", "expected"), [(401, 401), (400, 400), (503, 502)])
def test_search_failures_map_to_clear_statuses(dj: DJ, injected: int, expected: int) -> None:
    dj.fakes.spotify.inject("search", injected)
    r = dj.http.post("/api/spotify/search", headers=token(dj), json={"query": "a"})
    assert r.status_code == expected
    assert r.json() == {"error": "Spotify search failed"}


# -- secrets ---------------------------------------------------------------------------------


def test_no_token_or_secret_reaches_the_logs(dj: DJ, browser: httpx.Client, rotation: None) -> None:
    dj.fakes.spotify.rotate_refresh_tokens = "always"
    since = len(dj.logs())
    r, location, cookie = login(browser)
    params = query_of(r.headers["location"])
    refresh = cookie_value(set_cookies(r)["spotify_refresh"])
    refreshed = browser.post(
        "/api/spotify/refresh", headers={"Cookie": f"spotify_refresh={refresh}"}
    )
    rotated = cookie_value(set_cookies(refreshed)["spotify_refresh"])
    dj.fakes.spotify.inject("me", 401)
    browser.get("/api/spotify/me", headers={"Authorization": f"Bearer {params['spotify_token']}"})
    bad = browser.post("/api/spotify/token", json={"code": "x", "codeVerifier": "y"})
    assert bad.status_code == 400

    logs = "\n".join(dj.logs(since))
    assert "spotify" in logs  # the outbound calls were logged at all
    verifier = oauth.open_state(cookie, DEFAULT_CLIENT_SECRET).verifier
    secrets = {
        "access token": params["spotify_token"],
        "refreshed access token": refreshed.json()["access_token"],
        "refresh token": refresh,
        "rotated refresh token": rotated,
        "client secret": DEFAULT_CLIENT_SECRET,
        "verifier": verifier,
        "state cookie": cookie,
    }
    for name, value in secrets.items():
        assert value not in logs, f"{name} leaked into the logs"
        assert value not in bad.text
    worker_lines = [line for line in dj.logs(since) if line.startswith("{")]
    code = query_of(location)["code"]
    assert worker_lines
    assert not any(code in line for line in worker_lines)
