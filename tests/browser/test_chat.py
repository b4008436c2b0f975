"""Chat with the DJ: the answer streams in, tools show their progress."""

from __future__ import annotations

import json

from playwright.sync_api import expect

from tests.browser.conftest import Web

COUNT_ANSWER_UPDATES = """() => {
  window.__answerUpdates = 0;
  new MutationObserver((records) => {
    for (const r of records) if (r.target.classList && r.target.classList.contains("answer")) window.__answerUpdates++;
  }).observe(document.querySelector(".chat-log"), { subtree: true, childList: true });
}"""


def test_chat_streams_the_answer_and_shows_tool_progress(web: Web) -> None:
    web.login()
    page = web.page
    page.get_by_role("link", name="Chat").click()
    page.evaluate(COUNT_ANSWER_UPDATES)
    page.get_by_label("Message to the DJ").fill("search some jazz")
    page.get_by_role("button", name="Send").click()

    log = page.get_by_role("list", name="Conversation")
    expect(log.locator(".msg.user")).to_have_text("search some jazz")
    tools = page.get_by_role("list", name="Tool progress")
    # a Spotify search ran, and its result came back while the answer was being written
    expect(tools.locator(".tool.done")).to_contain_text("search spotify tracks:")
    expect(log.locator(".msg.dj")).not_to_have_class("msg dj busy")
    answer = log.locator(".msg.dj .answer")
    assert len(answer.inner_text().strip()) > 10
    assert page.evaluate("window.__answerUpdates") > 1, (
        "the answer arrived in pieces, shown as they came"
    )
    expect(page.get_by_role("button", name="Send")).to_be_enabled()


def test_chat_about_a_playlist_sends_its_id_and_keeps_the_conversation(web: Web) -> None:
    web.login()
    page = web.page
    page.get_by_role("button", name="Deep Focus").click()
    page.get_by_role("button", name="Chat about it").click()
    expect(page.get_by_label('About "Deep Focus"')).to_be_checked()
    box = page.get_by_label("Message to the DJ")
    box.fill("what is in this playlist?")
    box.press("Enter")  # Enter sends, as in any chat
    log = page.get_by_role("list", name="Conversation")
    expect(log.locator(".msg.dj").first).not_to_have_class("msg dj busy")
    box.fill("and something similar?")
    box.press("Enter")
    expect(log.locator(".msg.dj")).to_have_count(2)
    expect(log.locator(".msg.dj").nth(1)).not_to_have_class("msg dj busy")
    turns = [r for r in web.dj.fakes.anthropic.requests if r.get("stream") and r.get("tools")]
    assert "JyhUwRPuYoxe1Uo3pGsxbK" in json.dumps(turns[0]["system"]), "the playlist was named"
    assert any(m["role"] == "assistant" for m in turns[-1]["messages"]), "the history went along"
