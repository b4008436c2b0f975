"""Browser fixtures: the DJ API on the local host with the fakes, and headless Chromium.

`dj_web` builds the DJ API once per session and serves it (Pyodide on the local host, KV in
memory) with every upstream pointed at `fakes/`, and with FRONTEND_URL set to the server's
own origin, so the OAuth callback brings the browser back to this app. `web` is a page in a
fresh Chromium profile (Debian's /usr/bin/chromium, driven by playwright; no browser is
downloaded) that fails the test on any console error, uncaught exception or failed request
unless the test allowed it, and keeps a screenshot of a failed test under
tests/browser/screenshots/ (ignored by git).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from djbuild.build import build_project
from djbuild.host import LocalHost
from fakes import DEV_TOKEN, FakeSuite, start_all

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
CHROMIUM = os.environ.get("DJ_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 30_000
DEV_AUTH = {"Authorization": f"Bearer {DEV_TOKEN}"}


@dataclass
class DJWeb:
    """The running app: its URL, the fakes behind it, and an HTTP client for test setup."""

    url: str
    host: LocalHost
    fakes: FakeSuite
    http: httpx.Client

    def end_mix(self) -> None:
        self.http.delete("/api/mix/end", headers=DEV_AUTH)

    def mix(self) -> dict[str, Any] | None:
        r = self.http.get("/api/mix/current", headers=DEV_AUTH)
        r.raise_for_status()
        return r.json()["session"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def dj_web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DJWeb]:
    suite = start_all(musicbrainz_rate=None)
    try:
        dist = tmp_path_factory.mktemp("web") / "dist"
        build_project(ROOT, dist)
        port = _free_port()
        origin = f"http://127.0.0.1:{port}"
        env_file = tmp_path_factory.mktemp("web-env") / ".dev.vars"
        env_file.write_text(
            suite.dev_vars()
            + f"FRONTEND_URL={origin}\n"
            + "PLAYER_POLL_SECONDS=0.5\n"
            + "SSE_HEARTBEAT_SECONDS=5\n"
        )
        host = LocalHost(dist, port=port, in_memory=True, env_file=env_file)
        url = host.start()
        client = httpx.Client(base_url=url, timeout=60.0)
        try:
            yield DJWeb(url, host, suite, client)
        finally:
            client.close()
            host.stop()
    finally:
        suite.stop()


@pytest.fixture
def dj(dj_web: DJWeb) -> Iterator[DJWeb]:
    """A clean start: no mix, no faults, nothing playing; the same afterwards."""
    fakes = dj_web.fakes
    fakes.reset()
    fakes.spotify.revive_dev_token()
    fakes.spotify.stop_playback()
    dj_web.end_mix()
    yield dj_web
    fakes.spotify.revive_dev_token()
    dj_web.end_mix()
    fakes.spotify.stop_playback()
    fakes.reset()


@pytest.fixture(scope="module")
def playwright_driver() -> Iterator[Any]:
    # Module scope, not session: the sync API keeps an event loop running in this thread
    # while it is open, which the asyncio tests that run after the browser tests cannot share.
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"Chromium is not installed at {CHROMIUM}: `python3 tasks.py test` installs Debian's "
            "chromium package (or set DJ_CHROMIUM to a Chromium binary)",
            pytrace=False,
        )
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as driver:
        yield driver


@dataclass
class Watch:
    """What the page reported: console errors, uncaught exceptions, failed requests."""

    problems: list[str] = field(default_factory=list)
    allowed: list[re.Pattern[str]] = field(default_factory=list)
    active: bool = True

    def allow(self, pattern: str) -> None:
        """Let problems matching `pattern` pass (a test that provokes an error on purpose)."""
        self.allowed.append(re.compile(pattern))

    def report(self, text: str) -> None:
        if self.active and not any(p.search(text) for p in self.allowed):
            self.problems.append(text)


@dataclass
class Web:
    page: Any
    watch: Watch
    dj: DJWeb

    def goto(self, path: str = "/") -> None:
        self.page.goto(self.dj.url + path)

    def login(self) -> None:
        """Spotify login as a user does it: the API's PKCE flow against the fake Spotify."""
        page = self.page
        self.goto("/")
        page.get_by_role("button", name="Log in with Spotify").click()
        page.get_by_role("button", name="Log out").wait_for()
        page.locator("#user").get_by_text("Demo Listener").wait_for()
        page.get_by_role("list", name="Your playlists").get_by_role("button").first.wait_for()
        page.locator("#player .np-title").wait_for()

    def token(self) -> str | None:
        return self.page.evaluate("JSON.parse(localStorage.getItem('dj.auth') || 'null')?.token")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


def _context(driver: Any, profile: str, viewport: dict[str, int]) -> Any:
    return driver.chromium.launch_persistent_context(
        profile,
        executable_path=CHROMIUM,
        headless=True,
        args=CHROMIUM_FLAGS,
        viewport=viewport,
    )


@pytest.fixture
def viewport() -> dict[str, int]:
    return {"width": 1280, "height": 860}


@pytest.fixture
def web(
    request: pytest.FixtureRequest,
    dj: DJWeb,
    playwright_driver: Any,
    viewport: dict[str, int],
) -> Iterator[Web]:
    profile = tempfile.mkdtemp(prefix="dj-chromium-")
    context = _context(playwright_driver, profile, viewport)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.pages[0] if context.pages else context.new_page()
    watch = Watch()
    page.on(
        "console",
        lambda m: watch.report(f"console {m.type}: {m.text}") if m.type == "error" else None,
    )
    page.on("pageerror", lambda exc: watch.report(f"uncaught: {exc}"))

    def failed(req: Any) -> None:
        error = req.failure or ""
        # The app cancels the player stream itself (logout, reconnect): not a failure.
        if "ERR_ABORTED" in error and req.url.endswith("/api/player/stream"):
            return
        watch.report(f"request failed: {req.method} {req.url} {error}")

    page.on("requestfailed", failed)
    try:
        yield Web(page, watch, dj)
        problems = list(watch.problems)
        watch.active = False
        call = getattr(request.node, "report_call", None)
        if problems or (call is not None and call.failed):
            _keep_screenshot(page, request.node.name)
        assert not problems, "the page reported problems:\n" + "\n".join(problems)
    finally:
        watch.active = False
        context.close()
        shutil.rmtree(profile, ignore_errors=True)


def _keep_screenshot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    try:
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    except Exception as exc:  # the page may be gone; the test's own error matters more
        print(f"screenshot of {name} failed: {exc}")
