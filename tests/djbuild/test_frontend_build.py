"""`[tool.djbuild.assets] build`: `djbuild build` runs the front-end step first, and ASSETS
serves the folder it writes (`dir`)."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import httpx
from click.testing import CliRunner

from djbuild import config
from djbuild.build import build_project
from djbuild.cli import main
from djbuild.host import LocalHost
from djbuild.scaffold import create

# A stand-in for `vite build`: writes the site into web-dist/ from web/.
BUILD_SCRIPT = """\
import pathlib, sys

source = pathlib.Path("web/page.txt").read_text()
if source.startswith("FAIL"):
    print("compiling page.txt ...")
    print("error: page.txt: cannot compile", file=sys.stderr)
    sys.exit(3)
out = pathlib.Path("web-dist")
out.mkdir(exist_ok=True)
(out / "index.html").write_text(f"<!doctype html><p>{source}</p>")
(out / "app.js").write_text("console.log('built');")
"""


def web_project(tmp_path: Path, page: str = "built by the step") -> Path:
    project, _ = create("web-worker", tmp_path)
    (project / "build_web.py").write_text(BUILD_SCRIPT)
    (project / "web").mkdir()
    (project / "web" / "page.txt").write_text(page)
    pyproject = project / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text()
        + f'\n[tool.djbuild.assets]\nbuild = ["{sys.executable}", "build_web.py"]\n'
        + 'dir = "web-dist"\n'
    )
    return project


def test_build_runs_the_step_and_assets_serve_what_it_wrote(tmp_path: Path) -> None:
    project = web_project(tmp_path)
    out = tmp_path / "dist"
    result = build_project(project, out)
    assert "assets" in result.timings
    assert (project / "web-dist" / "index.html").is_file()
    wrangler = tomllib.loads((out / "wrangler.toml").read_text())
    served = out / wrangler["assets"]["directory"]  # the step's output, merged with djbuild's
    assert (served / "index.html").read_text() == (project / "web-dist" / "index.html").read_text()
    assert (served / "app.js").is_file()
    assert wrangler["assets"]["binding"] == "ASSETS"
    with LocalHost(out, persist_to=tmp_path / "state") as host:
        page = httpx.get(f"{host.url}/", timeout=30)
        assert page.status_code == 200 and "<p>built by the step</p>" in page.text
        script = httpx.get(f"{host.url}/app.js", timeout=30)
        assert script.text == "console.log('built');"
        api = httpx.get(f"{host.url}/api/hello", timeout=30)
        assert api.json() == {"message": "Hello, world!"}


def test_a_failing_step_stops_the_build_with_its_output_and_exit_code_1(tmp_path: Path) -> None:
    project = web_project(tmp_path, page="FAIL please")
    result = CliRunner().invoke(main, ["build", "--root", str(project)])
    assert result.exit_code == 1
    assert "the assets build step failed with exit code 3" in result.output
    assert "error: page.txt: cannot compile" in result.output
    assert not (project / "dist").exists()


def test_a_step_that_cannot_start_is_a_clear_error(tmp_path: Path) -> None:
    project = web_project(tmp_path)
    pyproject = project / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace(f'["{sys.executable}", ', '["no-such-tool-here", ')
    )
    result = CliRunner().invoke(main, ["build", "--root", str(project)])
    assert result.exit_code == 1
    assert "the assets build step could not start: no-such-tool-here build_web.py" in result.output


def test_a_step_that_writes_no_folder_is_an_error(tmp_path: Path) -> None:
    project = web_project(tmp_path)
    (project / "build_web.py").write_text("print('forgot to write anything')\n")
    result = CliRunner().invoke(main, ["build", "--root", str(project)])
    assert result.exit_code == 1
    assert "did not write web-dist/" in result.output


def test_assets_dir_gives_a_wrangler_config_without_assets_an_assets_binding(
    tmp_path: Path,
) -> None:
    (tmp_path / "wrangler.toml").write_text(
        'name = "t"\ncompatibility_date = "2026-11-01"\ncompatibility_flags = ["python_workers"]\n'
    )
    (tmp_path / "pyproject.toml").write_text(
        '[tool.djbuild]\napp = "x:app"\n\n[tool.djbuild.assets]\nbuild = "npm run build"\n'
        'dir = "site/out"\n'
    )
    cfg = config.load(tmp_path)
    assert cfg.assets.build == ["npm", "run", "build"]
    assert cfg.wrangler["assets"] == {"directory": "site/out", "binding": "ASSETS"}
