"""`djbuild dev`: rebuild and restart on change; a failed rebuild keeps the last good build."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
from click.testing import CliRunner

from djbuild.dev import DevServer, dev, snapshot

from .conftest import make_dist

ENTRY = """\
from workers import Response, WorkerEntrypoint


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return Response({message!r})
"""


def fake_build(root: Path, out_dir: Path) -> object:
    """Stands in for djbuild.build.build_project: the message comes from routes/msg.txt."""
    message = (root / "routes" / "msg.txt").read_text().strip()
    if message == "BROKEN":
        raise RuntimeError("routes/msg.txt is broken")
    if message == "CRASH":
        make_dist(out_dir, entry_source="raise RuntimeError('crash at import')\n")
    else:
        make_dist(out_dir, entry_source=ENTRY.format(message=message))
    return out_dir


def write_message(project: Path, text: str) -> None:
    path = project / "routes" / "msg.txt"
    before = path.stat().st_mtime if path.exists() else 0.0
    path.write_text(text)
    while path.stat().st_mtime == before:  # coarse file-system clocks
        time.sleep(0.01)
        path.write_text(text)


def test_snapshot_sees_a_change_in_a_watched_folder(tmp_path: Path) -> None:
    (tmp_path / "routes").mkdir()
    write_message(tmp_path, "a")
    before = snapshot([tmp_path / "routes", tmp_path / "missing"])
    write_message(tmp_path, "b")
    assert snapshot([tmp_path / "routes"]) != before


def test_dev_rebuilds_on_change_and_keeps_serving_after_a_failed_build(
    node_ready: None, tmp_path: Path
) -> None:
    project = tmp_path / "app"
    (project / "routes").mkdir(parents=True)
    write_message(project, "one")
    server = DevServer(
        project, Path("dist"), build=fake_build, port=0, echo=False, watch=[project / "routes"]
    )
    try:
        url = server.start()
        assert httpx.get(url + "/api/x").text == "one"
        assert server.poll_once() is None  # nothing changed

        write_message(project, "two")
        assert server.poll_once() is True
        assert server.url == url  # same address after the restart
        assert httpx.get(url + "/api/x").text == "two"

        write_message(project, "BROKEN")
        assert server.poll_once() is False
        assert server.failed_builds == 1
        assert httpx.get(url + "/api/x").text == "two"
        assert not (project / "dist.staging").exists()

        write_message(project, "CRASH")  # builds, but the worker raises at import
        assert server.poll_once() is False
        assert server.failed_builds == 2
        assert httpx.get(url + "/api/x").text == "two"
    finally:
        server.stop()
    assert server.local is None


def test_dev_command_reports_a_missing_project_root(tmp_path: Path) -> None:
    result = CliRunner().invoke(dev, ["--root", str(tmp_path / "absent")])
    assert result.exit_code == 2
    assert "does not exist" in result.output


def test_snapshot_skips_caches_tool_folders_and_the_build_output(tmp_path: Path) -> None:
    for rel in ("app/a.py", "app/__pycache__/a.pyc", "app/node_modules/x.js", "app/dist/b.py"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x")
    seen = snapshot([tmp_path / "app"], ignore=[tmp_path / "app" / "dist"])
    assert list(seen) == [str(tmp_path / "app" / "a.py")]
