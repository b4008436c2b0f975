"""The project's build settings: `[tool.djbuild]` in pyproject.toml and the wrangler config."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .analysis.rules import BUILTIN_ALLOWANCES, Allowance


class ConfigError(ValueError):
    pass


@dataclass
class ProjectConfig:
    root: Path
    app: str  # "module:attribute"
    wrangler_path: Path
    wrangler: dict[str, Any]
    allow: list[Allowance] = field(default_factory=list)
    max_body_bytes: int | None = None
    include: list[str] = field(default_factory=list)  # modules reached only dynamically

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
    return ProjectConfig(root, app_ref, wrangler_path, wrangler_cfg, allow, include=include)
