"""`djbuild dev` reloads the worker in place after a rebuild: the same host process (Node,
Pyodide, Miniflare's KV) imports the edited modules again. It restarts the host instead when
vendored packages or the wrangler config changed, or when the in-place reload fails."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from djbuild.dev import DevServer, importers_closure
from djbuild.host import LocalHost, ReloadError
from djbuild.manifest import FileEntry, Manifest

from .conftest import make_dist

ENTRY = """\
import notes
from workers import Response, WorkerEntrypoint
from vendored_words import WORD


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        path = request.url.split("/", 3)[-1]
        if path == "put":
            await self.env.CACHE.put("note", "written before the edit")
            return Response("stored")
        if path == "get":
            return Response(str(await self.env.CACHE.get("note")))
        return Response(f"{notes.MESSAGE} {WORD}")
"""


def project_build(root: Path, out_dir: Path) -> object:
    """Stands in for build_project: src/notes.py and a vendored package from the project's
    files, `extra` appended to the wrangler config, and a manifest like the real one's."""
    extra = (root / "extra.toml").read_text()
    make_dist(out_dir, entry_source=ENTRY, extra_config=extra)
    (out_dir / "src" / "notes.py").write_text((root / "notes.py").read_text())
    package = out_dir / "python_modules" / "vendored_words"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text((root / "words.py").read_text())
    manifest = Manifest()
    modules = {"src/entry.py": "entry", "src/notes.py": "notes"}
    imported_by = {"notes": ["entry:1"], "vendored_words": ["entry:3"]}
    modules["python_modules/vendored_words/__init__.py"] = "vendored_words"
    for path in sorted(p for p in out_dir.rglob("*") if p.is_file()):
        rel = path.relative_to(out_dir).as_posix()
        module = modules.get(rel)
        entry = FileEntry.of(
            rel, path.read_bytes(), "app", module, imported_by.get(module or "", [])
        )
        manifest.add(entry)
    manifest.finish((), "app:app")
    (out_dir / "manifest.json").write_text(manifest.to_json())
    return out_dir


def write(path: Path, text: str) -> None:
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text)
    while path.stat().st_mtime_ns == before:  # coarse file-system clocks
        time.sleep(0.01)
        path.write_text(text)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "app"
    root.mkdir()
    write(root / "notes.py", 'MESSAGE = "one"\n')
    write(root / "words.py", 'WORD = "alpha"\n')
    write(root / "extra.toml", "")
    return root


@pytest.fixture
def server(project: Path, node_ready: None) -> Iterator[DevServer]:
    dev = DevServer(
        project,
        Path("dist"),
        build=project_build,
        port=0,
        echo=False,
        watch=[project],
        persist_to=project.parent / "state",
    )
    yield dev
    dev.stop()


def test_an_edited_module_is_reloaded_in_the_same_host_process_with_its_kv_data(
    server: DevServer, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = server.start()
    assert server.local is not None
    pid = server.local.pid
    with httpx.Client(base_url=url, timeout=30) as http:
        assert http.get("/x").text == "one alpha"
        assert http.get("/put").text == "stored"

        write(project / "notes.py", 'MESSAGE = "two"\n')
        assert server.poll_once() is True
        assert (server.last_change, server.reloads, server.restarts) == ("reload", 1, 0)
        assert server.local.pid == pid  # the same Node process: not restarted
        assert http.get("/x").text == "two alpha"
        assert http.get("/get").text == "written before the edit"
    assert "reloaded in place" in capsys.readouterr().err


def test_a_changed_vendored_package_restarts_the_host(
    server: DevServer, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = server.start()
    assert server.local is not None
    pid = server.local.pid
    write(project / "words.py", 'WORD = "beta"\n')
    assert server.poll_once() is True
    assert (server.last_change, server.restarts, server.reloads) == ("restart", 1, 0)
    assert server.local.pid != pid
    assert server.url == url
    assert httpx.get(url + "/x").text == "one beta"
    assert "restarting the host: vendored packages changed" in capsys.readouterr().err


def test_a_changed_wrangler_config_restarts_the_host(server: DevServer, project: Path) -> None:
    url = server.start()
    assert server.local is not None
    pid = server.local.pid
    write(project / "extra.toml", "\n[limits]\ncpu_ms = 50\n")
    assert server.poll_once() is True
    assert server.last_change == "restart"
    assert server.local.pid != pid
    assert server.local.startup is not None and server.local.startup.limits["cpu_ms"] == 50
    assert httpx.get(url + "/x").text == "one alpha"


def test_a_failed_reload_falls_back_to_a_restart_and_then_to_the_last_good_build(
    server: DevServer, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = server.start()
    write(project / "notes.py", "MESSAGE = (\n")  # builds, but does not import
    assert server.poll_once() is False
    assert server.failed_builds == 1
    err = capsys.readouterr().err
    assert "in-place reload failed" in err and "SyntaxError" in err
    assert "serving the last good build again" in err
    assert httpx.get(url + "/x").text == "one alpha"

    write(project / "notes.py", 'MESSAGE = "three"\n')
    assert server.poll_once() is True
    assert httpx.get(url + "/x").text == "three alpha"


def test_importers_closure_follows_the_manifest_graph_to_the_entry() -> None:
    files = {
        "src/entry.py": {"module": "entry", "importedBy": []},
        "src/app.py": {"module": "app", "importedBy": ["entry:2"]},
        "src/models.py": {"module": "models", "importedBy": ["app:3", "views:1"]},
        "src/views.py": {"module": "views", "importedBy": ["app:4"]},
        "src/other.py": {"module": "other", "importedBy": ["app:5"]},
        "python_modules/p/__init__.py": {"module": "p", "importedBy": ["models:1"]},
    }
    assert importers_closure({"models"}, [files]) == {"models", "views", "app", "entry"}
    assert importers_closure({"other"}, [files]) == {"other", "app", "entry"}


def test_the_startup_report_after_a_reload_describes_a_cold_start_of_the_new_code(
    tmp_path: Path, node_ready: None
) -> None:
    dist = make_dist(tmp_path / "dist", entry_source=ENTRY)
    (dist / "src" / "notes.py").write_text('MESSAGE = "light"\n')
    (dist / "python_modules" / "vendored_words").mkdir()
    (dist / "python_modules" / "vendored_words" / "__init__.py").write_text('WORD = "w"\n')
    with LocalHost(dist, in_memory=True, control=True) as host:
        before = host.startup
        assert before is not None
        heavy = "TOTAL = sum(i * i for i in range(2_000_000))\nMESSAGE = 'heavy'\n"
        (dist / "src" / "notes.py").write_text(heavy)
        done = host.reload(["notes"])
        assert set(done.modules) == {"entry", "notes"}
        after = host.startup
        assert after is not None and after is not before
        name, cumulative, own = after.top[0]
        assert name == "notes" and own > 0 and cumulative >= own
        # the cold start's tree with the edited module's new time in it
        assert after.import_cpu_ms >= before.import_cpu_ms + own / 2
        assert httpx.get(host.url + "/x").text == "heavy w"

        (dist / "src" / "notes.py").write_text("MESSAGE = (\n")
        with pytest.raises(ReloadError, match="SyntaxError"):
            host.reload(["notes"])
        assert host.running
