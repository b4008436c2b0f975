"""`[tool.djbuild] bytecode`: project modules ship as Pyodide-compiled .pyc files the Worker imports."""

from __future__ import annotations

import json
import threading
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest

from djbuild import bytecode, shrink
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

    class NoPyodide:
        def __init__(self) -> None:
            raise AssertionError("Pyodide started for sources whose bytecode is cached")

    monkeypatch.setattr(bytecode, "Compiler", NoPyodide)
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


class _Recorder(bytecode.Compiler):
    """The real compiler, noting when it starts and what it compiles."""

    events: list[str]
    started: list[bytecode.Compiler]

    def __init__(self) -> None:
        self.events.append("compiler started")
        self.started.append(self)
        super().__init__()

    def compile(self, sources: dict[str, bytes]) -> dict[str, bytes]:
        self.events.append(f"compiled {len(sources)}")
        return super().compile(sources)


def _record(monkeypatch: pytest.MonkeyPatch) -> tuple[list[str], list[bytecode.Compiler]]:
    """The order in which the build starts a compiler, imports the app, walks its imports
    and compiles; and the compilers started."""
    from djbuild import build

    events: list[str] = []
    started: list[bytecode.Compiler] = []
    monkeypatch.setattr(_Recorder, "events", events, raising=False)
    monkeypatch.setattr(_Recorder, "started", started, raising=False)
    monkeypatch.setattr(bytecode, "Compiler", _Recorder)
    for step, name in (("load_app", "app imported"), ("analyse", "import walk")):
        real = getattr(build, step)

        def recorded(*args: object, _real: Any = real, _name: str = name) -> object:
            events.append(_name)
            return _real(*args)

        monkeypatch.setattr(build, step, recorded)
    return events, started


def test_pyodide_starts_before_the_import_walk_when_bytecode_is_missing(
    make_project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events, _ = _record(monkeypatch)
    root = _project(make_project, uuid.uuid4().hex)
    build_project(root, tmp_path / "dist")
    # one compiler, started before the walk (once the app's modules are known, or before the
    # app is imported when the cache holds no bytecode yet), compiles what the write asks for
    assert events.index("compiler started") < events.index("import walk")
    assert events.count("compiler started") == 1 and events[-1].startswith("compiled ")
    assert (tmp_path / "dist" / "src" / "webapp" / "where.pyc").is_file()


def test_with_a_fresh_cache_pyodide_starts_before_the_app_is_imported(
    make_project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from djbuild import toolchain, vendor

    real = vendor.cache_root()
    cache = tmp_path / "cache"  # the vendored and npm packages only, as bench/build.py's cold
    cache.mkdir()
    (cache / "vendor").symlink_to(real / "vendor")
    (cache / toolchain.node_packages_dir().name).symlink_to(toolchain.node_packages_dir())
    monkeypatch.setenv("DJBUILD_CACHE", str(cache))
    events, _ = _record(monkeypatch)
    build_project(_project(make_project, "fresh"), tmp_path / "dist")
    assert events[:3] == ["compiler started", "app imported", "import walk"]
    assert events.count("compiler started") == 1 and events[-1].startswith("compiled ")
    assert (tmp_path / "dist" / "src" / "webapp" / "where.pyc").is_file()
    assert list((cache / "bytecode").glob("*.pyc"))  # the project's, cached for next time


def test_builds_that_need_no_compiling_start_no_pyodide(
    make_project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _project(make_project, uuid.uuid4().hex)
    build_project(root, tmp_path / "first")
    events, _ = _record(monkeypatch)
    build_project(root, tmp_path / "second")  # every module's bytecode is cached
    build_project(root, tmp_path / "off", bytecode="off")
    build_project(root, write=False)  # a check writes nothing
    edited = _project(make_project, uuid.uuid4().hex)
    build_project(edited, tmp_path / "dev", compile_bytecode=False)  # a dev rebuild
    assert "compiler started" not in events
    assert events.count("import walk") >= 3  # the builds did run


def test_a_compiler_started_early_and_not_used_is_stopped(
    make_project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events, started = _record(monkeypatch)
    root = _project(make_project, uuid.uuid4().hex)
    duplicate = "\n@router.get('/where')\nasync def again(c: Context) -> dict:\n    return {}\n"
    (root / "webapp" / "main.py").write_text(APP + duplicate)
    with pytest.raises(BuildError, match="route declarations"):
        build_project(root, tmp_path / "dist")
    assert sorted(events) == ["app imported", "compiler started"]
    [compiler] = started
    assert compiler._proc.poll() == 0  # ended at once: it was given nothing to compile
    assert not compiler._work.exists()


def test_a_compile_error_names_the_module_and_spares_guesses_not_asked_for(
    tmp_path: Path,
) -> None:
    good = {"src/webapp/good.py": b"X = 1\n"}
    bad = b"X = 1\ndef f(:\n"
    shrink.shrink_cached(bad, tmp_path)  # its "shrunk" form is ready: handed over at once
    compiler = bytecode.Compiler()
    compiler.feed_when_shrunk([("src/webapp/bad.py", shrink.cache_file(bad, tmp_path))])
    for _ in range(500):
        if compiler._sent:
            break
        threading.Event().wait(0.01)
    assert compiler._sent  # the guess went to Pyodide ahead of the build's request
    assert compiler.compile(good) == bytecode.Compiler().compile(good)
    with pytest.raises(bytecode.BytecodeError) as caught:
        bytecode.Compiler().compile({**good, "src/webapp/bad.py": bad})
    assert "/session/metadata/webapp/bad.py, line 2" in str(caught.value)
    assert "SyntaxError" in str(caught.value)


def test_a_pyodide_that_does_not_start_fails_the_build_with_a_clear_error(
    make_project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from djbuild import toolchain

    empty = tmp_path / "npm" / "node_modules"
    empty.mkdir(parents=True)
    monkeypatch.setattr(toolchain, "ensure_node_modules", lambda: empty)
    with pytest.raises(BuildError, match="Pyodide did not start to compile bytecode") as caught:
        build_project(_project(make_project, uuid.uuid4().hex), tmp_path / "dist")
    assert "pyodide.mjs" in caught.value.summary  # what is missing
    assert not (tmp_path / "dist").exists()


def test_a_snapshot_that_does_not_load_is_made_again_and_the_bytecode_is_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = {"src/webapp/where.py": b'S = {"a", "b", "c"}\ndef f(x):\n    return x in S\n'}
    expected = bytecode.Compiler().compile(source)  # from the shared snapshot
    snapshot = tmp_path / "pyodide-compiler.snapshot"
    snapshot.write_bytes(b"not a snapshot" * 100)
    monkeypatch.setattr(bytecode, "snapshot_path", lambda node_modules: snapshot)
    assert bytecode.Compiler().compile(source) == expected  # booted from scratch
    assert snapshot.stat().st_size > 1_000_000  # a real one now
    assert bytecode.Compiler().compile(source) == expected  # restored from it
