"""The distribution is djbuild and its Worker runtime, nothing of the DJ API.

Installs the project non-editable into a fresh venv (from the configured package index, as
a user would) and looks at what landed in site-packages.
"""

from __future__ import annotations

import json
import subprocess
import venv
from pathlib import Path

import pytest

from djbuild.build import build_project

ROOT = Path(__file__).resolve().parents[2]


def _files(base: Path, pattern: str) -> set[str]:
    return {
        p.relative_to(base).as_posix() for p in base.rglob(pattern) if "__pycache__" not in p.parts
    }


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the venv's bin folder, its site-packages) with this project installed, not editable."""
    env = tmp_path_factory.mktemp("venv")
    venv.EnvBuilder(with_pip=True).create(env)
    python = env / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(ROOT)],
        check=True,
        capture_output=True,
    )
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return env / "bin", Path(site)


def test_the_install_holds_djbuild_and_runtime_but_not_the_dj_api(
    installed: tuple[Path, Path],
) -> None:
    bin_dir, site = installed
    assert (site / "djbuild" / "cli.py").is_file()
    assert (site / "runtime" / "app.py").is_file()
    for app_package in ("dj", "routes", "fakes"):
        assert not (site / app_package).exists(), f"{app_package}/ was installed"
    probe = subprocess.run(
        [
            str(bin_dir / "python"),
            "-c",
            "import importlib.util as u; print([n for n in ('dj', 'routes', 'fakes') "
            "if u.find_spec(n)])",
        ],
        cwd=site.parent,  # not the project root
        capture_output=True,
        text=True,
        check=True,
    )
    assert probe.stdout.strip() == "[]"


def test_every_module_and_data_file_of_the_tool_is_installed(
    installed: tuple[Path, Path],
) -> None:
    _, site = installed
    for package in ("djbuild", "runtime"):
        missing = _files(ROOT / package, "*.py") - _files(site / package, "*.py")
        assert not missing, f"left out of the distribution: {sorted(missing)}"
    templates = _files(ROOT / "templates", "*.j2")
    assert templates and templates <= _files(site / "djbuild" / "templates", "*.j2")
    assert "init/routes.py.j2" in templates
    for data in ("node/package.json", "node/package-lock.json", "host/host.mjs"):
        assert (site / "djbuild" / data).is_file(), data


def test_the_installed_cli_runs_and_its_init_project_passes_check(
    installed: tuple[Path, Path], tmp_path: Path
) -> None:
    bin_dir, _ = installed
    djbuild = str(bin_dir / "djbuild")
    help_text = subprocess.run([djbuild, "--help"], capture_output=True, text=True, check=True)
    assert "djbuild init NAME" in help_text.stdout
    subprocess.run([djbuild, "init", "probe-worker"], cwd=tmp_path, check=True, capture_output=True)
    check = subprocess.run(
        [djbuild, "check"], cwd=tmp_path / "probe-worker", capture_output=True, text=True
    )
    assert check.returncode == 0, check.stderr
    assert check.stdout.startswith("ok: ")


def test_the_source_tree_is_not_what_the_installed_cli_imports(
    installed: tuple[Path, Path],
) -> None:
    bin_dir, site = installed
    where = subprocess.run(
        [str(bin_dir / "python"), "-c", "import djbuild, runtime; print(djbuild.__file__)"],
        cwd=site.parent,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert Path(where).is_relative_to(site), where


def test_the_worker_bundle_carries_no_test_doubles(tmp_path: Path) -> None:
    out = tmp_path / "dist"
    build_project(ROOT, out, bytecode="off")  # sources, to read
    files = json.loads((out / "manifest.json").read_text())["files"]
    modules = {f["module"] for f in files if f.get("module")}
    assert {"runtime.kv", "runtime.outbound", "runtime.sse"} <= modules  # what the DJ API uses
    assert not {m for m in modules if m.startswith(("runtime.testing", "runtime.platform.local"))}
    for entry in files:
        if entry["path"].startswith("src/runtime/"):
            text = (out / entry["path"]).read_text()
            for double in ("class MemoryKV", "class MemoryStream", "class LocalPlatform"):
                assert double not in text, f"{entry['path']} carries {double}"
