"""`python -m fakes fault|claude` against a running suite: the DJ API on the local host sees
the scripted faults at once, with nothing restarted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import DJ, auth

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cli(dj: DJ, tmp_path: Path):  # type: ignore[no-untyped-def]
    vars_file = tmp_path / "fakes.dev.vars"
    vars_file.write_text(dj.fakes.dev_vars())

    def run(*args: str) -> dict:
        command = [sys.executable, "-m", "fakes", "--vars", str(vars_file), *args]
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    yield run
    run("clear")


def test_a_scripted_429_reaches_the_client_with_its_retry_after(dj: DJ, cli) -> None:  # type: ignore[no-untyped-def]
    cli("fault", "spotify", "--status", "429", "--retry-after", "30", "--path", "/v1/me/playlists")
    r = dj.http.get("/api/spotify/playlists", headers=auth(dj))
    assert r.status_code == 429
    assert r.headers["retry-after"] == "30"
    cli("clear", "spotify")
    assert dj.http.get("/api/spotify/playlists", headers=auth(dj)).status_code == 200


def test_a_scripted_claude_reply_is_what_the_chat_streams(dj: DJ, cli) -> None:  # type: ignore[no-untyped-def]
    cli("claude", "--text", "Straight from the command line.")
    r = dj.http.post(
        "/api/chat-stream/message",
        headers=auth(dj),
        json={"message": "hello there", "mode": "dj"},
    )
    assert r.status_code == 200
    assert "Straight from the command line." in r.text
    assert dj.fakes.anthropic.pending == 0
