"""Per-request circuit breaker: a dead Deezer and a dead Last.fm cost a handful of calls.

Before it, one 100-track analysis with both failing sent 343 Deezer and 596 Last.fm calls
(every track, every retry). This host has a KV of its own, so no earlier analysis is cached.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from djbuild.host import LocalHost
from fakes import FakeSuite
from fakes.catalog import CATALOG, PLAYLIST_100
from fakes.spotify import DEV_TOKEN

AUTH = {"Authorization": f"Bearer {DEV_TOKEN}"}


@pytest.fixture(scope="module")
def fresh_host(
    fake_suite: FakeSuite, dj_dist: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    env_file = tmp_path_factory.mktemp("breaker") / ".dev.vars"
    env_file.write_text(fake_suite.dev_vars())
    with LocalHost(dj_dist, in_memory=True, env_file=env_file) as host:
        yield host.url


@pytest.mark.parametrize("fault", ["500", "dropped"])
def test_dead_deezer_and_lastfm_cost_at_most_20_calls_and_the_answer_is_partial(
    fake_suite: FakeSuite, fresh_host: str, fault: str
) -> None:
    fake_suite.reset()
    for fake in (fake_suite.deezer, fake_suite.lastfm):
        if fault == "500":
            fake.inject("*", 500)
        else:
            fake.inject("*", drop=True)
    pid = CATALOG.playlist_by_name(PLAYLIST_100).id
    r = httpx.get(f"{fresh_host}/api/spotify/playlists/{pid}/analysis", headers=AUTH, timeout=120)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total_tracks"] == 100
    assert body["metadata_analysis"] is not None
    assert body["deezer_analysis"] is None and body["lastfm_analysis"] is None
    calls = len(fake_suite.deezer.calls) + len(fake_suite.lastfm.calls)
    assert 0 < calls <= 20, (len(fake_suite.deezer.calls), len(fake_suite.lastfm.calls))
    fake_suite.reset()
