from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx

from fakes import start_all

ROOT = Path(__file__).resolve().parents[2]


def test_start_all_exposes_working_base_urls() -> None:
    with start_all(demo_playback=True) as suite:
        v = suite.vars
        assert set(v) >= {
            "SPOTIFY_API_BASE",
            "SPOTIFY_ACCOUNTS_BASE",
            "DEEZER_API_BASE",
            "LASTFM_API_BASE",
            "MUSICBRAINZ_API_BASE",
            "ANTHROPIC_API_BASE",
        }
        assert all(v[k].startswith("http://127.0.0.1:") for k in v if k.endswith("_BASE"))
        with httpx.Client(timeout=5) as c:
            me = c.get(
                f"{v['SPOTIFY_API_BASE']}/me/player",
                headers={"Authorization": f"Bearer {v['FAKE_SPOTIFY_DEV_TOKEN']}"},
            )
            assert me.status_code == 200 and me.json()["is_playing"] is True
            dz = c.get(f"{v['DEEZER_API_BASE']}/track/isrc:NOPE").json()
            assert dz["error"]["code"] == 800
            lfm = c.get(
                v["LASTFM_API_BASE"],
                params={
                    "method": "artist.getInfo",
                    "artist": "Queen",
                    "format": "json",
                    "api_key": v["LASTFM_API_KEY"],
                },
            ).json()
            assert lfm["artist"]["name"] == "Queen"
        assert "SPOTIFY_API_BASE=http://127.0.0.1:" in suite.dev_vars()
    assert suite.spotify._server is None


def test_python_dash_m_fakes_prints_dev_vars(tmp_path: Path) -> None:
    out = tmp_path / ".dev.vars"
    proc = subprocess.Popen(
        [sys.executable, "-m", "fakes", "--write", str(out)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 10
        while not out.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        lines = out.read_text().splitlines()
    finally:
        proc.terminate()
        proc.wait(timeout=5)
    assert proc.returncode == 0
    keys = {line.split("=", 1)[0] for line in lines}
    assert {"SPOTIFY_API_BASE", "ANTHROPIC_API_BASE", "MUSICBRAINZ_API_BASE"} <= keys
