"""One build: load the app, check it, follow its imports, vendor, render, write dist/.

Every step is deterministic (sorted walks, no timestamps in outputs), so two builds from
the same inputs give a byte-identical dist/ and the same bundle hash.
"""

from __future__ import annotations

import importlib
import json
import shutil
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import config as config_mod
from . import render, vendor
from .analysis.cache import ScanCache
from .analysis.graph import Closure, Finding, Resolver, walk
from .checks import RouteProblem, check_routes
from .manifest import FileEntry, Manifest, origin_of
from .openapi import build_document, validate_document

GENERATED_MODULE = "djbuild_generated"
ENTRY = "entry"
# Files a vendored package ships that the Worker never reads.
_SKIP_SUFFIXES = {".pyi", ".pyc", ".c", ".h", ".pxd", ".pyx"}


class BuildError(Exception):
    """A build that must not produce dist/; `details` lists every reason."""

    def __init__(self, summary: str, details: list[str] | None = None) -> None:
        super().__init__(summary)
        self.summary = summary
        self.details = details or []


@dataclass
class BuildResult:
    out_dir: Path | None
    manifest: Manifest | None
    closure: Closure
    findings: list[Finding]
    allowed: list[Finding]
    openapi: dict[str, Any]
    vendor_cached: bool
    seconds: float
    routes: int
    timings: dict[str, float] = field(default_factory=dict)


def load_app(cfg: config_mod.ProjectConfig) -> Any:
    root = str(cfg.root)
    if root not in sys.path:
        sys.path.insert(0, root)
    try:
        module = importlib.import_module(cfg.app_module)
    except Exception as exc:
        raise BuildError(
            f"could not import the app module {cfg.app_module!r}",
            ["".join(traceback.format_exception(exc)).rstrip()],
        ) from None
    try:
        return getattr(module, cfg.app_attr)
    except AttributeError:
        raise BuildError(f"module {cfg.app_module!r} has no attribute {cfg.app_attr!r}") from None


def analyse(cfg: config_mod.ProjectConfig, entry_source: str) -> tuple[Closure, vendor.VendorSet]:
    """The import closure of the entry, with third-party packages vendored for Pyodide."""
    with tempfile.TemporaryDirectory() as tmp:
        entry_path = Path(tmp) / "entry.py"
        entry_path.write_text(entry_source)
        generated = {GENERATED_MODULE}
        cache = ScanCache(vendor.cache_root() / "scan-cache.json")
        first = walk(
            ENTRY, Resolver(cfg.root, None, generated), cfg.allow, cfg.root, entry_path, cache
        )
        vendored = vendor.ensure(vendor.requirements_for(first.third_party))
        closure = walk(
            ENTRY,
            Resolver(cfg.root, vendored.path, generated),
            cfg.allow,
            cfg.root,
            entry_path,
            cache,
        )
        cache.save()
    # the entry lives in a temp dir that is gone now; dist/src/entry.py is its home
    closure.modules[ENTRY].path = None
    return closure, vendored


def build_project(
    root: Path,
    out_dir: Path | None = None,
    *,
    app: str | None = None,
    write: bool = True,
    openapi: bool = True,
) -> BuildResult:
    started = time.perf_counter()
    timings: dict[str, float] = {}

    def lap(name: str, since: float) -> float:
        now = time.perf_counter()
        timings[name] = now - since
        return now

    try:
        cfg = config_mod.load(root, app=app)
    except config_mod.ConfigError as exc:
        raise BuildError(str(exc)) from None
    t = time.perf_counter()
    the_app = load_app(cfg)
    problems: list[RouteProblem] = check_routes(the_app)
    if problems:
        raise BuildError(
            f"{len(problems)} problem(s) in the route declarations",
            [p.describe(cfg.root) for p in problems],
        )
    t = lap("load+check", t)

    entry_source = render.entry_module(cfg.app, cfg.app_module, cfg.app_attr)
    try:
        closure, vendored = analyse(cfg, entry_source)
    except vendor.VendorError as exc:
        raise BuildError(str(exc)) from None
    errors = closure.errors
    if errors:
        raise BuildError(
            f"{len(errors)} import problem(s): the bundle would not work on Workers",
            [f.describe() for f in errors],
        )
    t = lap("imports", t)

    doc: dict[str, Any] = {}
    openapi_text = ""
    if openapi or write:
        doc = build_document(the_app)
        try:
            validate_document(doc)
        except Exception as exc:  # the validator raises its own error types
            raise BuildError("the generated OpenAPI document is invalid", [str(exc)]) from None
        openapi_text = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
        t = lap("openapi", t)

    allowed = [f for f in closure.findings if f.allowed_by is not None]
    manifest = None
    out: Path | None = None
    if write:
        t = _build_frontend(cfg, lap, t)
        out = (out_dir or cfg.root / "dist").resolve()
        manifest = _write_dist(cfg, out, closure, vendored, entry_source, doc, openapi_text)
        lap("write", t)
    return BuildResult(
        out_dir=out,
        manifest=manifest,
        closure=closure,
        findings=closure.findings,
        allowed=allowed,
        openapi=doc,
        vendor_cached=vendored.cached,
        seconds=time.perf_counter() - started,
        routes=len(the_app.all_routes()),
        timings=timings,
    )


def _build_frontend(cfg: config_mod.ProjectConfig, lap: Any, since: float) -> float:
    """`[tool.djbuild.assets] build`: the front-end step, before anything is written."""
    from . import frontend

    try:
        if frontend.run(cfg.assets, cfg.root):
            return lap("assets", since)
    except frontend.FrontendBuildError as exc:
        raise BuildError(exc.summary, exc.details) from None
    return since


def _check_out(out: Path, root: Path) -> None:
    if out == root or root.is_relative_to(out):
        raise BuildError(f"refusing to write the build into {out}: it contains the project")
    if out.exists() and any(out.iterdir()) and not (out / "manifest.json").exists():
        raise BuildError(
            f"{out} exists and was not written by djbuild; remove it or pick another --out"
        )


def _swap_in(staging: Path, out: Path) -> None:
    """Replace out/ by the finished build in two renames: never a half-written dist/."""
    old = out.with_name(out.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if out.exists():
        out.rename(old)
    staging.rename(out)
    shutil.rmtree(old, ignore_errors=True)


def _write_dist(
    cfg: config_mod.ProjectConfig,
    out: Path,
    closure: Closure,
    vendored: vendor.VendorSet,
    entry_source: str,
    doc: dict[str, Any],
    openapi_text: str,
) -> Manifest:
    _check_out(out, cfg.root)
    final = out
    out = out.with_name(out.name + ".building")
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    manifest = Manifest()

    def put(rel: str, data: bytes, origin: str, module: str | None, imported_by: list[str]) -> None:
        target = out / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        manifest.add(FileEntry.of(rel, data, origin, module, imported_by))

    def importers(name: str) -> list[str]:
        mod = closure.modules[name]
        return sorted({f"{m}:{line}" for m, line in mod.imported_by})

    put("src/entry.py", entry_source.encode(), "generated", ENTRY, [])
    generated = render.generated_module(openapi_text, render.docs_html(doc))
    put(
        f"src/{GENERATED_MODULE}.py",
        generated.encode(),
        "generated",
        GENERATED_MODULE,
        importers(GENERATED_MODULE) if GENERATED_MODULE in closure.modules else [],
    )

    vendor_tops: dict[str, list[str]] = {}
    for name in sorted(closure.modules):
        mod = closure.modules[name]
        if mod.origin == "project" and mod.path is not None:
            rel = "/".join(name.split(".")) + ("/__init__.py" if mod.is_package else ".py")
            put(f"src/{rel}", mod.path.read_bytes(), origin_of(name), name, importers(name))
        elif mod.origin == "vendor":
            vendor_tops.setdefault(name.split(".")[0], []).extend(importers(name))

    owners = vendored.distributions()
    for top in sorted(vendor_tops):
        dist, version = owners.get(top, (top, "?"))
        origin = f"vendor:{dist}=={version}"
        outside = sorted({i for i in vendor_tops[top] if not i.split(":")[0].startswith(top)})
        base = vendored.path / top
        paths = sorted(base.rglob("*")) if base.is_dir() else [vendored.path / f"{top}.py"]
        for path in paths:
            if path.is_dir() or path.suffix in _SKIP_SUFFIXES or "__pycache__" in path.parts:
                continue
            rel = path.relative_to(vendored.path).as_posix()
            put(f"python_modules/{rel}", path.read_bytes(), origin, None, outside)

    wrangler_text = render.wrangler_config(
        cfg.wrangler, cfg.wrangler_path.parent, final, "src/entry.py", cfg.wrangler_path.name
    )
    put("wrangler.toml", wrangler_text.encode(), "config", None, [])
    put("openapi.json", openapi_text.encode(), "generated", None, [])
    manifest.finish(vendored.requirements, cfg.app)
    (out / "manifest.json").write_text(manifest.to_json())
    _swap_in(out, final)
    return manifest
