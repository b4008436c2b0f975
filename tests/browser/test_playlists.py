"""Playlists, their tracks, the analysis with charts, and errors shown as sentences."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.conftest import Web


def test_playlists_and_a_playlists_tracks_are_listed(web: Web) -> None:
    web.login()
    page = web.page
    playlists = page.get_by_role("list", name="Your playlists")
    for name in ("Deep Focus", "Friday Party", "Road Trip 100"):
        expect(playlists.get_by_role("button", name=name)).to_be_visible()
    page.get_by_role("button", name="Road Trip 100").click()
    tracks = page.get_by_role("list", name="Tracks of Road Trip 100")
    expect(tracks.get_by_role("listitem")).to_have_count(100)
    expect(page.get_by_role("button", name="Road Trip 100")).to_have_attribute(
        "aria-pressed", "true"
    )


def test_the_analysis_draws_tempo_decades_and_genre_charts(web: Web) -> None:
    web.login()
    page = web.page
    page.get_by_role("button", name="Deep Focus").click()
    expect(
        page.get_by_role("list", name="Tracks of Deep Focus").get_by_role("listitem")
    ).to_have_count(12)
    page.get_by_role("button", name="Analyse playlist").click()
    tempo = page.get_by_role("img", name=re.compile(r"^Tempo: from [\d.]+ to [\d.]+, average \d+"))
    expect(tempo).to_be_visible()
    decades = page.get_by_role("img", name=re.compile(r"^Tracks per decade: "))
    expect(decades).to_be_visible()
    # Deep Focus spans 1997-2018: the decades chart has a bar each for the 1990s and 2010s
    label = decades.get_attribute("aria-label") or ""
    assert "1990s" in label and "2010s" in label
    assert decades.locator("rect").count() >= 2
    tags = page.get_by_role("img", name=re.compile(r"^Top tags: "))
    expect(tags).to_be_visible()
    assert tags.locator("rect").count() >= 3
    expect(page.locator(".facts")).to_contain_text("1997–2018")


def test_a_refused_playlist_shows_a_sentence_not_json(web: Web) -> None:
    web.watch.allow(r"status of 403")  # the refusal this test is about, logged by Chromium
    web.login()
    page = web.page
    page.get_by_role("button", name="Today's Top Hits").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Could not load the tracks of")
    text = alert.inner_text().strip()
    assert re.fullmatch(r"[A-Z][^{}\[\]]*[.!?]", text), text
    assert "own or collaborate on" in text


def test_an_unreachable_upstream_is_reported_as_a_sentence(web: Web) -> None:
    web.watch.allow(r"status of 50\d")
    web.login()
    web.dj.fakes.spotify.inject("playlist_items", status=503)
    web.page.get_by_role("button", name="Late Night Chill").click()
    alert = web.page.get_by_role("alert")
    expect(alert).to_contain_text('Could not load the tracks of "Late Night Chill"')
    assert re.fullmatch(r"[A-Z][^{}\[\]]*[.!?]", alert.inner_text().strip())
