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
    ("source", "target"),
    [
        ("import subprocess\n", "subprocess"),
        ("import http.client\n", "http.client"),
        ("from concurrent.futures import ThreadPoolExecutor\n", "concurrent.futures"),
        ("from urllib import request\n", "urllib.request"),
        ("from asyncio import subprocess\n", "asyncio.subprocess"),
        ("import importlib\nmod = importlib.import_module('socket')\n", "socket"),
        ("sock = __import__('ssl')\n", "ssl"),
        ("def later():\n    import threading\n    return threading\n", "threading"),
        ("try:\n    import termios\nexcept ImportError:\n    termios = None\n", "termios"),
        ("import sys\nif sys.platform == 'x':\n    import pwd\n", "pwd"),
    ],
)
def test_each_import_form_of_a_forbidden_module_is_caught_with_its_chain(
    make_project: Project, source: str, target: str
) -> None:
    root = make_project({"webapp/helper.py": source}, app_imports="from . import helper\n")
    [finding] = _findings(root)
    assert f"imports forbidden module '{target}'" in finding
    assert "webapp/helper.py:" in finding
    assert "chain: entry:" in finding and "webapp.main:" in finding and "webapp.helper:" in finding
    assert "instead:" in finding


def test_finding_names_line_and_column(make_project: Project) -> None:
    root = make_project(
        {"webapp/helper.py": "x = 1\n\nif x:\n    import socket\n"},
        app_imports="from . import helper\n",
    )
    [finding] = _findings(root)
    assert finding.startswith("webapp/helper.py:4:5:")


def test_relative_import_resolving_to_a_forbidden_module_is_caught(make_project: Project) -> None:
    # webapp/asyncio_tools/__init__.py does `from ...` nothing special; the relative import
    # `from .sub import x` inside a package named like the stdlib must resolve to the package.
    root = make_project(
        {
            "webapp/tools/__init__.py": "from .net import fetch\n",
            "webapp/tools/net.py": "from http import client as fetch\n",
        },
        app_imports="from .tools import fetch\n",
    )
    [finding] = _findings(root)
    assert "'http.client'" in finding
    assert "webapp.tools.net:" in finding


def test_import_only_under_type_checking_is_not_a_finding(make_project: Project) -> None:
    root = make_project(
        {
            "webapp/helper.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import socket\n"
        },
        app_imports="from . import helper\n",
    )
    result = build_project(root, write=False)
    assert result.closure.errors == []


def test_module_not_reached_from_the_entry_is_not_checked(make_project: Project) -> None:
    root = make_project({"webapp/unused.py": "import subprocess\n"})
    result = build_project(root, write=False)
    assert "webapp.unused" not in result.closure.modules


def test_allow_list_in_pyproject_permits_a_justified_import(make_project: Project) -> None:
    extra = """
    [[tool.djbuild.allow]]
    module = "webapp.helper"
    imports = ["threading"]
    reason = "only threading.Lock, which works on Pyodide"
    """
    root = make_project(
        {"webapp/helper.py": "import threading\nLOCK = threading.Lock()\n"},
        app_imports="from . import helper\n",
        pyproject_extra=extra,
    )
    result = build_project(root, write=False)
    assert result.closure.errors == []
    [allowed] = [f for f in result.allowed if f.module == "webapp.helper"]
    assert allowed.allowed_by == "only threading.Lock, which works on Pyodide"


def test_allow_list_entry_does_not_cover_other_modules(make_project: Project) -> None:
    extra = """
    [[tool.djbuild.allow]]
    module = "webapp.helper"
    imports = ["threading"]
    reason = "ok"
    """
    root = make_project(
        {"webapp/helper.py": "import threading\n", "webapp/other.py": "import threading\n"},
        app_imports="from . import helper, other\n",
        pyproject_extra=extra,
    )
    [finding] = _findings(root)
    assert "webapp/other.py" in finding


@pytest.mark.parametrize(
    ("source", "kind_text"),
    [
        ("import random\nSEED = random.random()\n", "calls random.random() while the module loads"),
        ("import uuid\nID = uuid.uuid4()\n", "calls uuid.uuid4() while the module loads"),
        ("from os import urandom\nKEY = urandom(8)\n", "calls os.urandom() while the module loads"),
        (
            "import secrets as s\nTOKEN = s.token_hex(4)\n",
            "calls secrets.token_hex() while the module loads",
        ),
        (
            "import random\ndef f(x=random.random()):\n    return x\n",
            "calls random.random() while the module loads",
        ),
        (
            "import asyncio\nLOOP = asyncio.new_event_loop()\nLOOP.call_later(1, print)\n",
            "calls LOOP.call_later() while the module loads",
        ),
        ("import time\ndef handler():\n    time.sleep(1)\n", "calls time.sleep()"),
    ],
)
def test_import_time_entropy_timers_and_blocking_sleep_are_flagged(
    make_project: Project, source: str, kind_text: str
) -> None:
    root = make_project({"webapp/helper.py": source}, app_imports="from . import helper\n")
    [finding] = _findings(root)
    assert kind_text in finding


def test_entropy_inside_a_function_body_is_fine(make_project: Project) -> None:
    root = make_project(
        {
            "webapp/helper.py": "import random\nimport uuid\ndef make():\n    return uuid.uuid4(), random.random()\n"
        },
        app_imports="from . import helper\n",
    )
    assert build_project(root, write=False).closure.errors == []


def test_vendored_package_findings_are_reported_as_vendored(make_project: Project) -> None:
    # pydantic.main imports threading: allowed by djbuild's built-in list, and marked vendored
    root = make_project(app_imports="import pydantic\n")
    result = build_project(root, write=False)
    vendored = [f for f in result.allowed if f.module == "pydantic.main"]
    assert vendored and vendored[0].vendored
    assert vendored[0].target == "threading"
    assert "webapp.main" in [m for m, _ in vendored[0].chain]


def test_unknown_third_party_import_fails_with_advice(make_project: Project) -> None:
    root = make_project(app_imports="import surely_not_installed_pkg\n")
    with pytest.raises(BuildError) as err:
        build_project(root, write=False)
    assert "could not import the app module" in err.value.summary
    assert "surely_not_installed_pkg" in "\n".join(err.value.details)
