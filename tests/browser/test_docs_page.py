"""The API reference at /api/docs: Swagger UI from the build's assets, offline, in Chromium.

It lists every operation of the OpenAPI document and its "Try it out" reaches the Worker
that serves the page (the page's own origin comes first among the servers).
"""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.conftest import Web

METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


def _operations(doc: dict) -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, item in doc["paths"].items()
        for method in item
        if method in METHODS
    }


def test_the_docs_page_lists_every_operation_of_the_document(web: Web) -> None:
    doc = web.dj.http.get("/api/openapi.json").json()
    expected = _operations(doc)
    assert len(expected) > 40
    web.goto("/api/docs")
    page = web.page
    expect(page.locator(".opblock")).to_have_count(len(expected))
    shown = page.eval_on_selector_all(
        ".opblock",
        """blocks => blocks.map(b => [
            b.querySelector('.opblock-summary-method').textContent.trim(),
            b.querySelector('.opblock-summary-path').getAttribute('data-path'),
        ])""",
    )
    assert {(m, p) for m, p in shown} == expected
    # nothing came from outside this site
    assert all(
        r.startswith(web.dj.url)
        for r in page.evaluate("performance.getEntriesByType('resource').map(e => e.name)")
    )


def test_try_it_out_calls_the_local_worker(web: Web) -> None:
    web.goto("/api/docs")
    page = web.page
    expect(page.locator(".servers select option").first).to_have_text(web.dj.url + " - This server")
    health = page.locator(".opblock-get").filter(
        has=page.locator('.opblock-summary-path[data-path="/api/health"]')
    )
    health.locator(".opblock-summary").click()
    health.get_by_role("button", name="Try it out").click()
    health.get_by_role("button", name="Execute").click()
    status = health.locator(".live-responses-table .response .response-col_status").first
    expect(status).to_have_text("200")
    expect(
        health.locator(".live-responses-table .response-col_description pre").first
    ).to_contain_text('"status"')
