"""End-to-end fixtures: the DJ API built by djbuild, served by the local host on Pyodide,
pointed at the fake upstreams. One build, one set of fakes and one host per test session
(start-up costs seconds); each test starts from clean fake recordings and faults.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from djbuild.build import build_project
from djbuild.host import LocalHost
from fakes import FakeSuite, start_all

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class DJ:
    url: str
    host: LocalHost
    fakes: FakeSuite
    http: httpx.Client

    def logs(self, since: int = 0) -> list[str]:
        return self.host.lines[since:]


@pytest.fixture(scope="session")
def fake_suite() -> Iterator[FakeSuite]:
    suite = start_all()
    yield suite
    suite.stop()


@pytest.fixture(scope="session")
def dj_dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dj") / "dist"
    build_project(ROOT, out)
    return out


@pytest.fixture(scope="session")
def dj_session(
    fake_suite: FakeSuite, dj_dist: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DJ]:
    env_file = tmp_path_factory.mktemp("env") / ".dev.vars"
    env_file.write_text(
        fake_suite.dev_vars()
        + "FRONTEND_URL=http://127.0.0.1:5173\n"
        + "SSE_HEARTBEAT_SECONDS=0.5\n"
    )
    host = LocalHost(dj_dist, in_memory=True, env_file=env_file)
    url = host.start()
    client = httpx.Client(base_url=url, timeout=30.0)
    try:
        yield DJ(url, host, fake_suite, client)
    finally:
        client.close()
        host.stop()


@pytest.fixture
def dj(dj_session: DJ) -> DJ:
    dj_session.fakes.reset()
    return dj_session


def auth(dj: DJ) -> dict[str, str]:
    """A Bearer header with a token the fake Spotify just issued."""
    return {"Authorization": f"Bearer {dj.fakes.spotify.issue_token()}"}


@pytest.fixture
def fresh(dj: DJ) -> Iterator[DJ]:
    """No mix session before or after; no scripted Claude reply left over."""
    dj.http.delete("/api/mix/end", headers=auth(dj))
    dj.fakes.reset()
    yield dj
    dj.http.delete("/api/mix/end", headers=auth(dj))
    dj.fakes.spotify.stop_playback()
    assert dj.fakes.anthropic.pending == 0, "a scripted Claude reply was not used"
