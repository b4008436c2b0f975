"""Third-party packages for Pyodide, installed once per requirement set and reused.

pip installs wheels for the Workers Python platform (Pyodide 314, Python 3.14) into a cache
folder keyed by the requirements, so a warm build copies files and asks no registry.
pyodide-build's `pyodide venv` would do the same through a cross-build environment that is
downloaded from outside the package registries, so plain pip with platform tags replaces it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

PLATFORM = "pyemscripten_2026_0_wasm32"
PYTHON_VERSION = "3.14"
ABI = "cp314"


class VendorError(RuntimeError):
    pass


def cache_root() -> Path:
    base = os.environ.get("DJBUILD_CACHE")
    return Path(base) if base else Path.home() / ".cache" / "djbuild"


def requirements_for(top_level_names: set[str]) -> list[str]:
    """Pin each imported top-level name to the distribution installed for the build."""
    owners = installed_owners(top_level_names)
    missing = sorted(top_level_names - owners.keys())
    if missing:
        raise VendorError(
            "imported by the app but not installed for the build: "
            + ", ".join(missing)
            + " (add them to the project's dependencies and install them)"
        )
    return sorted({f"{dist}=={version}" for dist, version in owners.values()})


def installed_owners(names: set[str]) -> dict[str, tuple[str, str]]:
    """Top-level name -> (distribution, version) of the installed distribution providing it,
    the first on sys.path: what importlib.metadata's packages_distributions() and version()
    give, read straight from the `.dist-info` folders (several times faster)."""
    found: dict[str, tuple[str, str]] = {}
    for entry in sys.path:
        if len(found) == len(names):
            break
        folder = entry or "."
        try:
            listing = sorted(n for n in os.listdir(folder) if n.endswith(".dist-info"))
        except OSError:
            continue
        for info in listing:
            wanted = (names - found.keys()) & _provides(os.path.join(folder, info))
            if not wanted:
                continue
            try:
                with open(os.path.join(folder, info, "METADATA"), encoding="utf-8") as f:
                    meta = f.read()
            except OSError:
                continue
            dist = _header(meta, "Name") or info.split("-")[0]
            version = _header(meta, "Version") or info.removesuffix(".dist-info").split("-")[-1]
            for name in wanted:
                found[name] = (dist, version)
    return found


def _provides(info: str) -> set[str]:
    """The top-level names a distribution installs: top_level.txt, else its RECORD."""
    try:
        with open(os.path.join(info, "top_level.txt"), encoding="utf-8") as f:
            tops = {line.strip() for line in f if line.strip()}
        if tops:
            return tops
    except OSError:
        pass
    tops = set()
    try:
        with open(os.path.join(info, "RECORD"), encoding="utf-8") as f:
            for line in f:
                first = line.split(",", 1)[0]
                top = first.split("/", 1)[0]
                if "/" not in first and not first.endswith(".py"):
                    continue  # a file beside the packages (.pth, a script), not a module
                if top.endswith(".dist-info") or top in ("..", "") or top == "__pycache__":
                    continue
                tops.add(top.removesuffix(".py"))
    except OSError:
        pass
    return tops


@dataclass(frozen=True)
class VendorSet:
    path: Path
    requirements: tuple[str, ...]
    cached: bool  # True when nothing had to be installed

    def distributions(self) -> dict[str, tuple[str, str]]:
        """Top-level module or package name -> (distribution, version)."""
        return {top: (name, version) for top, (name, version, _) in self._owners().items()}

    def info_dirs(self) -> dict[str, Path]:
        """Top-level module or package name -> the `*.dist-info` folder of its distribution."""
        return {top: info for top, (_, _, info) in self._owners().items()}

    def _owners(self) -> dict[str, tuple[str, str, Path]]:
        owners: dict[str, tuple[str, str, Path]] = {}
        for info in sorted(self.path.glob("*.dist-info")):
            meta = (info / "METADATA").read_text(encoding="utf-8", errors="replace")
            name = _header(meta, "Name") or info.name.split("-")[0]
            version = _header(meta, "Version") or "?"
            record = info / "RECORD"
            if not record.exists():
                continue
            for line in record.read_text(encoding="utf-8").splitlines():
                first = line.split(",", 1)[0]
                top = first.split("/", 1)[0]
                if top.endswith(".dist-info") or top in ("..", "") or top.startswith("__pycache__"):
                    continue
                owners.setdefault(top.removesuffix(".py"), (name, version, info))
        return owners


def _header(meta: str, key: str) -> str | None:
    for line in meta.splitlines():
        if line.startswith(key + ":"):
            return line.split(":", 1)[1].strip()
        if not line.strip():
            break
    return None


def ensure(requirements: list[str], *, quiet: bool = True) -> VendorSet:
    """The folder holding `requirements` built for Pyodide, installing it on first use."""
    key = hashlib.sha256(
        json.dumps({"reqs": sorted(requirements), "platform": PLATFORM, "abi": ABI}).encode()
    ).hexdigest()[:16]
    target = cache_root() / "vendor" / key
    done = target / ".djbuild-complete"
    if done.exists():
        return VendorSet(target, tuple(requirements), cached=True)
    if not requirements:
        target.mkdir(parents=True, exist_ok=True)
        done.write_text("")
        return VendorSet(target, (), cached=True)
    staging = target.with_name(key + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    print(f"djbuild: vendoring for Pyodide ({PLATFORM}): {' '.join(requirements)}", file=sys.stderr)
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--no-compile",
        "--upgrade",
        "--disable-pip-version-check",
        "--target",
        str(staging),
        "--platform",
        PLATFORM,
        "--python-version",
        PYTHON_VERSION,
        "--implementation",
        "cp",
        "--abi",
        ABI,
        "--only-binary=:all:",
        *requirements,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        tail = "\n".join(proc.stderr.strip().splitlines()[-8:])
        raise VendorError(
            f"pip could not install {' '.join(requirements)} for {PLATFORM}:\n{tail}\n"
            "Each package needs a wheel for that platform or a pure-Python wheel on PyPI."
        )
    for cache in staging.rglob("__pycache__"):
        shutil.rmtree(cache, ignore_errors=True)
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    done.write_text("\n".join(requirements) + "\n")
    return VendorSet(target, tuple(requirements), cached=False)
