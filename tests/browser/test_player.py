"""Now playing from the player stream, and the controls: play/pause, next/previous, seek, volume."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import DEV_AUTH, Web
from tests.browser.test_mix import wait_for


def player_state(web: Web) -> dict[str, Any]:
    r = web.dj.http.get("/api/player/state", headers=DEV_AUTH)
    r.raise_for_status()
    return r.json()


def test_now_playing_follows_the_stream_and_the_controls_drive_spotify(web: Web) -> None:
    spotify = web.dj.fakes.spotify
    deep_focus = spotify.catalog.playlist_by_name("Deep Focus")
    spotify.start_playback(context_playlist=deep_focus.id)
    first = player_state(web)["item"]["name"]
    second = spotify.catalog.track(spotify.player.queue[0]).name

    web.login()
    page = web.page
    bar = page.get_by_role("contentinfo", name="Now playing")
    title = bar.locator(".np-title")
    expect(title).to_have_text(first)
    expect(bar).to_contain_text("on Living Room Speaker")
    position = bar.locator(".time").first
    shown = position.inner_text()
    expect(position).not_to_have_text(shown)  # progress moves on while playing

    bar.get_by_role("button", name="Pause").click()
    expect(bar.get_by_role("button", name="Play")).to_be_visible()
    assert player_state(web)["is_playing"] is False
    bar.get_by_role("button", name="Play").click()
    expect(bar.get_by_role("button", name="Pause")).to_be_visible()
    assert player_state(web)["is_playing"] is True

    bar.get_by_role("button", name="Next track").click()
    expect(title).to_have_text(second)
    bar.get_by_role("button", name="Previous track").click()
    expect(title).to_have_text(first)

    seek = bar.get_by_role("slider", name="Seek")
    seek.evaluate("(el) => { el.value = '120000'; el.dispatchEvent(new Event('change')); }")
    wait_for(lambda: player_state(web)["progress_ms"] >= 120_000, "Spotify to seek to 2:00")
    expect(position).to_have_text(re.compile(r"^2:\d\d$"))  # from 2:00, playing on

    volume = bar.get_by_role("slider", name="Volume")
    expect(volume).to_have_value("40")
    volume.focus()
    volume.press("Home")  # keyboard: all the way down
    wait_for(lambda: player_state(web)["device"]["volume_percent"] == 0, "the volume to reach 0")
    expect(page.get_by_role("alert")).to_have_text("Volume 0%.")


def test_idle_playback_says_nothing_is_playing(web: Web) -> None:
    web.login()
    bar = web.page.get_by_role("contentinfo", name="Now playing")
    expect(bar.locator(".np-title")).to_have_text("Nothing is playing")
    expect(bar.get_by_role("slider", name="Seek")).to_be_disabled()
    web.dj.fakes.spotify.start_playback(
        context_playlist=web.dj.fakes.spotify.catalog.playlist_by_name("Deep Focus").id
    )
    expect(bar.locator(".np-title")).not_to_have_text("Nothing is playing")
    expect(bar.get_by_role("slider", name="Seek")).to_be_enabled()
