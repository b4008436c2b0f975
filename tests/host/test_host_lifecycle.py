"""Host start-up, shutdown, persistence and the errors a user can act on."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
from pathlib import Path

import httpx
import pytest

from djbuild import toolchain
from djbuild.host import HostError, LocalHost

from .conftest import make_dist


def kv_get(url: str, key: str) -> object:
    return httpx.get(f"{url}/api/kv/get", params={"key": key}, timeout=15).json()["value"]


def kv_put(url: str, key: str, value: str) -> None:
    resp = httpx.get(f"{url}/api/kv/put", params={"key": key, "value": value}, timeout=15)
    assert resp.json() == {"ok": True}


def test_kv_data_survives_a_restart_with_a_persist_dir(sample_dist: Path, tmp_path: Path) -> None:
    state = tmp_path / "state"
    with LocalHost(sample_dist, persist_to=state) as first:
        kv_put(first.url, "kept", "across-restarts")
    assert (state / "v3" / "kv").is_dir()
    with LocalHost(sample_dist, persist_to=state) as second:
        assert kv_get(second.url, "kept") == "across-restarts"


def test_in_memory_host_starts_empty(sample_dist: Path, tmp_path: Path) -> None:
    with LocalHost(sample_dist, in_memory=True) as local:
        kv_put(local.url, "gone", "soon")
    with LocalHost(sample_dist, in_memory=True) as local:
        assert kv_get(local.url, "gone") is None
    assert not (sample_dist / ".wrangler").exists()


def test_host_and_wrangler_local_kv_share_data(node_ready: None, tmp_path: Path) -> None:
    dist = make_dist(tmp_path / "dist")
    config = dist / "wrangler.toml"
    put = toolchain.wrangler(
        ["kv", "key", "put", "--local", "--binding", "CACHE", "from-wrangler", "w-value",
         "-c", config],
        cwd=tmp_path,
    )  # fmt: skip
    assert put.returncode == 0, put.stderr
    # Both default to .wrangler/state beside the wrangler config.
    with LocalHost(dist) as local:
        assert kv_get(local.url, "from-wrangler") == "w-value"
        kv_put(local.url, "from-host", "h-value")
    got = toolchain.wrangler(
        ["kv", "key", "get", "--local", "--binding", "CACHE", "from-host", "-c", config],
        cwd=tmp_path,
    )
    assert got.returncode == 0, got.stderr
    assert got.stdout.strip().endswith("h-value")


def live_processes_in_group(pgid: int) -> list[str]:
    """Processes of a group that still run (zombies, already dead, are not counted)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name_end = text.rindex(")")
        fields = text[name_end + 2 :].split()
        state, group = fields[0], int(fields[2])
        if group == pgid and state != "Z":
            found.append(text[: name_end + 1])
    return found


def test_stop_leaves_no_process_behind(sample_dist: Path) -> None:
    local = LocalHost(sample_dist, in_memory=True)
    local.start()
    pgid = local.pid
    assert pgid is not None
    assert len(live_processes_in_group(pgid)) >= 2  # node and Miniflare's workerd
    local.stop()
    assert live_processes_in_group(pgid) == []


def test_missing_wrangler_toml_is_reported(sample_dist: Path, tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    shutil.copytree(sample_dist / "src", dist / "src")
    with pytest.raises(HostError, match=r"wrangler\.toml is missing.*build the project again"):
        LocalHost(dist).start()


def test_missing_dist_folder_is_reported(node_ready: None, tmp_path: Path) -> None:
    with pytest.raises(HostError, match="does not exist: build the project first"):
        LocalHost(tmp_path / "nope").start()


def test_stale_dist_without_the_main_module_is_reported(sample_dist: Path, tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    shutil.copytree(sample_dist, dist)
    (dist / "src" / "entry.py").unlink()
    with pytest.raises(HostError, match=r"entry\.py .*is missing: dist/ is stale"):
        LocalHost(dist).start()


def test_taken_port_is_reported(sample_dist: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(HostError, match=f"port {port} on 127.0.0.1 is already in use"):
            LocalHost(sample_dist, port=port, in_memory=True).start()


def test_import_error_prints_the_python_traceback_and_exits_non_zero(
    node_ready: None, tmp_path: Path
) -> None:
    source = "from workers import WorkerEntrypoint\n\ndef helper():\n    return 1 / 0\n\nhelper()\n"
    dist = make_dist(tmp_path / "dist", entry_source=source)
    with pytest.raises(HostError) as info:
        LocalHost(dist, in_memory=True).start()
    message = str(info.value)
    assert "host exited with code 4" in message
    assert "ZeroDivisionError: division by zero" in message
    assert 'File "/session/metadata/entry.py", line 4, in helper' in message
    assert "the worker failed to import (src/entry.py)" in message


def test_bundle_without_the_sdk_fails_like_workerd(node_ready: None, tmp_path: Path) -> None:
    dist = make_dist(tmp_path / "dist", vendor_sdk=False)
    with pytest.raises(HostError, match="vendor workers-runtime-sdk into dist/python_modules"):
        LocalHost(dist, in_memory=True).start()


def test_host_exits_cleanly_on_sigterm(sample_dist: Path) -> None:
    local = LocalHost(sample_dist, in_memory=True)
    local.start()
    proc = local._proc
    assert proc is not None
    proc.send_signal(signal.SIGTERM)
    try:
        assert proc.wait(timeout=10) == 0
        assert live_processes_in_group(proc.pid) == []  # Miniflare's workerd went too
    except subprocess.TimeoutExpired:
        pytest.fail("host ignored SIGTERM")
    finally:
        local.stop()
