"""The host starts Pyodide from a base memory snapshot, made once beside the npm packages."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from djbuild import toolchain
from djbuild.host import LocalHost

from .conftest import make_dist


def _snapshot() -> Path:
    return toolchain.ensure_node_modules().parent / "pyodide-host-base.snapshot"


def _serves(dist: Path) -> LocalHost:
    host = LocalHost(dist, in_memory=True)
    host.start()
    try:
        assert httpx.get(host.url + "/hello.txt", timeout=30).text == "hi from assets\n"
        assert httpx.get(host.url + "/api/hello", timeout=30).status_code == 200
    except BaseException:
        host.stop()
        raise
    return host


@pytest.fixture()
def dist(tmp_path: Path, node_ready: None) -> Path:
    return make_dist(tmp_path / "dist")


def test_a_missing_snapshot_is_made_and_the_worker_runs(dist: Path) -> None:
    _snapshot().unlink(missing_ok=True)
    host = _serves(dist)
    host.stop()
    assert _snapshot().stat().st_size > 1_000_000


def test_a_snapshot_that_does_not_load_is_made_again(dist: Path) -> None:
    _snapshot().write_bytes(b"not a pyodide snapshot")
    host = _serves(dist)
    host.stop()
    assert "did not load" in host.output()
    assert _snapshot().stat().st_size > 1_000_000


def test_the_host_can_be_told_to_start_without_the_snapshot(
    dist: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _snapshot().write_bytes(b"not a pyodide snapshot")
    monkeypatch.setenv("DJBUILD_HOST_SNAPSHOT", "0")
    host = _serves(dist)
    host.stop()
    assert "snapshot" not in host.output()
    assert _snapshot().read_bytes() == b"not a pyodide snapshot"  # untouched
    _snapshot().unlink()
