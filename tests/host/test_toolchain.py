"""Node, npm packages and the SDK: installed once, reported clearly when they cannot be."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from djbuild import toolchain


def test_node_is_version_24(node_ready: None) -> None:
    out = subprocess.run(
        [str(toolchain.node_path()), "--version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.startswith("v24.")


def test_second_ensure_installs_nothing(
    node_ready: None, capsys: pytest.CaptureFixture[str]
) -> None:
    first = toolchain.ensure_node_modules()
    second = toolchain.ensure_node_modules()
    assert first == second
    assert "installing" not in capsys.readouterr().err
    assert (first / "pyodide" / "package.json").exists()


def test_installed_npm_packages_match_the_pins(node_ready: None) -> None:
    modules = toolchain.ensure_node_modules()
    pins = json.loads(toolchain.PACKAGE_JSON.read_text())["dependencies"]
    for name, version in pins.items():
        installed = json.loads((modules / name / "package.json").read_text())["version"]
        assert installed == version, name


def test_install_folder_is_keyed_by_the_lockfile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DJBUILD_CACHE", str(tmp_path))
    assert toolchain.node_packages_dir() == tmp_path / f"node-{toolchain.lockfile_key()}"
    lock = tmp_path / "package-lock.json"
    lock.write_text(toolchain.PACKAGE_LOCK.read_text() + " ")
    monkeypatch.setattr(toolchain, "PACKAGE_LOCK", lock)
    assert toolchain.node_packages_dir() != tmp_path / "node-unchanged"
    assert toolchain.lockfile_key() != toolchain.hashlib.sha256(b"").hexdigest()[:16]


def test_npm_failure_says_what_failed_and_how_to_retry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DJBUILD_CACHE", str(tmp_path / "cache"))
    broken = tmp_path / "package-lock.json"
    broken.write_text("{ this is not json")
    monkeypatch.setattr(toolchain, "PACKAGE_LOCK", broken)
    with pytest.raises(toolchain.ToolchainError) as info:
        toolchain.ensure_node_modules()
    message = str(info.value)
    assert "npm ci failed" in message
    assert "run the command again" in message
    assert "installing npm packages (first run)" in capsys.readouterr().err
    # Nothing half-installed is left to be mistaken for a good install next time.
    assert not toolchain.node_packages_dir().exists()


def test_workers_sdk_is_installed_for_pyodide(node_ready: None) -> None:
    sdk = toolchain.ensure_workers_sdk()
    assert (sdk / "workers" / "entrypoints.py").exists()
    dist_info = next(sdk.glob("workers_runtime_sdk-*.dist-info"))
    assert dist_info.name == "workers_runtime_sdk-1.9.5.dist-info"


def test_wrangler_runs_with_our_node(node_ready: None) -> None:
    out = toolchain.wrangler(["--version"])
    assert out.returncode == 0, out.stderr
    assert "4.164.0" in out.stdout
