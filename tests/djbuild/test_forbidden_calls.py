"""Calls that cannot work on Workers although their module imports fine (os.system, signals...)."""

from __future__ import annotations

from pathlib import Path

import pytest

from djbuild.build import BuildError, build_project
from tests.djbuild.conftest import Project


def _findings(root: Path) -> list[str]:
    with pytest.raises(BuildError) as err:
        build_project(root, write=False)
    return err.value.details


@pytest.mark.parametrize(
    ("source", "target", "line"),
    [
        ("import os\nos.system('ls')\n", "os.system", 2),
        ("import os as o\n\ndef f():\n    return o.popen('ls').read()\n", "os.popen", 4),
        ("from os import fork\n\ndef f():\n    return fork()\n", "os.fork", 4),
        ("import os\n\ndef f():\n    os.execvp('ls', ['ls'])\n", "os.execvp", 4),
        ("from os import execv as replace\n\ndef f():\n    replace('x', [])\n", "os.execv", 4),
        ("import os\n\ndef f():\n    os.spawnlp(os.P_WAIT, 'ls')\n", "os.spawnlp", 4),
        ("import os\n\ndef f():\n    os.posix_spawnp('ls', ['ls'], {})\n", "os.posix_spawnp", 4),
        ("import os\n\ndef f():\n    os.waitpid(1, 0)\n", "os.waitpid", 4),
        ("import os\n\ndef f():\n    os.kill(1, 9)\n", "os.kill", 4),
        ("import os\nRUN = os.system\n", "os.system", 2),
        ("import os\nRUN = getattr(os, 'system')\n", "os.system", 2),
        (
            "import asyncio\n\nasync def f():\n    await asyncio.create_subprocess_exec('ls')\n",
            "asyncio.create_subprocess_exec",
            4,
        ),
        (
            "import asyncio\n\ndef f():\n    asyncio.get_running_loop().add_signal_handler(2, print)\n",
            "<object>.add_signal_handler",
            4,
        ),
        (
            "import _thread\n\ndef f():\n    _thread.start_new_thread(print, ())\n",
            "_thread.start_new_thread",
            4,
        ),
    ],
)
def test_each_forbidden_call_is_a_finding_with_its_chain(
    make_project: Project, source: str, target: str, line: int
) -> None:
    root = make_project({"webapp/helper.py": source}, app_imports="from . import helper\n")
    [finding] = _findings(root)
    assert f"uses '{target}', which cannot work on Workers" in finding
    assert finding.startswith(f"webapp/helper.py:{line}:")
    assert "chain: entry:" in finding and "webapp.main:" in finding
    assert f"webapp.helper:{line}" in finding
    assert "instead:" in finding


@pytest.mark.parametrize(
    "source",
    [
        "import signal\n\ndef f():\n    signal.signal(signal.SIGTERM, print)\n",
        "from signal import alarm\n\ndef f():\n    alarm(3)\n",
        "import signal as s\n\ndef f():\n    s.setitimer(s.ITIMER_REAL, 1.0)\n",
    ],
)
def test_signal_handlers_and_timers_are_findings_even_when_the_import_is_allowed(
    make_project: Project, source: str
) -> None:
    extra = """
    [[tool.djbuild.allow]]
    module = "webapp.helper"
    imports = ["signal"]
    reason = "reads signal.Signals names only"
    """
    root = make_project(
        {"webapp/helper.py": source}, app_imports="from . import helper\n", pyproject_extra=extra
    )
    [finding] = _findings(root)
    assert "uses 'signal." in finding
    assert "no signals on Workers" in finding


def test_a_forbidden_call_can_be_allowed_by_name(make_project: Project) -> None:
    extra = """
    [[tool.djbuild.allow]]
    module = "webapp.*"
    imports = ["os.system"]
    reason = "only in the local CLI path, never reached in a Worker"
    """
    root = make_project(
        {"webapp/helper.py": "import os\n\ndef f():\n    os.system('ls')\n"},
        app_imports="from . import helper\n",
        pyproject_extra=extra,
    )
    result = build_project(root, write=False)
    assert result.closure.errors == []
    [allowed] = [f for f in result.allowed if f.kind == "forbidden-call"]
    assert allowed.target == "os.system"
    assert allowed.allowed_by == "only in the local CLI path, never reached in a Worker"


def test_allowing_one_call_does_not_allow_its_neighbours(make_project: Project) -> None:
    extra = """
    [[tool.djbuild.allow]]
    module = "webapp.helper"
    imports = ["os.system"]
    reason = "ok"
    """
    root = make_project(
        {"webapp/helper.py": "import os\n\ndef f():\n    os.system('a')\n    os.popen('b')\n"},
        app_imports="from . import helper\n",
        pyproject_extra=extra,
    )
    [finding] = _findings(root)
    assert "'os.popen'" in finding


def test_harmless_os_functions_and_lookalike_names_are_not_findings(
    make_project: Project,
) -> None:
    source = (
        "import os\n"
        "from os import path\n\n"
        "def system(x):\n    return x\n\n"
        "def f(loop):\n"
        "    os.getenv('X'), os.path.join('a', 'b'), path.exists('a'), system(1)\n"
        "    return os.execution if hasattr(os, 'execution') else None\n"
    )
    root = make_project({"webapp/helper.py": source}, app_imports="from . import helper\n")
    result = build_project(root, write=False)
    assert [f.describe() for f in result.closure.errors] == []
