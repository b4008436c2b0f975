"""Skip a build whose inputs did not change: verify the output against its manifest and reuse it.

A build's inputs are djbuild itself (its code, templates and npm lockfile), the Python that
runs it, pyproject.toml and the wrangler config, every project and runtime module the import
walk reached, the names at the project's top level (a new module could shadow a package),
the installed versions of the vendored distributions and the project's assets. Their hash is
the key of a small record kept in djbuild's cache, one per (project, output folder); `djbuild
check` keeps one per project. A hit costs hashing those files and the output: no app import,
no walk, no rendering.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from . import vendor
from .config import ProjectConfig

VERSION = 1
_DJBUILD = Path(__file__).resolve().parent
_OWN_SUFFIXES = {".py", ".j2", ".json", ".mjs"}


@dataclass
class Record:
    key: str
    inputs: list[str]  # project and runtime module files the walk reached
    requirements: list[str]  # the vendored distributions, pinned
    routes: int
    modules: dict[str, str]  # module name -> origin
    allowed: list[dict[str, Any]]  # the allowed findings, as Finding fields
    bundle_hash: str | None = None
    sizes: dict[str, Any] | None = None  # the report's size rows, computed once
    extra: dict[str, Any] = field(default_factory=dict)


def _record_path(root: Path, out: Path | None) -> Path:
    name = hashlib.sha256(f"{root}\0{out or 'check'}".encode()).hexdigest()[:20]
    return vendor.cache_root() / "builds" / f"{name}.json"


def load(root: Path, out: Path | None) -> Record | None:
    try:
        data = json.loads(_record_path(root, out).read_text())
        if data.pop("version", None) != VERSION:
            return None
        return Record(**data)
    except (OSError, ValueError, TypeError):
        return None


def save(root: Path, out: Path | None, record: Record) -> None:
    path = _record_path(root, out)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"version": VERSION, **asdict(record)}))
        tmp.replace(path)
    except OSError:
        pass  # a record that cannot be written only costs a full build next time


def forget(root: Path, out: Path | None) -> None:
    try:
        _record_path(root, out).unlink()
    except OSError:
        pass


def _own_files() -> list[Path]:
    from .render import TEMPLATES  # installed: djbuild/templates; in the source tree: templates/

    folders = [_DJBUILD] if TEMPLATES.is_relative_to(_DJBUILD) else [_DJBUILD, TEMPLATES]
    return sorted(
        p
        for folder in folders
        for p in folder.rglob("*")
        if p.suffix in _OWN_SUFFIXES and "__pycache__" not in p.parts and p.is_file()
    )


def _project_tops(root: Path) -> list[str]:
    return sorted(
        p.name
        for p in root.iterdir()
        if p.suffix == ".py" or (p.is_dir() and (p / "__init__.py").exists())
    )


def _asset_files(cfg: ProjectConfig) -> list[Path]:
    source = cfg.wrangler.get("assets", {}).get("directory")
    if not source:
        return []
    folder = (cfg.wrangler_path.parent / source).resolve()
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []


def inputs_key(cfg: ProjectConfig, inputs: list[str], requirements: list[str]) -> str | None:
    """The hash of everything a build of `cfg` reads; None when an input is gone."""
    digest = hashlib.sha256(f"{VERSION}\0{sys.version}\0{cfg.app}\0{cfg.bytecode}\0".encode())

    def add(label: str, path: Path) -> None:
        data = path.read_bytes()
        digest.update(f"{label}\0{len(data)}\0".encode())
        digest.update(data)

    try:
        for path in _own_files():
            add(path.relative_to(_DJBUILD.parent).as_posix(), path)
        pyproject = cfg.root / "pyproject.toml"
        if pyproject.exists():
            add("pyproject", pyproject)
        add("wrangler", cfg.wrangler_path)
        digest.update("\0".join(_project_tops(cfg.root)).encode())
        for name in inputs:
            add(name, Path(name))
        for path in _asset_files(cfg):
            add(f"asset:{path}", path)
        for req in requirements:
            dist = req.split("==", 1)[0]
            digest.update(f"{req}\0{_installed_version(dist)}\0".encode())
    except OSError:
        return None
    return digest.hexdigest()


def _installed_version(dist: str) -> str | None:
    """The version of `dist` installed for the build, from its `.dist-info` folder name: what
    importlib.metadata finds, without importing it (a hit must stay cheap)."""
    wanted = dist.lower().replace("-", "_").replace(".", "_")
    for entry in sys.path:
        folder = Path(entry or ".")
        if not folder.is_dir():
            continue
        for info in folder.glob("*.dist-info"):
            name, _, version = info.name.removesuffix(".dist-info").partition("-")
            if name.lower().replace("-", "_").replace(".", "_") == wanted:
                return version
    return None


def changed_since(inputs: list[str], started_ns: int) -> bool:
    """Whether an input was saved after the build began reading (then it may be stale)."""
    for name in inputs:
        try:
            if os.stat(name).st_mtime_ns >= started_ns:
                return True
        except OSError:
            return True
    return False


def verify_output(out: Path, bundle_hash: str) -> dict[str, Any] | None:
    """The manifest of `out` if every file in it is there, unchanged, and nothing else is."""
    try:
        manifest = json.loads((out / "manifest.json").read_text())
    except (OSError, ValueError):
        return None
    if manifest.get("bundleHash") != bundle_hash:
        return None
    listed = {f["path"]: f for f in manifest["files"]}
    on_disk = {
        p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file() or p.is_symlink()
    }
    if on_disk != set(listed) | {"manifest.json"}:
        return None
    for rel, entry in listed.items():
        try:
            data = (out / rel).read_bytes()
        except OSError:
            return None
        if len(data) != entry["bytes"] or hashlib.sha256(data).hexdigest() != entry["sha256"]:
            return None
    return manifest
