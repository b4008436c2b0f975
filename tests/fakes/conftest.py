from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from fakes.anthropic import FakeAnthropic
from fakes.deezer import FakeDeezer
from fakes.lastfm import FakeLastFm
from fakes.musicbrainz import FakeMusicBrainz
from fakes.spotify import FakeSpotify


@pytest.fixture
def spotify() -> Iterator[FakeSpotify]:
    with FakeSpotify() as fake:
        yield fake  # type: ignore[misc]


@pytest.fixture
def deezer() -> Iterator[FakeDeezer]:
    with FakeDeezer() as fake:
        yield fake  # type: ignore[misc]


@pytest.fixture
def lastfm() -> Iterator[FakeLastFm]:
    with FakeLastFm() as fake:
        yield fake  # type: ignore[misc]


@pytest.fixture
def musicbrainz() -> Iterator[FakeMusicBrainz]:
    with FakeMusicBrainz(rate=None) as fake:
        yield fake  # type: ignore[misc]


@pytest.fixture
def anthropic() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as fake:
        yield fake  # type: ignore[misc]


@pytest.fixture(scope="session")
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5.0) as c:
        yield c
