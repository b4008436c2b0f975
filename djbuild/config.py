"""The project's build settings: `[tool.djbuild]` in pyproject.toml and the wrangler config."""

from __future__ import annotations

import os
import shlex
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .analysis.rules import BUILTIN_ALLOWANCES, Allowance


class ConfigError(ValueError):
    pass


@dataclass
class DevSettings:
    """`[tool.djbuild.dev]`: what `djbuild dev` watches and which local services it starts."""

    watch: list[Path]  # files and folders, absolute
    services: str | None = None  # "module:function", see djbuild.services


@dataclass
class AssetSettings:
    """`[tool.djbuild.assets]`: a front-end build step and the folder ASSETS serves."""

    build: list[str] | None = None  # the command `djbuild build` runs first, in the root
    dir: Path | None = None  # absolute; overrides wrangler.toml's [assets] directory


# "project": the project's modules ship as Python 3.14 bytecode instead of sources (djbuild.bytecode);
# "all": the vendored packages' modules too.
BYTECODE_MODES = ("off", "project", "all")


@dataclass
class ProjectConfig:
    root: Path
    app: str  # "module:attribute"
    wrangler_path: Path
    wrangler: dict[str, Any]
    allow: list[Allowance] = field(default_factory=list)
    max_body_bytes: int | None = None
    dev: DevSettings = field(default_factory=lambda: DevSettings([]))
    assets: AssetSettings = field(default_factory=AssetSettings)
    include: list[str] = field(default_factory=list)  # modules reached only dynamically
    bytecode: str = "off"  # which modules ship as bytecode: "off", "project" or "all"

    @property
    def app_module(self) -> str:
        return self.app.split(":", 1)[0]

    @property
    def app_attr(self) -> str:
        return self.app.split(":", 1)[1] if ":" in self.app else "app"


def load(root: Path, *, app: str | None = None, wrangler: Path | None = None) -> ProjectConfig:
    root = root.resolve()
    pyproject = root / "pyproject.toml"
    settings: dict[str, Any] = {}
    if pyproject.exists():
        settings = tomllib.loads(pyproject.read_text()).get("tool", {}).get("djbuild", {})
    app_ref = app or settings.get("app")
    if not app_ref:
        raise ConfigError(
            "no app given: set [tool.djbuild] app = 'package.module:app' or pass --app"
        )
    wrangler_path = (wrangler or root / settings.get("wrangler", "wrangler.toml")).resolve()
    if not wrangler_path.exists():
        raise ConfigError(
            f"wrangler config not found: {wrangler_path.name} (expected in {root.name}/)"
        )
    try:
        wrangler_cfg = tomllib.loads(wrangler_path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{wrangler_path.name}: {exc}") from None
    allow = list(BUILTIN_ALLOWANCES)
    for i, entry in enumerate(settings.get("allow", [])):
        try:
            allow.append(Allowance(entry["module"], tuple(entry["imports"]), entry["reason"]))
        except (KeyError, TypeError):
            raise ConfigError(
                f"[[tool.djbuild.allow]] entry {i + 1} needs module, imports (a list) and reason"
            ) from None
    include = settings.get("include", [])
    if not isinstance(include, list) or not all(isinstance(i, str) and i for i in include):
        raise ConfigError(
            "[tool.djbuild] include must be a list of module names, e.g. ['pkg.mod', 'pkg.sub.*']"
        )
    bytecode = settings.get("bytecode", "off")
    if bytecode not in BYTECODE_MODES:
        raise ConfigError(
            f"[tool.djbuild] bytecode must be one of {', '.join(map(repr, BYTECODE_MODES))}"
        )
    cfg = ProjectConfig(
        root, app_ref, wrangler_path, wrangler_cfg, allow, include=include, bytecode=bytecode
    )
    cfg.dev = _dev_settings(root, settings.get("dev", {}), app_ref, wrangler_path)
    cfg.assets = _asset_settings(root, settings.get("assets", {}))
    if cfg.assets.dir is not None:
        _point_assets_at(cfg.wrangler, cfg.assets.dir, wrangler_path.parent)
    return cfg


def _table(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"[tool.djbuild.{name}] must be a table")
    return value


def _dev_settings(root: Path, raw: Any, app_ref: str, wrangler_path: Path) -> DevSettings:
    """Watch what is configured; by default the app's top-level package, the wrangler config
    and pyproject.toml."""
    raw = _table(raw, "dev")
    watch = raw.get("watch")
    if watch is None:
        top = app_ref.split(":", 1)[0].split(".")[0]
        package = root / top
        names = [package if package.is_dir() else root / f"{top}.py", wrangler_path]
        paths = [*names, root / "pyproject.toml"]
    elif isinstance(watch, list) and all(isinstance(w, str) for w in watch):
        paths = [(root / w).resolve() for w in watch]
    else:
        raise ConfigError("[tool.djbuild.dev] watch must be a list of paths (files or folders)")
    services = raw.get("services")
    if services is not None and (not isinstance(services, str) or ":" not in services):
        raise ConfigError(
            "[tool.djbuild.dev] services must be 'module:function' (see README, local services)"
        )
    return DevSettings(paths, services)


def _asset_settings(root: Path, raw: Any) -> AssetSettings:
    raw = _table(raw, "assets")
    build = raw.get("build")
    command: list[str] | None = None
    if isinstance(build, str) and build.strip():
        command = shlex.split(build)
    elif isinstance(build, list) and build and all(isinstance(a, str) for a in build):
        command = list(build)
    elif build is not None:
        raise ConfigError(
            "[tool.djbuild.assets] build must be a command (a string, or a list of arguments)"
        )
    folder = raw.get("dir")
    if folder is not None and not isinstance(folder, str):
        raise ConfigError("[tool.djbuild.assets] dir must be a folder path")
    return AssetSettings(command, (root / folder).resolve() if folder else None)


def _point_assets_at(wrangler: dict[str, Any], folder: Path, wrangler_dir: Path) -> None:
    """The configured assets folder becomes the ASSETS binding's directory (relative to the
    wrangler config, as wrangler reads it); a config without [assets] gets one."""
    assets = wrangler.setdefault("assets", {})
    if not isinstance(assets, dict):
        raise ConfigError("wrangler config: [assets] must be a table")
    assets["directory"] = Path(os.path.relpath(folder, wrangler_dir)).as_posix()
    assets.setdefault("binding", "ASSETS")
