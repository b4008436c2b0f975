"""Playlists, their tracks, the analysis with charts, and errors shown as sentences."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import DEV_AUTH, Web


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


def _analysis(web: Web, name: str) -> dict[str, Any]:
    """The API's answer for a playlist, to check the charts against (the fakes are
    deterministic and the analysis's caches give the browser the same figures)."""
    pid = web.dj.fakes.spotify.catalog.playlist_by_name(name).id
    r = web.dj.http.get(f"/api/spotify/playlists/{pid}/analysis", headers=DEV_AUTH)
    assert r.status_code == 200, r.text
    return r.json()


def test_the_analysis_draws_tempo_decades_and_genre_charts(web: Web) -> None:
    expected = _analysis(web, "Deep Focus")
    buckets = expected["deezer_analysis"]["bpm"]["distribution"]
    assert len(buckets) >= 2
    web.login()
    page = web.page
    page.get_by_role("button", name="Deep Focus").click()
    expect(
        page.get_by_role("list", name="Tracks of Deep Focus").get_by_role("listitem")
    ).to_have_count(12)
    page.get_by_role("button", name="Analyse playlist").click()
    tempo = page.get_by_role("img", name=re.compile(r"^Tempo distribution: "))
    expect(tempo).to_be_visible()
    # one bar per 10-BPM bucket, each named with its count in the text alternative
    expect(tempo.locator("rect")).to_have_count(len(buckets))
    label = tempo.get_attribute("aria-label") or ""
    for b in buckets:
        unit = "track" if b["count"] == 1 else "tracks"
        assert f"{b['min']}–{b['max']} BPM: {b['count']} {unit}" in label, label
    edges = tempo.locator("text.label").all_text_contents()
    assert edges[0] == str(buckets[0]["min"]) and edges[-1] == str(buckets[-1]["max"])
    bpm = expected["deezer_analysis"]["bpm"]
    expect(page.locator("figure figcaption").first).to_have_text(
        f"Tempo (BPM, {bpm['sample_size']} tracks, average {bpm['avg']})"
    )
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


def test_the_analysis_draws_energy_danceability_and_valence(web: Web) -> None:
    features = _analysis(web, "Deep Focus")["audio_features"]
    assert features is not None and features["sample_size"] == 12
    web.login()
    page = web.page
    page.get_by_role("button", name="Deep Focus").click()
    page.get_by_role("button", name="Analyse playlist").click()
    averages = page.get_by_role("img", name=re.compile(r"^Audio feature averages: "))
    expect(averages).to_be_visible()
    expect(averages.locator("rect")).to_have_count(3)
    names = {"energy": "Energy", "danceability": "Danceability", "valence": "Valence"}
    shown = ", ".join(
        f"{label} {round(features[key]['avg'] * 100)}%" for key, label in names.items()
    )
    expect(averages).to_have_attribute("aria-label", f"Audio feature averages: {shown}")
    assert averages.locator("text.label").all_text_contents() == list(names.values())
    for key, label in names.items():
        spread = page.get_by_role("img", name=re.compile(rf"^{label} distribution: "))
        expect(spread).to_be_visible()
        expect(spread.locator("rect")).to_have_count(5)
        assert spread.locator("text.label").all_text_contents() == ["0", "1"]
        counts = [b["count"] for b in features[key]["distribution"]]
        bars = spread.locator("text.value").all_text_contents()
        assert bars == [str(n) for n in counts if n], (key, bars, counts)
    expect(page.get_by_text("are not shown")).to_have_count(0)


def test_a_dev_mode_app_sees_why_there_are_no_audio_features(web: Web) -> None:
    web.dj.fakes.spotify.inject("audio_features", 403)  # Spotify's answer to apps since 2024-11
    web.login()
    page = web.page
    page.get_by_role("button", name="Deep Focus").click()
    page.get_by_role("button", name="Analyse playlist").click()
    expect(page.get_by_role("img", name=re.compile(r"^Tempo distribution: "))).to_be_visible()
    note = page.locator(".charts .note")
    expect(note).to_have_text(
        "Energy, danceability and valence are not shown. Spotify refused audio features (403): "
        "apps created after 27 November 2024 no longer get energy, danceability or valence."
    )
    expect(page.get_by_role("img", name=re.compile(r"^Audio feature averages"))).to_have_count(0)
    assert web.dj.fakes.spotify.calls_to("audio_features")[-1].status == 403


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
