"""The app at phone width (390 px): nothing overflows sideways, everything stays reachable."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Web

WIDTH = 390


@pytest.fixture
def viewport() -> dict[str, int]:
    return {"width": WIDTH, "height": 844}


def no_sideways_scroll(web: Web) -> None:
    width = web.page.evaluate("document.documentElement.scrollWidth")
    assert width <= WIDTH, f"the page is {width} px wide on a {WIDTH} px screen"


def test_the_app_fits_a_phone_screen(web: Web) -> None:
    spotify = web.dj.fakes.spotify
    spotify.start_playback(context_playlist=spotify.catalog.playlist_by_name("Deep Focus").id)
    web.login()
    page = web.page
    no_sideways_scroll(web)
    bar = page.get_by_role("contentinfo", name="Now playing")
    for name in ("Previous track", "Pause", "Next track"):
        box = bar.get_by_role("button", name=name).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= WIDTH
    expect(bar.get_by_role("slider", name="Volume")).to_be_visible()

    page.get_by_role("button", name="Deep Focus").click()
    page.get_by_role("button", name="Analyse playlist").click()
    expect(page.get_by_role("img", name="Tempo", exact=False).first).to_be_visible()
    no_sideways_scroll(web)

    page.get_by_role("link", name="Mix").click()
    page.get_by_role("button", name="Start mix").click()
    expect(page.get_by_role("list", name="Mix queue").get_by_role("listitem")).to_have_count(5)
    no_sideways_scroll(web)
    remove = page.get_by_role("button", name="Remove ").first.bounding_box()
    assert remove is not None and remove["x"] + remove["width"] <= WIDTH

    page.get_by_role("link", name="Chat").click()
    expect(page.get_by_label("Message to the DJ")).to_be_visible()
    no_sideways_scroll(web)
