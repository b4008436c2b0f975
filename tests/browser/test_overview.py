"""The overview a newcomer sees: playlists, an analysis with charts, and now playing.

The screenshot it keeps (tests/browser/screenshots/overview.png) is the one in the README
(docs/web-app.png); copy it over after a visible change to the app.
"""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.conftest import SCREENSHOTS, Web


def test_the_overview_shows_playlists_charts_and_now_playing(web: Web) -> None:
    spotify = web.dj.fakes.spotify
    spotify.start_playback(context_playlist=spotify.catalog.playlist_by_name("Road Trip 100").id)
    web.login()
    page = web.page
    page.get_by_role("button", name="Deep Focus").click()
    page.get_by_role("button", name="Analyse playlist").click()
    # tempo, loudness, energy/danceability/valence (averages + three spreads), decades, tags
    expect(page.locator("figure svg")).to_have_count(8)
    expect(
        page.get_by_role("contentinfo", name="Now playing").locator(".np-title")
    ).not_to_have_text("Nothing is playing")
    page.mouse.move(0, 0)
    SCREENSHOTS.mkdir(exist_ok=True)
    shot = SCREENSHOTS / "overview.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000
