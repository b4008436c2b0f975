"""The startup budget: the worker's top level timed in CPU ms on the host, as workerd times it.

The test app spins a busy loop of a known size at import, so it is slow by construction; the
budgets are set far below (or far above) what any import costs, never near our own speed.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from djbuild.build import build_project
from djbuild.cli import main
from djbuild.dev import DevServer
from djbuild.host import StartupReport, check_startup, startup_budget

ROOT = Path(__file__).resolve().parents[2]
SLOW_APP = "tests.apps.slow_start_app:app"
SLOW_MODULE = "tests.apps.slow_start_app"


@pytest.fixture(scope="module")
def slow_dist(tmp_path_factory: pytest.TempPathFactory, node_ready: None) -> Path:
    out = tmp_path_factory.mktemp("slow") / "dist"
    build_project(ROOT, out, app=SLOW_APP)
    return out


def test_build_check_startup_fails_over_budget_with_the_production_message(
    tmp_path: Path, node_ready: None
) -> None:
    result = CliRunner().invoke(
        main,
        [
            "build",
            "--root",
            str(ROOT),
            "--app",
            SLOW_APP,
            "--out",
            str(tmp_path / "dist"),
            "--check-startup",
            "--startup-budget-ms",
            "50",
        ],
    )
    assert result.exit_code == 1, result.output
    assert "error: Python Worker startup exceeded CPU limit " in result.stderr
    assert "<=50 (measured on the local host)" in result.stderr
    assert "error 10021" in result.stderr
    table = result.stderr.split("Top modules by import CPU time:\n", 1)[1].splitlines()
    assert table[0].split() == ["module", "self", "ms", "cumulative", "ms"]
    assert table[1].split()[0] == SLOW_MODULE  # the busy loop has the largest self time


def test_check_startup_passes_under_a_generous_budget(slow_dist: Path) -> None:
    report = check_startup(slow_dist, budget_ms=600_000)
    assert not report.over and report.budget_ms == 600_000
    names = [name for name, _, _ in report.top]
    assert names[0] == SLOW_MODULE
    cumulative, own = report.top[0][1], report.top[0][2]
    assert 0 < own <= cumulative <= report.import_cpu_ms + 1


def test_dev_warns_over_budget_and_lists_the_top_modules(
    slow_dist: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def build(root: Path, out: Path) -> object:
        return build_project(root, out, app=SLOW_APP)

    server = DevServer(
        ROOT,
        tmp_path / "dist",
        build=build,
        port=0,
        echo=False,
        persist_to=tmp_path / "state",
        host_options={"startup_budget_ms": 50, "plan": "paid"},
    )
    try:
        server.start()
        assert server.local is not None and server.local.startup is not None
        assert server.local.startup.over
    finally:
        server.stop()
    err = capsys.readouterr().err
    assert "warning: Python Worker startup exceeded CPU limit" in err and "<=50" in err
    assert SLOW_MODULE in err.split("Top modules by import CPU time:", 1)[1]


def test_budget_comes_from_the_option_then_pyproject_then_1000(tmp_path: Path) -> None:
    assert startup_budget(tmp_path) == 1000
    (tmp_path / "pyproject.toml").write_text("[tool.djbuild]\nstartup_budget_ms = 750\n")
    assert startup_budget(tmp_path) == 750
    assert startup_budget(tmp_path, 200) == 200


def test_startup_report_words_the_failure_as_workerd_does() -> None:
    report = StartupReport(import_cpu_ms=1721.4, budget_ms=1000, over=True)
    assert report.production_message().startswith(
        "Python Worker startup exceeded CPU limit 1721<=1000"
    )
