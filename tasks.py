#!/usr/bin/env python3
"""Set up and run the project on a fresh machine that has only Python 3.11+.

    python3 tasks.py dev    build the DJ API and serve it locally (offline, against fakes);
                            prints the web app's URL
    python3 tasks.py test   lint and run every test (installs Debian's chromium for the
                            browser tests when it is missing)

Both create .venv/ on first use and install the project into it: djbuild and its runtime,
editable, with the test tools (Node, npm packages and Pyodide wheels are then installed by
djbuild itself, into its cache, on first use). The DJ API (routes/, dj/, fakes/) is not
installed: djbuild finds it through [tool.djbuild] in pyproject.toml, and the tests import it
from the project root (pytest's pythonpath).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
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


CHROMIUM = Path(os.environ.get("DJ_CHROMIUM", "/usr/bin/chromium"))


def ensure_chromium() -> None:
    """The browser tests drive Debian's chromium; install it (apt) when it is missing."""
    if CHROMIUM.exists():
        return
    apt = shutil.which("apt-get")
    if apt is None:
        sys.exit(
            f"tasks: the browser tests need Chromium at {CHROMIUM}, and apt-get is not available "
            "here: install Chromium with your system's package manager (or set DJ_CHROMIUM to "
            "its path)"
        )
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    print("tasks: installing Debian's chromium for the browser tests (apt-get)", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for step in (["update", "-q"], ["install", "-y", "-q", "chromium"]):
        if subprocess.run([*sudo, apt, *step], env=env).returncode != 0:
            sys.exit(f"tasks: `apt-get {' '.join(step)}` failed; Chromium is needed for tests")
    if not CHROMIUM.exists():
        sys.exit(f"tasks: chromium was installed but {CHROMIUM} is missing; set DJ_CHROMIUM")


READY = re.compile(r"^ready: (http://\S+)")


def serve_dev(args: list[str]) -> int:
    """`djbuild dev --fakes`, its output passed through, and the web app's URL once it is up."""
    proc = subprocess.Popen(
        [str(BIN / "djbuild"), "dev", "--fakes", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        bufsize=1,
    )
    assert proc.stdout is not None

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        for line in proc.stdout:
            print(line, end="", flush=True)
            match = READY.match(line)
            if match:
                print(
                    f"\n  The DJ web app: {match.group(1)}/  (open it in a browser)\n", flush=True
                )
        return proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        return proc.wait()


def main(argv: list[str]) -> int:
    task = argv[0] if argv else "help"
    rest = argv[1:]
    if task == "dev":
        ensure_venv()
        return serve_dev(rest)
    if task == "test":
        ensure_venv()
        ensure_chromium()
        if run(str(BIN / "ruff"), "check", ".") != 0:
            return 1
        return run(str(PY), "-m", "pytest", *rest)
    print(__doc__)
    return 0 if task in ("help", "-h", "--help") else 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
