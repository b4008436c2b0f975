#!/usr/bin/env python3
"""Set up and run the project on a fresh machine that has only Python 3.11+.

    python3 tasks.py dev    build the DJ API and serve it locally (offline, against fakes)
    python3 tasks.py test   lint and run every test

Both create .venv/ on first use and install the project into it: djbuild and its runtime,
editable, with the test tools (Node, npm packages and Pyodide wheels are then installed by
djbuild itself, into its cache, on first use). The DJ API (routes/, dj/, fakes/) is not
installed: djbuild finds it through [tool.djbuild] in pyproject.toml, and the tests import it
from the project root (pytest's pythonpath).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"


def _stamp() -> str:
    return hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()


def ensure_venv() -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - this file runs on whatever python3 is first
        sys.exit("Python 3.11 or newer is needed")
    if not PY.exists():
        print("tasks: creating .venv", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    marker = VENV / ".installed"
    if marker.exists() and marker.read_text() == _stamp():
        return
    print("tasks: installing the project and its test tools into .venv", flush=True)
    subprocess.run(
        [str(PY), "-m", "pip", "install", "--disable-pip-version-check", "-q", "-e", ".[test]"],
        cwd=ROOT,
        check=True,
    )
    marker.write_text(_stamp())


def run(*args: str) -> int:
    return subprocess.run(list(args), cwd=ROOT).returncode


def main(argv: list[str]) -> int:
    task = argv[0] if argv else "help"
    rest = argv[1:]
    if task == "dev":
        ensure_venv()
        return run(str(BIN / "djbuild"), "dev", "--fakes", *rest)
    if task == "test":
        ensure_venv()
        if run(str(BIN / "ruff"), "check", ".") != 0:
            return 1
        return run(str(PY), "-m", "pytest", *rest)
    print(__doc__)
    return 0 if task in ("help", "-h", "--help") else 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
