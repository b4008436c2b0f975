"""`djbuild init NAME` writes a project that checks, builds, deploys and serves as it is."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tomllib
from pathlib import Path

import httpx
from click.testing import CliRunner

from djbuild.cli import main
from djbuild.render import PY314_DATE
from djbuild.scaffold import COMPATIBILITY_DATE

ROOT = Path(__file__).resolve().parents[2]
DJBUILD = str(Path(sys.executable).parent / "djbuild")


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([DJBUILD, *args], cwd=cwd, capture_output=True, text=True)
    assert done.returncode == 0, f"djbuild {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done


def serve(project: Path, *extra: str) -> tuple[subprocess.Popen[str], str]:
    """`djbuild dev` on a free port; returns the process and its URL once it is ready."""
    proc = subprocess.Popen(
        [DJBUILD, "dev", "--port", "0", *extra],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if line.startswith("ready: "):
            return proc, line.split()[1]
    proc.wait()
    raise AssertionError("djbuild dev ended before it was ready:\n" + "".join(seen))


def stop(proc: subprocess.Popen[str]) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()


def test_init_project_checks_builds_deploys_and_serves_its_route(tmp_path: Path) -> None:
    out = run(["init", "hello-worker"], tmp_path).stdout
    project = tmp_path / "hello-worker"
    for rel in ("pyproject.toml", "wrangler.toml", ".gitignore", "hello_worker/routes.py"):
        assert f"wrote hello-worker/{rel}" in out

    settings = tomllib.loads((project / "pyproject.toml").read_text())["tool"]["djbuild"]
    assert settings["app"] == "hello_worker.routes:app"
    wrangler = tomllib.loads((project / "wrangler.toml").read_text())
    assert wrangler["name"] == "hello-worker"
    assert wrangler["compatibility_flags"] == ["python_workers"]

    assert run(["check"], project).stdout.startswith("ok: 3 routes")
    run(["build"], project)
    manifest = (project / "dist" / "manifest.json").read_text()
    assert "src/hello_worker/routes.py" in manifest
    deployed = run(["deploy", "--dry-run", "--no-build"], project).stdout
    assert "total upload" in deployed

    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=project,
        capture_output=True,
        text=True,
    )
    assert tests.returncode == 0, tests.stdout  # the generated test uses runtime.testing
    assert "2 passed" in tests.stdout

    proc, url = serve(project, "--persist-to", str(tmp_path / "state"))
    try:
        with httpx.Client(base_url=url, timeout=30) as http:
            hello = http.get("/api/hello", params={"name": "Ada"})
            assert hello.status_code == 200 and hello.json() == {"message": "Hello, Ada!"}
            bad = http.get("/api/hello", params={"name": ""})
            assert bad.status_code == 400 and bad.json()["success"] is False
            doc = http.get("/api/openapi.json").json()
            assert "/api/hello" in doc["paths"]
            page = http.get("/")
            assert page.status_code == 200 and "<h1>hello-worker</h1>" in page.text
    finally:
        assert stop(proc) == 0


def test_init_refuses_a_name_workers_do_not_accept(tmp_path: Path) -> None:
    for name in ("Hello", "9lives", "has_underscore", "trailing-", "a--b"):
        result = CliRunner().invoke(main, ["init", name, "--dir", str(tmp_path)])
        assert result.exit_code == 1, name
        assert "not a Worker name" in result.output
    assert not any(tmp_path.iterdir())


def test_init_refuses_to_overwrite_a_folder_in_use(tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    result = CliRunner().invoke(main, ["init", "taken", "--dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "already exists and is not empty" in result.output
    assert os.listdir(tmp_path / "taken") == ["notes.txt"]


def test_init_uses_the_compatibility_date_of_the_dj_api() -> None:
    root = tomllib.loads((ROOT / "wrangler.toml").read_text())
    assert COMPATIBILITY_DATE == str(root["compatibility_date"])
    assert COMPATIBILITY_DATE >= PY314_DATE  # Python 3.14 on Workers


def test_init_names_the_python_package_after_the_worker(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["init", "my-worker-2", "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    routes = tmp_path / "my-worker-2" / "my_worker_2" / "routes.py"
    assert routes.is_file()
    assert (
        'app = "my_worker_2.routes:app"'
        in (tmp_path / "my-worker-2" / "pyproject.toml").read_text()
    )
