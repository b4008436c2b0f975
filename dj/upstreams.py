"""Where the DJ API's upstream services live: production by default, any base via vars.

The offline demo and the tests point these at the fakes (`python -m fakes` prints the lines).
"""

from __future__ import annotations

from runtime.context import Context
from runtime.records import record

DEFAULTS: dict[str, str] = {
    "SPOTIFY_API_BASE": "https://api.spotify.com/v1",
    "SPOTIFY_ACCOUNTS_BASE": "https://accounts.spotify.com",
    "DEEZER_API_BASE": "https://api.deezer.com",
    "LASTFM_API_BASE": "https://ws.audioscrobbler.com/2.0/",
    "MUSICBRAINZ_API_BASE": "https://musicbrainz.org/ws/2",
    "ANTHROPIC_API_BASE": "https://api.anthropic.com",
}


@record(frozen=True)
class Upstreams:
    spotify_api: str
    spotify_accounts: str
    deezer: str
    lastfm: str
    musicbrainz: str
    anthropic: str

    @classmethod
    def from_context(cls, c: Context) -> Upstreams:
        def base(name: str) -> str:
            value = c.var(name) or DEFAULTS[name]
            return value if name == "LASTFM_API_BASE" else value.rstrip("/")

        return cls(
            spotify_api=base("SPOTIFY_API_BASE"),
            spotify_accounts=base("SPOTIFY_ACCOUNTS_BASE"),
            deezer=base("DEEZER_API_BASE"),
            lastfm=base("LASTFM_API_BASE"),
            musicbrainz=base("MUSICBRAINZ_API_BASE"),
            anthropic=base("ANTHROPIC_API_BASE"),
        )
