"""The DJ API on the local host with the fakes, for the reliability suite (one per session).

Streams are kept short (a 2-second player stream, heartbeats every half second) so that a
generated request to a streaming route ends on its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from djbuild.build import build_project
from djbuild.host import LocalHost
from fakes import FakeSuite, start_all

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def reliability_fakes() -> Iterator[FakeSuite]:
    suite = start_all(demo_playback=True)
    yield suite
    suite.stop()


@pytest.fixture(scope="session")
def reliability_url(
    reliability_fakes: FakeSuite, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    work = tmp_path_factory.mktemp("reliability")
    build_project(ROOT, work / "dist")
    env_file = work / ".dev.vars"
    env_file.write_text(
        reliability_fakes.dev_vars()
        + "FRONTEND_URL=http://127.0.0.1:5173\n"
        + "SSE_HEARTBEAT_SECONDS=0.5\n"
        + "PLAYER_POLL_SECONDS=0.5\n"
        + "PLAYER_STREAM_LIFETIME_SECONDS=2\n"
    )
    with LocalHost(work / "dist", in_memory=True, env_file=env_file) as host:
        yield host.url
