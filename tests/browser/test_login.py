"""Login through the API's PKCE flow against the fake Spotify, logout, refresh, and a 401."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.conftest import Web


def test_login_through_spotify_brings_the_user_back_logged_in(web: Web) -> None:
    web.login()
    page = web.page
    assert page.url.startswith(web.dj.url), "the callback must bring the browser back to this app"
    assert "spotify_token" not in page.url, "the token is taken out of the address bar"
    assert web.token(), "the access token is kept for the API calls"
    expect(page.get_by_role("heading", name="Playlists")).to_be_visible()
    # the code was exchanged with the PKCE verifier the API kept in its signed cookie
    exchanges = [c for c in web.dj.fakes.spotify.calls if c.path == "/api/token"]
    assert exchanges and "code_verifier=" in exchanges[-1].body.decode()


def test_logout_forgets_the_token_and_shows_the_login(web: Web) -> None:
    web.login()
    web.page.get_by_role("button", name="Log out").click()
    expect(web.page.get_by_role("button", name="Log in with Spotify")).to_be_visible()
    expect(web.page.get_by_role("alert")).to_contain_text("You are logged out.")
    assert web.token() is None
    web.page.reload()
    expect(web.page.get_by_role("button", name="Log in with Spotify")).to_be_visible()


def test_an_expired_token_is_refreshed_and_the_user_stays_logged_in(web: Web) -> None:
    web.watch.allow(r"status of 401")  # the 401 that triggers the refresh, logged by Chromium
    web.login()
    before = web.token()
    web.dj.fakes.spotify.expire_tokens()  # Spotify now answers 401 to the token the page has
    web.page.get_by_role("button", name="Deep Focus").click()
    expect(web.page.get_by_role("list", name="Tracks of Deep Focus")).to_contain_text("Hoppípolla")
    after = web.token()
    assert after and after != before, "a new access token came from the refresh cookie"
    refreshes = [c for c in web.dj.fakes.spotify.calls if c.path == "/api/token"]
    assert any("grant_type=refresh_token" in c.body.decode() for c in refreshes)
    expect(web.page.get_by_role("button", name="Log out")).to_be_visible()


def test_a_401_that_cannot_be_refreshed_logs_the_user_out(web: Web) -> None:
    web.watch.allow(r"status of 401")  # Chromium logs each 401 answer; they are the point here
    web.goto("/")
    web.page.evaluate(
        "localStorage.setItem('dj.auth', JSON.stringify({token: 'not-a-valid-token',"
        " expiresAt: Date.now() + 3600e3}))"
    )
    web.page.reload()
    expect(web.page.get_by_role("button", name="Log in with Spotify")).to_be_visible()
    expect(web.page.get_by_role("alert")).to_have_text(
        "Your Spotify login has expired. Please log in again."
    )
    assert web.token() is None
