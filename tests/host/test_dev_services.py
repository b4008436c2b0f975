"""`djbuild dev --services` (alias `--fakes`): local services from `[tool.djbuild.dev]`.

djbuild imports nothing of the app: the services function, what to watch and the app all
come from config. The DJ API's fakes start this way, and its OAuth callback then comes back
to the dev server instead of the production front end (unless the user set FRONTEND_URL).
"""

from __future__ import annotations

import ast
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from djbuild import config
from djbuild.dev import dev
from djbuild.scaffold import create
from djbuild.services import dev_vars

ROOT = Path(__file__).resolve().parents[2]
DJBUILD = str(Path(sys.executable).parent / "djbuild")

SERVICES = """\
from pathlib import Path

LOG = Path(__file__).with_name("services.log")


def start(origin):
    LOG.write_text(f"started {origin}\\n")

    def stop():
        with LOG.open("a") as log:
            log.write("stopped\\n")

    return {"FROM_SERVICE": "yes", "FRONTEND_URL": origin}, stop
"""

VARS_ROUTE = """

@router.get("/vars")
async def show_vars(c: Context) -> dict:
    return {"service": c.var("FROM_SERVICE"), "frontend": c.var("FRONTEND_URL")}
"""


def serve(args: list[str], cwd: Path) -> tuple[subprocess.Popen[str], str, list[str]]:
    proc = subprocess.Popen(
        [DJBUILD, "dev", "--port", "0", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    seen: list[str] = []
    for line in proc.stdout:
        seen.append(line)
        if line.startswith("ready: "):
            return proc, line.split()[1], seen
    proc.wait()
    raise AssertionError("djbuild dev ended before it was ready:\n" + "".join(seen))


def stop(proc: subprocess.Popen[str]) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()


def test_dj_api_fakes_send_the_oauth_callback_back_to_the_dev_server(tmp_path: Path) -> None:
    proc, url, seen = serve(
        ["--fakes", "--out", str(tmp_path / "dist"), "--persist-to", str(tmp_path / "state")],
        ROOT,
    )
    try:
        assert any("OFFLINE DEMO" in line for line in seen)
        with httpx.Client(base_url=url, timeout=30) as http:
            back = http.get("/api/spotify/callback", params={"error": "access_denied"})
            assert back.status_code == 302
            assert back.headers["location"] == f"{url}/?error=access_denied"
    finally:
        assert stop(proc) == 0


def test_services_give_the_worker_their_vars_and_the_users_own_vars_win(
    tmp_path: Path,
) -> None:
    project, _ = create("svc-worker", tmp_path)
    (project / "devservices.py").write_text(SERVICES)
    routes = project / "svc_worker" / "routes.py"
    routes.write_text(routes.read_text() + VARS_ROUTE)
    pyproject = project / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace(
            '# services = "devservices:start"', 'services = "devservices:start"'
        )
    )
    (project / ".dev.vars").write_text("FRONTEND_URL=https://mine.example\n")
    proc, url, _ = serve(["--services", "--persist-to", str(tmp_path / "state")], project)
    try:
        shown = httpx.get(f"{url}/api/vars", timeout=30).json()
        assert shown == {"service": "yes", "frontend": "https://mine.example"}
    finally:
        assert stop(proc) == 0
    assert (project / "services.log").read_text() == f"started {url}\nstopped\n"


def test_services_flag_without_configured_services_is_a_clear_error(tmp_path: Path) -> None:
    project, _ = create("plain-worker", tmp_path)
    result = CliRunner().invoke(dev, ["--services", "--root", str(project)])
    assert result.exit_code == 1
    assert "[tool.djbuild.dev] services" in result.output


def test_dev_vars_put_the_users_lines_after_the_services_and_quote_odd_values() -> None:
    text = dev_vars({"A": "http://127.0.0.1:1/x", "B": 'two words "q"'}, "A=mine")
    assert text == 'A=http://127.0.0.1:1/x\nB="two words \\"q\\""\nA=mine\n'


def test_djbuild_imports_nothing_of_the_dj_api() -> None:
    app_packages = {"dj", "routes", "fakes", "tests"}
    offenders = []
    for path in (ROOT / "djbuild").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            offenders += [
                f"{path.relative_to(ROOT)}:{node.lineno} {n}"
                for n in names
                if n.split(".")[0] in app_packages
            ]
    assert offenders == []


def test_dev_watches_the_app_package_and_configs_unless_told_otherwise(tmp_path: Path) -> None:
    project, _ = create("watch-worker", tmp_path)
    cfg = config.load(project)
    assert cfg.dev.watch == [
        project / "watch_worker",
        project / "wrangler.toml",
        project / "pyproject.toml",
    ]
    assert cfg.dev.services is None
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text()
    pyproject.write_text(text.replace('watch = ["watch_worker", ', 'watch = ["web", '))
    assert config.load(project).dev.watch[0] == project / "web"
    pyproject.write_text(text.replace('# services = "devservices:start"', 'services = "nocolon"'))
    with pytest.raises(config.ConfigError, match="module:function"):
        config.load(project)
