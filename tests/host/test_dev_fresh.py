"""`djbuild dev` rebuilds with the code on disk: an edited response model shows in the answer
and in the OpenAPI document without restarting dev or the host (the real build, host and
runtime; the host reloads the worker in place)."""

from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path

import httpx

from djbuild.dev import DevServer
from djbuild.fresh import ProjectModules, fresh_modules, project_modules
from djbuild.scaffold import create

OLD_MODEL = """class Greeting(BaseModel):
    message: str
"""
NEW_MODEL = """class Greeting(BaseModel):
    message: str
    shout: str = ""
"""
OLD_RETURN = 'return Greeting(message=f"Hello, {c.query.name}!")'
NEW_RETURN = 'return Greeting(message=f"Hello, {c.query.name}!", shout=c.query.name.upper())'


def edit(path: Path, old: str, new: str) -> None:
    before = path.stat().st_mtime_ns
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    while path.stat().st_mtime_ns == before:  # coarse file-system clocks
        time.sleep(0.01)
        path.write_text(text.replace(old, new))


def greeting_schema(http: httpx.Client) -> dict:
    return http.get("/api/openapi.json").json()["components"]["schemas"]["Greeting"]


def test_an_edited_response_model_is_served_and_documented_after_the_rebuild(
    tmp_path: Path,
) -> None:
    project, _ = create("fresh-worker", tmp_path)
    routes = project / "fresh_worker" / "routes.py"
    server = DevServer(project, Path("dist"), port=0, persist_to=tmp_path / "state", echo=False)
    try:
        url = server.start()
        assert server.local is not None
        pid = server.local.pid
        with httpx.Client(base_url=url, timeout=30) as http:
            assert http.get("/api/hello?name=ada").json() == {"message": "Hello, ada!"}
            assert "shout" not in greeting_schema(http)["properties"]

            edit(routes, OLD_MODEL, NEW_MODEL)
            edit(routes, OLD_RETURN, NEW_RETURN)
            assert server.poll_once() is True
            assert server.url == url
            assert (server.last_change, server.local.pid) == ("reload", pid)  # in place
            answer = http.get("/api/hello?name=ada").json()
            assert answer == {"message": "Hello, ada!", "shout": "ADA"}
            assert "shout" in greeting_schema(http)["properties"]
    finally:
        server.stop()
    assert "fresh_worker.routes" not in sys.modules  # the builds left this process as it was


def write_package(root: Path) -> Path:
    pkg = root / "freshpkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "models.py").write_text("VALUE = 1\n")
    (pkg / "app.py").write_text("from . import models\nfrom .models import VALUE\n")
    (pkg / "other.py").write_text("SEEN = []\n")
    return pkg


GRAPH = {
    "freshpkg": {"freshpkg.app", "freshpkg.models", "freshpkg.other"},
    "freshpkg.models": {"freshpkg.app"},
    "freshpkg.app": set(),
    "freshpkg.other": set(),
}


def test_an_edit_reimports_its_module_and_importers_and_keeps_the_rest(tmp_path: Path) -> None:
    pkg = write_package(tmp_path)
    modules = ProjectModules(tmp_path)
    modules.importers = GRAPH
    sys.path.insert(0, str(tmp_path))
    try:
        with modules.active():
            import freshpkg.app  # type: ignore[import-not-found]
            import freshpkg.other  # type: ignore[import-not-found]

            first_app, first_other = freshpkg.app, freshpkg.other
        assert "freshpkg" not in sys.modules  # the process is as it was

        edit(pkg / "models.py", "VALUE = 1", "VALUE = 2")
        assert modules.forget([str(pkg / "models.py")]) == {"freshpkg.models", "freshpkg.app"}
        with modules.active():
            import freshpkg.app  # type: ignore[import-not-found]
            import freshpkg.other  # type: ignore[import-not-found]

            assert freshpkg.app is not first_app
            assert (freshpkg.app.VALUE, freshpkg.app.models.VALUE) == (2, 2)
            assert freshpkg.other is first_other  # untouched, not imported again
    finally:
        sys.path.remove(str(tmp_path))


def test_an_edit_the_graph_does_not_know_starts_over(tmp_path: Path) -> None:
    pkg = write_package(tmp_path)
    modules = ProjectModules(tmp_path)
    modules.importers = {"freshpkg": set()}  # a graph that misses the package's modules
    sys.path.insert(0, str(tmp_path))
    try:
        with modules.active():
            importlib.import_module("freshpkg.app")
            importlib.import_module("freshpkg.other")
        dropped = modules.forget([str(pkg / "other.py")])
        assert dropped == {"freshpkg", "freshpkg.app", "freshpkg.models", "freshpkg.other"}
        assert modules.kept == {}
    finally:
        sys.path.remove(str(tmp_path))


def test_fresh_modules_imports_the_project_from_disk_and_restores_the_process(
    tmp_path: Path,
) -> None:
    (tmp_path / "freshpkg_probe.py").write_text("VALUE = 1\n")
    sys.path.insert(0, str(tmp_path))
    try:
        import freshpkg_probe  # type: ignore[import-not-found]

        assert freshpkg_probe.VALUE == 1
        edit(tmp_path / "freshpkg_probe.py", "VALUE = 1", "VALUE = 22")
        with fresh_modules(tmp_path):
            import freshpkg_probe as inside  # type: ignore[import-not-found]

            assert inside.VALUE == 22
        assert sys.modules["freshpkg_probe"] is freshpkg_probe
        assert set(project_modules(tmp_path)) == {"freshpkg_probe"}
        assert project_modules(tmp_path, leave=["freshpkg_probe"]) == {}  # dev services' own
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("freshpkg_probe", None)
