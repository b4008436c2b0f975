"""A plain `pip install` of the project (no test extras) builds the DJ API.

The build must import only what the package declares in `dependencies`: a module that only a
test extra provides (e.g. openapi-spec-validator) would make every build fail after a plain
install, which the editable test venv never shows.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _copy_sources(dest: Path) -> None:
    """The committed and working files, without .venv/dist/caches (pip builds in-tree)."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    for rel in listed:
        src = ROOT / rel
        if not src.is_file():
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)


@pytest.fixture(scope="module")
def plain_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("plain")
    sources = base / "src"
    _copy_sources(sources)
    env_dir = base / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    proc = subprocess.run(
        [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q", str(sources)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return env_dir


def test_plain_install_lacks_the_test_extras(plain_venv: Path) -> None:
    python = plain_venv / "bin" / "python"
    proc = subprocess.run(
        [str(python), "-c", "import openapi_spec_validator"], capture_output=True, text=True
    )
    assert proc.returncode != 0
    assert "No module named 'openapi_spec_validator'" in proc.stderr


def test_plain_install_builds_the_dj_api(plain_venv: Path, tmp_path: Path) -> None:
    out = tmp_path / "dist"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    proc = subprocess.run(
        [
            str(plain_venv / "bin" / "djbuild"),
            "build",
            "--root",
            str(ROOT),
            "--out",
            str(out),
            "--json",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["routes"] >= 40
    assert (out / "src" / "entry.py").is_file()
    doc = json.loads((out / "openapi.json").read_text())
    assert "/api/health" in doc["paths"]
    # the build ran the installed djbuild, not the sources beside it
    where = subprocess.run(
        [str(plain_venv / "bin" / "python"), "-c", "import djbuild; print(djbuild.__file__)"],
        capture_output=True,
        text=True,
        cwd=plain_venv,
        check=True,
    ).stdout
    assert str(plain_venv) in where and sys.prefix not in where
