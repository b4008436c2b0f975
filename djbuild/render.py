"""Rendering what the build writes from the jinja templates in `templates/`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jinja2

from . import tomlwriter

_HERE = Path(__file__).resolve().parent
# Installed, templates/ ships inside the package (djbuild/templates); in the source tree it is
# the project root's templates/.
TEMPLATES = _HERE / "templates" if (_HERE / "templates").is_dir() else _HERE.parent / "templates"

# A date on or after 2026-09-08 selects Python 3.14 (Pyodide 314) on Workers.
PY314_DATE = "2026-09-08"


def _env(strict: bool = True) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(["html", "html.j2"]),
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined if strict else jinja2.Undefined,
    )


def entry_module(app_ref: str, app_module: str, app_attr: str) -> str:
    return (
        _env()
        .get_template("entry.py.j2")
        .render(app_ref=app_ref, app_module=app_module, app_attr=app_attr)
    )


def docs_html(doc: dict[str, Any], spec_url: str, base: str) -> str:
    """The docs page: Swagger UI (files under `base`) over the document at `spec_url`, with
    every operation also listed for readers without JavaScript."""
    # OpenAPI objects have many optional keys: a missing one renders as nothing.
    return (
        _env(strict=False)
        .get_template("docs.html.j2")
        .render(info=doc["info"], paths=doc["paths"], spec_url=spec_url, base=base)
    )


def docs_js() -> str:
    return _env().get_template("docs.js.j2").render()


class WranglerConfigError(ValueError):
    pass


def wrangler_config(
    source: dict[str, Any], main: str, assets_dir: str, source_name: str, *, bytecode: str = "off"
) -> str:
    """dist/wrangler.toml: main into src/, Python 3.14 selected, assets from the build's own
    assets folder (the project's files and the generated docs); with bytecode, `*.pyc` files
    uploaded as data modules (see djbuild.bytecode)."""
    cfg = json.loads(json.dumps(source))  # deep copy
    cfg.pop("build", None)  # the build already happened; wrangler must not run one
    cfg["main"] = main
    flags = list(cfg.get("compatibility_flags", []))
    if "python_workers" not in flags:
        flags.insert(0, "python_workers")
    cfg["compatibility_flags"] = flags
    date = cfg.get("compatibility_date")
    if not date:
        raise WranglerConfigError(f"{source_name}: compatibility_date is required")
    if str(date) < PY314_DATE and "python_workers_314" not in flags:
        raise WranglerConfigError(
            f"{source_name}: compatibility_date {date} selects Python 3.13 on Workers; "
            f"use {PY314_DATE} or later (or add the python_workers_314 flag)"
        )
    cfg["compatibility_date"] = str(date)
    # the build merges the project's assets and the generated ones into its own folder
    assets = cfg.get("assets")
    assets = dict(assets) if isinstance(assets, dict) else {}
    assets["directory"] = assets_dir
    assets.setdefault("binding", "ASSETS")
    cfg["assets"] = assets
    if bytecode != "off":
        rules = [r for r in cfg.get("rules", []) if isinstance(r, dict)]
        rules.insert(0, {"type": "Data", "globs": ["**/*.pyc"], "fallthrough": False})
        cfg["rules"] = rules
    if bytecode == "all":  # wrangler leaves python_modules' *.pyc out unless told otherwise
        cfg["python_modules"] = {"exclude": []}
    ordered = {
        k: cfg[k] for k in ("name", "main", "compatibility_date", "compatibility_flags") if k in cfg
    }
    ordered.update({k: v for k, v in cfg.items() if k not in ordered})
    return (
        _env()
        .get_template("wrangler.toml.j2")
        .render(source=source_name, body=tomlwriter.dumps(ordered))
    )
