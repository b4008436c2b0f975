"""Faults scripted at run time: the `/__fake/` control endpoint and `python -m fakes fault`."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fakes import FakeSuite, start_all
from fakes.anthropic import DEFAULT_API_KEY as ANTHROPIC_KEY
from fakes.catalog import CATALOG
from fakes.control import ControlError, find_fakes, run
from fakes.spotify import DEV_TOKEN

ROOT = Path(__file__).resolve().parents[2]
AUTH = {"Authorization": f"Bearer {DEV_TOKEN}"}


@pytest.fixture(scope="module")
def suite() -> Iterator[FakeSuite]:
    with start_all() as running:
        yield running


@pytest.fixture
def vars_file(suite: FakeSuite, tmp_path: Path) -> Path:
    suite.reset()
    path = tmp_path / "fakes.dev.vars"
    path.write_text(suite.dev_vars())
    return path


def test_the_cli_finds_every_fake_from_the_vars_file(suite: FakeSuite, vars_file: Path) -> None:
    found = find_fakes(vars_file)
    assert found == {
        "spotify": suite.spotify.base_url,
        "deezer": suite.deezer.base_url,
        "lastfm": suite.lastfm.base_url,
        "musicbrainz": suite.musicbrainz.base_url,
        "anthropic": suite.anthropic.base_url,
    }
    with pytest.raises(ControlError, match="not found"):
        find_fakes(vars_file.with_name("missing.vars"))


def test_a_429_with_retry_after_on_one_path_a_given_number_of_times(
    suite: FakeSuite, vars_file: Path
) -> None:
    command = [sys.executable, "-m", "fakes", "--vars", str(vars_file), "fault", "spotify"]
    command += ["--status", "429", "--retry-after", "2", "--path", "/v1/me/playlists"]
    command += ["--times", "3"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["fault"]["times"] == 3
    url = suite.spotify.base_url + "/v1/me/playlists"
    answers = [httpx.get(url, headers=AUTH) for _ in range(4)]
    assert [a.status_code for a in answers] == [429, 429, 429, 200]
    assert answers[0].headers["retry-after"] == "2"
    other = httpx.get(suite.spotify.base_url + "/v1/me", headers=AUTH)
    assert other.status_code == 200


def test_malformed_truncated_and_dropped_answers(suite: FakeSuite, vars_file: Path) -> None:
    track = next(t for t in CATALOG.tracks if t.isrc)
    base = f"{suite.deezer.base_url}/track/isrc:{track.isrc}"
    run(["--vars", str(vars_file), "fault", "deezer", "--malformed", "--times", "1"])
    malformed = httpx.get(base)
    assert malformed.status_code == 200
    with pytest.raises(ValueError):
        malformed.json()
    run(["--vars", str(vars_file), "fault", "deezer", "--truncate", "--times", "1"])
    with pytest.raises(httpx.HTTPError):
        httpx.get(base)
    run(["--vars", str(vars_file), "fault", "deezer", "--drop", "--times", "1"])
    with pytest.raises(httpx.HTTPError):
        httpx.get(base)
    assert httpx.get(base).json()["isrc"] == track.isrc


def test_a_stalled_answer_still_arrives_whole_and_the_fault_is_listed(
    suite: FakeSuite, vars_file: Path
) -> None:
    run(["--vars", str(vars_file), "fault", "lastfm", "--stall", "0.2", "--times", "1"])
    listed = run(["--vars", str(vars_file), "faults"])
    assert listed["lastfm"][0]["stall"] == 0.2 and listed["spotify"] == []
    answer = httpx.get(
        suite.lastfm.base_url + "/2.0/",
        params={"method": "track.getInfo", "artist": "Queen", "track": "Bohemian Rhapsody"},
    )
    assert answer.status_code == 200
    assert run(["--vars", str(vars_file), "faults"])["lastfm"][0]["fired"] == 1
    run(["--vars", str(vars_file), "clear"])
    assert run(["--vars", str(vars_file), "faults"])["lastfm"] == []


def test_scripted_claude_replies_and_errors(suite: FakeSuite, vars_file: Path) -> None:
    run(["--vars", str(vars_file), "claude", "--status", "529", "--error-type", "overloaded_error"])
    run(["--vars", str(vars_file), "claude", "--text", "Scripted from the command line."])
    assert suite.anthropic.pending == 2
    body = {"model": "claude-haiku-4-5", "max_tokens": 50, "messages": []}
    body["messages"] = [{"role": "user", "content": "hi"}]
    headers = {"x-api-key": ANTHROPIC_KEY, "anthropic-version": "2023-06-01"}
    url = suite.anthropic.base_url + "/v1/messages"
    first = httpx.post(url, json=body, headers=headers)
    assert first.status_code == 529
    second = httpx.post(url, json=body, headers=headers)
    assert second.json()["content"][0]["text"] == "Scripted from the command line."


def test_the_control_endpoint_refuses_what_it_does_not_know(suite: FakeSuite) -> None:
    url = suite.spotify.base_url + "/__fake/faults"
    assert httpx.post(url, json={"colour": "red"}).status_code == 400
    assert httpx.post(url, content=b"[").status_code == 400
    assert httpx.get(suite.spotify.base_url + "/__fake/nothing").status_code == 404
    assert suite.spotify.calls_to("*") == [] or all(
        not c.path.startswith("/__fake/") for c in suite.spotify.calls
    )


def test_dev_services_leave_the_vars_the_cli_reads_and_remove_them_on_stop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fakes.control import DEFAULT_VARS
    from fakes.suite import dev_services

    monkeypatch.chdir(tmp_path)
    values, stop = dev_services("http://127.0.0.1:8787")
    try:
        found = find_fakes(DEFAULT_VARS)
        assert found["spotify"] == values["SPOTIFY_ACCOUNTS_BASE"]
        assert set(found) == {"spotify", "deezer", "lastfm", "musicbrainz", "anthropic"}
    finally:
        stop()
    assert not (tmp_path / DEFAULT_VARS).exists()
