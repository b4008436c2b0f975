"""The mix: start from a playlist, queue reorder/remove, suggestions, steering, vibe settings."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import DEV_AUTH, DJWeb, Web


def wait_for(check: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    """Poll `check` until it returns something truthy (an event we wait for, not a time)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.25)


def queue_names(web: Web) -> list[str]:
    return web.page.get_by_role("list", name="Mix queue").locator("li strong").all_inner_texts()


def start_mix_through_the_api(dj: DJWeb) -> dict[str, Any]:
    r = dj.http.post("/api/mix/start", headers=DEV_AUTH, json={})
    assert r.status_code == 200, r.text
    return r.json()["session"]


def test_a_mix_starts_from_a_playlist_and_its_queue_can_be_edited(web: Web) -> None:
    web.login()
    page = web.page
    page.get_by_role("button", name="Deep Focus").click()
    page.get_by_role("button", name="Start a mix from it").click()
    expect(page.get_by_label("Start from")).to_have_value("JyhUwRPuYoxe1Uo3pGsxbK")
    page.get_by_role("button", name="Start mix").click()
    queue = page.get_by_role("list", name="Mix queue")
    expect(queue.get_by_role("listitem")).to_have_count(5)
    names = queue_names(web)

    page.get_by_role("button", name=f"Move {names[0]} down").click()
    expect(queue.locator("li strong").first).to_have_text(names[1])
    expect(queue.locator("li strong").nth(1)).to_have_text(names[0])
    names[0], names[1] = names[1], names[0]

    page.get_by_role("button", name=f"Remove {names[2]}").click()
    expect(queue.get_by_role("listitem")).to_have_count(4)
    expect(page.get_by_role("alert")).to_have_text(f'Removed "{names[2]}" from the queue.')
    del names[2]

    page.get_by_role("button", name="Suggest tracks").click()
    suggestions = page.get_by_role("list", name="Suggested tracks")
    first = suggestions.locator("li strong").first
    expect(first).to_be_visible()
    pick = first.inner_text()
    suggestions.get_by_role("button", name=f"Add {pick} by ").first.click()
    expect(queue.get_by_role("listitem")).to_have_count(5)
    expect(queue).to_contain_text(pick)

    stored = web.dj.mix()
    assert stored is not None
    assert [t["name"] for t in stored["queue"]] == [*names, pick]


def test_steering_by_text_streams_its_stages_and_the_queue_survives_the_restart(web: Web) -> None:
    dj = web.dj
    road_trip = dj.fakes.spotify.catalog.playlist_by_name("Road Trip 100").id
    dj.fakes.spotify.start_playback(context_playlist=road_trip)
    start_mix_through_the_api(dj)
    web.login()
    page = web.page
    page.get_by_role("link", name="Mix").click()
    expect(page.get_by_role("list", name="Mix queue").get_by_role("listitem")).to_have_count(5)

    # two real skips first: with the steer's own track change that used to make three
    title = page.locator("#player .np-title")
    for _ in range(2):
        before = title.inner_text()
        page.get_by_role("button", name="Next track").click()
        expect(title).not_to_have_text(before)
    wait_for(
        lambda: sum(s["type"] == "skipped" for s in (dj.mix() or {}).get("signals", [])) >= 2,
        "the player stream to record two skips",
    )

    page.get_by_label("Steer the vibe").fill("something darker")
    page.get_by_role("button", name="Steer", exact=True).click()
    progress = page.get_by_role("status", name="Steering progress")
    expect(progress.locator("li.done")).to_contain_text("Vibes adjusted!")
    text = progress.inner_text()
    for stage in ("Reading the request:", "Adjusting the vibe:", "Building the queue:"):
        assert stage in text, text
    steered = dj.mix()
    assert steered is not None and steered["queue"], "the steer queued new tracks"
    expect(title).to_have_text(steered["queue"][0]["name"])  # and started playing them

    # the player stream saw the change the steer made: recorded as the steer's, not a skip
    after = wait_for(
        lambda: (s := dj.mix()) and s["signals"][-1]["trackDuration"] > 0 and s,
        "the player stream to record the steer's track change",
    )
    assert after["signals"][-1]["type"] == "steer"
    assert len(after["queue"]) == len(steered["queue"]), "the queue was not cleared"
    expect(page.get_by_role("list", name="Mix queue").get_by_role("listitem")).to_have_count(
        len(steered["queue"])
    )


def test_a_preset_steers_the_vibe_and_says_what_changed(web: Web) -> None:
    start_mix_through_the_api(web.dj)
    web.login()
    page = web.page
    page.get_by_role("link", name="Mix").click()
    group = page.get_by_role("group", name="Vibe presets")
    group.get_by_role("button", name="Chill out").click()
    progress = page.get_by_role("status", name="Steering progress")
    expect(progress.locator("li.done")).to_contain_text("Chill out: Energy: 5/10 → 3/10")
    expect(page.get_by_test_id("energy")).to_have_text("3/10, winding down")
    stored = web.dj.mix()
    assert stored is not None and stored["vibe"]["energyLevel"] == 3


def test_vibe_settings_change_energy_direction_and_tempo(web: Web) -> None:
    start_mix_through_the_api(web.dj)
    web.login()
    page = web.page
    page.get_by_role("link", name="Mix").click()
    page.get_by_text("Vibe settings").click()
    energy = page.get_by_label("Energy")
    energy.focus()
    energy.press("End")  # keyboard: the slider to its top
    page.get_by_label("Direction").select_option("winding_down")
    page.get_by_label("Lowest BPM").fill("90")
    page.get_by_label("Highest BPM").fill("120")
    page.get_by_role("button", name="Apply settings").click()
    expect(page.get_by_role("alert")).to_contain_text("Vibe settings saved")
    expect(page.get_by_test_id("energy")).to_have_text("10/10, winding down")
    expect(page.locator(".facts")).to_contain_text("90–120 BPM")
    stored = web.dj.mix()
    assert stored is not None
    assert stored["vibe"]["energyLevel"] == 10
    assert stored["vibe"]["bpmRange"] == {"min": 90, "max": 120}
