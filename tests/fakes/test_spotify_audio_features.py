"""The fake Spotify's audio features: derived from the track id, and the dev-mode 403."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

from fakes import start_all
from fakes.catalog import CATALOG
from fakes.spotify import FakeSpotify, audio_features_of

from .helpers import bearer

ROOT = Path(__file__).resolve().parents[2]
FEATURES = ("energy", "danceability", "valence")


def test_a_batch_answers_each_id_in_order_with_null_for_unknown_ids(
    spotify: FakeSpotify, client: httpx.Client
) -> None:
    tracks = CATALOG.tracks[:3]
    unknown = "0" * 22
    ids = ",".join([tracks[0].id, unknown, tracks[1].id, tracks[2].id])
    r = client.get(f"{spotify.api}/audio-features", params={"ids": ids}, headers=bearer())
    assert r.status_code == 200
    items = r.json()["audio_features"]
    assert [i and i["id"] for i in items] == [tracks[0].id, None, tracks[1].id, tracks[2].id]
    for item in (items[0], items[2], items[3]):
        assert item["type"] == "audio_features"
        assert all(0 <= item[name] < 1 for name in FEATURES)
    assert items[0]["tempo"] == tracks[0].bpm


def test_features_are_deterministic_and_spread_over_the_range() -> None:
    values = [audio_features_of(t) for t in CATALOG.tracks[:100]]
    assert values == [audio_features_of(t) for t in CATALOG.tracks[:100]]
    for name in FEATURES:
        column = [v[name] for v in values]
        assert min(column) < 0.2 and max(column) > 0.8, name
        assert len(set(column)) > 50, name


def test_more_than_100_ids_or_a_bad_id_is_a_400(spotify: FakeSpotify, client: httpx.Client) -> None:
    many = ",".join(t.id for t in CATALOG.tracks[:101])
    r = client.get(f"{spotify.api}/audio-features", params={"ids": many}, headers=bearer())
    assert r.status_code == 400
    bad = client.get(f"{spotify.api}/audio-features", params={"ids": "x!"}, headers=bearer())
    assert bad.status_code == 400
    one = client.get(f"{spotify.api}/audio-features/{CATALOG.tracks[5].id}", headers=bearer())
    assert one.json() == audio_features_of(CATALOG.tracks[5])
    assert client.get(f"{spotify.api}/audio-features", params={"ids": many}).status_code == 401


def test_the_fault_cli_makes_audio_features_answer_403_like_a_dev_mode_app(
    tmp_path: Path,
) -> None:
    with start_all() as suite:
        vars_file = tmp_path / "fakes.dev.vars"
        vars_file.write_text(suite.dev_vars())
        command = [sys.executable, "-m", "fakes", "--vars", str(vars_file), "fault", "spotify"]
        command += ["--path", "audio_features", "--status", "403"]
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        url = f"{suite.spotify.api}/audio-features"
        ids = {"ids": CATALOG.tracks[0].id}
        refused = httpx.get(url, params=ids, headers=bearer())
        assert refused.status_code == 403
        assert refused.json() == {"error": {"status": 403, "message": "Forbidden"}}
        assert httpx.get(f"{suite.spotify.api}/me", headers=bearer()).status_code == 200
        suite.spotify.clear_faults()
        assert httpx.get(url, params=ids, headers=bearer()).status_code == 200
