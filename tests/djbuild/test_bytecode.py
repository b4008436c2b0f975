"""`[tool.djbuild] bytecode`: project modules ship as Pyodide-compiled .pyc files the Worker imports."""

from __future__ import annotations

import json
import urllib.request
import uuid
from pathlib import Path

import pytest

from djbuild import bytecode
from djbuild.build import BuildError, build_project
from djbuild.deploy import deploy_dist
from djbuild.host import LocalHost

from .conftest import Project

APP = """\
from runtime import App, Context, Router

from webapp.where import FILE, MARK

router = Router()


@router.get("/where")
async def where(c: Context) -> dict:
    return {"file": FILE, "mark": MARK}


app = App(title="t", version="1")
app.route("/api", router)
"""


def _project(make_project: Project, mark: str, mode: str = "project") -> Path:
    return make_project(
        files={
            "webapp/main.py": APP,
            # a fresh constant per test: its bytecode is never in the cache yet
            "webapp/where.py": f'FILE = __file__\nMARK = "{mark}"\n',
        },
        pyproject_extra=f'bytecode = "{mode}"\n',
    )


def test_project_modules_ship_as_bytecode_the_worker_imports(
    make_project: Project, tmp_path: Path
) -> None:
    mark = uuid.uuid4().hex
    out = tmp_path / "dist"
    build_project(_project(make_project, mark), out)
    shipped = {p.relative_to(out / "src").as_posix() for p in (out / "src").rglob("*.py*")}
    assert "entry.py" in shipped  # the entry stays a Python module: workerd's `main`
    assert {"webapp/main.pyc", "webapp/where.pyc", "runtime/app.pyc"} <= shipped
    assert not {p for p in shipped if p.endswith(".py")} - {"entry.py"}
    header = (out / "src" / "webapp" / "where.pyc").read_bytes()[:8]
    assert header[4:8] == b"\x01\x00\x00\x00"  # hash-based, unchecked: reproducible
    manifest = json.loads((out / "manifest.json").read_text())
    origins = {f["path"]: f["origin"] for f in manifest["files"]}
    assert origins["src/webapp/where.pyc"] == "app" and origins["src/runtime/app.pyc"] == "runtime"
    assert 'globs = ["**/*.pyc"]' in (out / "wrangler.toml").read_text()

    with LocalHost(out, in_memory=True) as host:
        with urllib.request.urlopen(host.url + "/api/where", timeout=30) as response:
            body = json.loads(response.read())
    assert body == {"file": "/session/metadata/webapp/where.pyc", "mark": mark}


def test_wrangler_uploads_the_bytecode_as_data_modules(
    make_project: Project, tmp_path: Path
) -> None:
    out = tmp_path / "dist"
    build_project(_project(make_project, "upload"), out)
    report = deploy_dist(out, dry_run=True, echo=False)
    assert "webapp/where.pyc" in report.output
    manifest = json.loads((out / "manifest.json").read_text())
    uploaded = manifest["totals"]["bytes"] / 1024
    assert report.upload_kib is not None and abs(report.upload_kib - uploaded) / uploaded < 0.02


def test_bytecode_comes_from_the_cache_when_the_source_is_unchanged(
    make_project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _project(make_project, uuid.uuid4().hex)
    build_project(root, tmp_path / "first")

    def no_pyodide(sources: dict[str, bytes]) -> dict[str, bytes]:
        raise AssertionError(f"compiled again: {sorted(sources)}")

    monkeypatch.setattr(bytecode, "_compile_in_pyodide", no_pyodide)
    build_project(root, tmp_path / "second")
    first, second = tmp_path / "first" / "src", tmp_path / "second" / "src"
    for pyc in first.rglob("*.pyc"):
        assert (second / pyc.relative_to(first)).read_bytes() == pyc.read_bytes()


def test_a_rebuild_without_compiling_ships_new_modules_as_source(
    make_project: Project, tmp_path: Path
) -> None:
    mark = uuid.uuid4().hex
    out = tmp_path / "dist"
    build_project(_project(make_project, mark), out, compile_bytecode=False)
    assert f'MARK="{mark}"' in (out / "src" / "webapp" / "where.py").read_text().replace(" ", "")
    assert not (out / "src" / "webapp" / "where.pyc").exists()


def test_bytecode_can_be_turned_off_per_build_and_refuses_unknown_modes(
    make_project: Project, tmp_path: Path
) -> None:
    root = _project(make_project, "off")
    build_project(root, tmp_path / "dist", bytecode="off")
    assert (tmp_path / "dist" / "src" / "webapp" / "where.py").exists()
    assert "pyc" not in (tmp_path / "dist" / "wrangler.toml").read_text()
    with pytest.raises(BuildError, match="bytecode must be one of"):
        build_project(_project(make_project, "bad", mode="yes"), tmp_path / "bad")


def test_all_ships_the_vendored_packages_as_bytecode_too(
    make_project: Project, tmp_path: Path
) -> None:
    out = tmp_path / "dist"
    build_project(_project(make_project, uuid.uuid4().hex, mode="all"), out)
    vendored = out / "python_modules"
    assert (vendored / "pydantic" / "main.pyc").is_file()
    assert not list(vendored.rglob("*.py"))
    assert any((vendored / "pydantic_core").glob("*.so"))  # native files stay as they are
    wrangler = (out / "wrangler.toml").read_text()
    assert "[python_modules]" in wrangler and "exclude = []" in wrangler

    report = deploy_dist(out, dry_run=True, echo=False)
    manifest = json.loads((out / "manifest.json").read_text())
    uploaded = manifest["totals"]["bytes"] / 1024
    assert report.upload_kib is not None and abs(report.upload_kib - uploaded) / uploaded < 0.02

    with LocalHost(out, in_memory=True) as host:
        with urllib.request.urlopen(host.url + "/api/where", timeout=30) as response:
            assert response.status == 200
