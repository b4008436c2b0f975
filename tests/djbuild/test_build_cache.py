"""A build whose inputs did not change verifies its output and reuses it; any change rebuilds."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from djbuild import buildcache
from djbuild.build import BuildError, build_project
from tests.djbuild.conftest import Project

ROUTE = """
@router.get("/extra")
async def extra(c: Context) -> dict:
    return {"extra": VALUE}
"""


def _forget_app() -> None:
    """A build imports the app in this process: make the next one import it afresh."""
    for name in [m for m in sys.modules if m == "webapp" or m.startswith("webapp.")]:
        del sys.modules[name]


@pytest.fixture
def project(make_project: Project) -> Path:
    return make_project(
        {"webapp/values.py": "VALUE = 1\n", "public/hello.txt": "hi\n"},
        app_imports="from .values import VALUE\n",
    )


def _build(root: Path):
    _forget_app()
    return build_project(root, root / "dist", measure=True)


def test_an_unchanged_project_is_verified_and_reused(project: Path) -> None:
    first = _build(project)
    assert not first.cached
    again = _build(project)
    assert again.cached
    assert again.manifest is not None and first.manifest is not None
    assert again.manifest.bundle_hash == first.manifest.bundle_hash
    assert again.routes == first.routes
    assert again.openapi == first.openapi
    assert {f.target for f in again.allowed} == {f.target for f in first.allowed}
    assert again.sizes == first.sizes and first.sizes is not None


def test_editing_a_reached_module_rebuilds_with_the_new_code(project: Path) -> None:
    _build(project)
    (project / "webapp" / "values.py").write_text("VALUE = 2\n")
    main = project / "webapp" / "main.py"
    main.write_text(main.read_text() + ROUTE)
    result = _build(project)
    assert not result.cached
    assert "/api/extra" in result.openapi["paths"]
    assert "VALUE=2" in (project / "dist" / "src" / "webapp" / "values.py").read_text()
    assert _build(project).cached


def test_a_tampered_or_extra_output_file_is_rebuilt(project: Path) -> None:
    _build(project)
    shipped = project / "dist" / "src" / "webapp" / "main.py"
    good = shipped.read_bytes()
    shipped.write_bytes(good + b"\nraise SystemExit\n")
    result = _build(project)
    assert not result.cached
    assert shipped.read_bytes() == good
    (project / "dist" / "src" / "stray.py").write_text("x = 1\n")
    assert not _build(project).cached
    assert not (project / "dist" / "src" / "stray.py").exists()


def test_changed_assets_config_or_a_new_top_level_module_rebuild(project: Path) -> None:
    _build(project)
    (project / "public" / "hello.txt").write_text("hello\n")
    wrangler = project / "wrangler.toml"
    wrangler.write_text(wrangler.read_text() + '\n[assets]\ndirectory = "public"\n')
    assert not _build(project).cached
    assert (project / "dist" / "assets" / "hello.txt").read_text() == "hello\n"
    assert _build(project).cached
    (project / "pydantic.py").write_text("")  # would shadow the vendored package
    record = buildcache.load(project.resolve(), (project / "dist").resolve())
    assert record is not None
    assert buildcache.inputs_key(_cfg(project), record.inputs, record.requirements) != record.key


def _cfg(root: Path):
    from djbuild.config import load

    return load(root)


def test_check_reuses_a_passing_result_and_sees_a_new_problem(project: Path) -> None:
    _forget_app()
    first = build_project(project, write=False, openapi=False)
    assert not first.cached
    _forget_app()
    again = build_project(project, write=False, openapi=False)
    assert again.cached and again.routes == first.routes
    assert len(again.closure.modules) == len(first.closure.modules)
    (project / "webapp" / "values.py").write_text("import subprocess\nVALUE = 1\n")
    _forget_app()
    with pytest.raises(BuildError) as err:
        build_project(project, write=False, openapi=False)
    assert "subprocess" in "\n".join(err.value.details)


def test_an_input_saved_while_building_is_not_trusted(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("x = 1\n")
    before = os.stat(module).st_mtime_ns
    assert not buildcache.changed_since([str(module)], before + 1)
    assert buildcache.changed_since([str(module)], before)
    assert buildcache.changed_since([str(tmp_path / "gone.py")], 0)
