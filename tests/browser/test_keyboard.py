"""Keyboard use and labels: every control can be reached and named without a mouse."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.conftest import Web

UNLABELLED = """() => [...document.querySelectorAll('button, input, select, textarea')]
  .filter((el) => el.offsetParent !== null || el.closest('#player'))
  .filter((el) => {
    const named = (el.getAttribute('aria-label') || '').trim() || (el.labels && [...el.labels].some((l) => l.textContent.trim()));
    const text = el.tagName === 'BUTTON' && el.textContent.trim();
    return !named && !text;
  })
  .map((el) => el.outerHTML.slice(0, 120))"""


def press_tab_until(web: Web, selector: str, limit: int = 40) -> None:
    for _ in range(limit):
        web.page.keyboard.press("Tab")
        if web.page.evaluate(f"document.activeElement.matches({selector!r})"):
            return
    raise AssertionError(f"Tab never reached {selector}")


def test_the_app_works_from_the_keyboard(web: Web) -> None:
    page = web.page
    web.goto("/")
    press_tab_until(web, "#login")
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    expect(page.get_by_role("button", name="Deep Focus")).to_be_visible()

    press_tab_until(web, "button.playlist[aria-pressed]:is(:focus)")
    page.get_by_role("button", name="Deep Focus").focus()
    page.keyboard.press("Enter")
    expect(
        page.get_by_role("list", name="Tracks of Deep Focus").get_by_role("listitem")
    ).to_have_count(12)

    press_tab_until(web, "a[href='#chat']")
    page.keyboard.press("Enter")
    expect(page.get_by_role("link", name="Chat")).to_have_attribute("aria-current", "page")
    page.get_by_label("Message to the DJ").focus()
    page.keyboard.type("hello")
    page.keyboard.press("Enter")
    expect(page.get_by_role("list", name="Conversation").locator(".msg.dj")).not_to_have_class(
        "msg dj busy"
    )


def test_every_control_has_a_label(web: Web) -> None:
    web.goto("/")
    assert web.page.evaluate(UNLABELLED) == []
    web.login()
    page = web.page
    assert page.evaluate(UNLABELLED) == []
    page.get_by_role("link", name="Mix").click()
    page.get_by_role("button", name="Start mix").click()
    expect(page.get_by_role("list", name="Mix queue").get_by_role("listitem")).to_have_count(5)
    page.get_by_text("Vibe settings").click()
    assert page.evaluate(UNLABELLED) == []
    page.get_by_role("link", name="Chat").click()
    assert page.evaluate(UNLABELLED) == []
