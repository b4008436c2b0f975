"""Loopback fakes of the services the DJ API calls (Spotify, Deezer, Last.fm, MusicBrainz,
Anthropic), for tests and the offline demo. Host-side CPython only; never imported by the
Worker. Start them all with `start_all()` or `python -m fakes`; `djbuild dev --fakes` starts
them through `dev_services` (`[tool.djbuild.dev] services` in pyproject.toml).
"""

from __future__ import annotations

from .anthropic import FakeAnthropic, Reply, text, thinking, tool_use
from .base import FakeRequest, FakeResponse, FakeServer, Fault, RecordedCall
from .catalog import CATALOG, Catalog
from .deezer import FakeDeezer
from .lastfm import FakeLastFm
from .musicbrainz import FakeMusicBrainz
from .spotify import DEV_TOKEN, FakeSpotify
from .suite import FakeSuite, dev_services, start_all

__all__ = [
    "CATALOG",
    "DEV_TOKEN",
    "Catalog",
    "FakeAnthropic",
    "FakeDeezer",
    "FakeLastFm",
    "FakeMusicBrainz",
    "FakeRequest",
    "FakeResponse",
    "FakeServer",
    "FakeSpotify",
    "FakeSuite",
    "Fault",
    "RecordedCall",
    "Reply",
    "dev_services",
    "start_all",
    "text",
    "thinking",
    "tool_use",
]
