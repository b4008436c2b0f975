"""Start every fake at once and describe how a worker reaches them."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from .anthropic import DEFAULT_API_KEY as ANTHROPIC_KEY
from .anthropic import FakeAnthropic
from .base import FakeServer
from .deezer import FakeDeezer
from .lastfm import DEFAULT_API_KEY as LASTFM_KEY
from .lastfm import FakeLastFm
from .musicbrainz import FakeMusicBrainz
from .spotify import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEV_TOKEN, FakeSpotify

SERVICES = ("spotify", "deezer", "lastfm", "musicbrainz", "anthropic")
# Where `djbuild dev --fakes` leaves the running fakes' vars (relative to the project root),
# for `python -m fakes fault ...` to find them.
STATE_FILE = Path(".wrangler") / "fakes.dev.vars"


@dataclass
class FakeSuite:
    spotify: FakeSpotify
    deezer: FakeDeezer
    lastfm: FakeLastFm
    musicbrainz: FakeMusicBrainz
    anthropic: FakeAnthropic
    vars: dict[str, str] = field(default_factory=dict)

    @property
    def servers(self) -> list[FakeServer]:
        return [self.spotify, self.deezer, self.lastfm, self.musicbrainz, self.anthropic]

    def stop(self) -> None:
        for server in self.servers:
            server.stop()

    def reset(self) -> None:
        """Forget recorded calls, injected faults and scripted Claude replies on every fake."""
        for server in self.servers:
            server.reset_calls()
            server.clear_faults()
        self.anthropic.clear_script()

    def dev_vars(self) -> str:
        """The `.dev.vars` lines (KEY=value) for a worker pointed at these fakes."""
        return "".join(f"{k}={v}\n" for k, v in self.vars.items())

    def __enter__(self) -> FakeSuite:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_all(
    ports: dict[str, int] | None = None,
    *,
    demo_playback: bool = False,
    musicbrainz_rate: tuple[int, float] | None = (3, 1.0),
) -> FakeSuite:
    """Start all five fakes on loopback (port 0 = any free port) and return them.

    `demo_playback=True` puts the Spotify player in a playing state (a playlist on the
    first device) so player routes have something to show in the offline demo.
    """
    ports = ports or {}
    suite = FakeSuite(
        spotify=FakeSpotify(port=ports.get("spotify", 0)),
        deezer=FakeDeezer(port=ports.get("deezer", 0)),
        lastfm=FakeLastFm(port=ports.get("lastfm", 0)),
        musicbrainz=FakeMusicBrainz(port=ports.get("musicbrainz", 0), rate=musicbrainz_rate),
        anthropic=FakeAnthropic(port=ports.get("anthropic", 0)),
    )
    try:
        for server in suite.servers:
            server.start()
    except OSError:
        suite.stop()
        raise
    if demo_playback:
        from .catalog import PLAYLIST_100

        suite.spotify.start_playback(
            context_playlist=suite.spotify.catalog.playlist_by_name(PLAYLIST_100).id
        )
    s = suite.spotify.base_url
    suite.vars = {
        "SPOTIFY_API_BASE": f"{s}/v1",
        "SPOTIFY_ACCOUNTS_BASE": s,
        "DEEZER_API_BASE": suite.deezer.base_url,
        "LASTFM_API_BASE": f"{suite.lastfm.base_url}/2.0/",
        "MUSICBRAINZ_API_BASE": f"{suite.musicbrainz.base_url}/ws/2",
        "ANTHROPIC_API_BASE": suite.anthropic.base_url,
        "SPOTIFY_CLIENT_ID": DEFAULT_CLIENT_ID,
        "SPOTIFY_CLIENT_SECRET": DEFAULT_CLIENT_SECRET,
        "LASTFM_API_KEY": LASTFM_KEY,
        "ANTHROPIC_API_KEY": ANTHROPIC_KEY,
        "FAKE_SPOTIFY_DEV_TOKEN": DEV_TOKEN,
    }
    return suite


def dev_services(origin: str) -> tuple[dict[str, str], Callable[[], None]]:
    """`djbuild dev --fakes`: the DJ API's local services (`[tool.djbuild.dev] services`).

    Starts every fake (the Spotify player already playing), and answers the vars that point
    the worker at them plus `FRONTEND_URL=origin`, so the OAuth callback comes back to the dev
    server instead of the production front end (a FRONTEND_URL in .dev.vars still wins).
    """
    suite = start_all(demo_playback=True)
    values = {**suite.vars, "FRONTEND_URL": origin}
    for name, value in sorted(values.items()):
        if name.endswith("_BASE"):
            print(f"fakes: {name} = {value}", file=sys.stderr)
    print(
        "OFFLINE DEMO: every upstream is a local fake; no real Spotify, Anthropic, Deezer,\n"
        f"Last.fm or MusicBrainz is called. Try: curl {origin}/api/health, open {origin}/api/docs;\n"
        f"a Spotify token the fake accepts: {DEV_TOKEN}",
        file=sys.stderr,
        flush=True,
    )
    STATE_FILE.parent.mkdir(exist_ok=True)
    STATE_FILE.write_text(suite.dev_vars(), encoding="utf-8")

    def stop() -> None:
        suite.stop()
        STATE_FILE.unlink(missing_ok=True)

    return values, stop
