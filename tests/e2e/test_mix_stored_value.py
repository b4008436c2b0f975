"""A mix session value in KV that is not a valid session reads as "no session", never a 500.

Values are written the way an operator would, with `wrangler kv key put --local`, into the
state folder the host then serves from: first a valid session (to show the host reads it),
then a broken one.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import httpx

from dj.mix_rules import create_session
from dj.models.mix import dump_stored
from djbuild import toolchain
from djbuild.host import LocalHost
from fakes import FakeSuite

SESSION_ID = "6f1c2a5e-3b7d-4c1e-9a2f-8d4b5c6e7f80"


def _put(dist: Path, key: str, value: str) -> None:
    done = toolchain.wrangler(
        ["kv", "key", "put", "--local", "--binding", "MIX_SESSIONS", key, value,
         "-c", dist / "wrangler.toml"],
        cwd=dist.parent,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def test_an_invalid_stored_session_reads_as_none_and_start_replaces_it(
    fake_suite: FakeSuite, dj_dist: Path, tmp_path: Path
) -> None:
    dist = tmp_path / "dist"
    shutil.copytree(dj_dist, dist)
    (dist / ".dev.vars").write_text(fake_suite.dev_vars())
    user = fake_suite.spotify.user.id
    key = f"mix:{user}"
    headers = {"Authorization": f"Bearer {fake_suite.spotify.issue_token()}"}
    valid = create_session(session_id=SESSION_ID, user_id=user, now_ms=int(time.time() * 1000))

    _put(dist, key, dump_stored(valid))
    with LocalHost(dist) as host, httpx.Client(base_url=host.url, timeout=30) as http:
        assert http.get("/api/mix/current", headers=headers).json()["session"]["id"] == SESSION_ID

    _put(dist, key, '{"id": "not-a-uuid", "queue": "nope"}')
    with LocalHost(dist) as host, httpx.Client(base_url=host.url, timeout=30) as http:
        current = http.get("/api/mix/current", headers=headers)
        assert current.status_code == 200
        assert current.json() == {"session": None}
        assert http.get("/api/mix/queue", headers=headers).status_code == 404
        started = http.post(
            "/api/mix/start", headers=headers, json={"preferences": {"autoFill": False}}
        )
        assert started.status_code == 200
        session = started.json()["session"]
        assert session["userId"] == user and session["id"] != SESSION_ID
        assert (
            http.get("/api/mix/current", headers=headers).json()["session"]["id"] == session["id"]
        )
