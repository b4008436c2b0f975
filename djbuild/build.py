"""One build: load the app, check it, follow its imports, vendor, render, write dist/.

Every step is deterministic (sorted walks, no timestamps in outputs), so two builds from
the same inputs give a byte-identical dist/ and the same bundle hash.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import shutil
import sys
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from . import buildcache, vendor
from . import config as config_mod
from .analysis.cache import SplitScanCache
from .analysis.graph import Closure, Finding, Module, walk
from .bytecode import BytecodeError, Compiler, EarlyCompiler, compile_sources
from .manifest import FileEntry, Manifest, origin_of
from .shrink import prefetch, shrink_cached, wait_for_prefetch
from .walkcache import ListingResolver, Listings, scan_cache

# render (jinja2), checks and openapi (pydantic, the runtime) are imported where used: a
# build whose inputs did not change never needs them.

# The build-owned folder in the assets output, as the runtime's docs routes expect it.
ASSET_PREFIX = "_djbuild"
ASSETS_DIR = "assets"
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
    cached: bool = False  # nothing changed: the output was verified and reused
    sizes: dict[str, Any] | None = None  # the report's size rows, when already known


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
        generated: set[str] = set()
        cache = scan_cache(vendor.cache_root() / "scan-cache.json")
        listings = Listings()  # the project's folders, read once for both walks
        first = walk(
            ENTRY,
            ListingResolver(cfg.root, None, generated, listings),
            cfg.allow,
            cfg.root,
            entry_path,
            cache,
            cfg.include,
        )
        vendored = vendor.ensure(vendor.requirements_for(first.third_party))
        # scans of vendored files live with their vendor set: made once per set
        scans = SplitScanCache(
            cache,
            vendored.path,
            scan_cache(vendored.path.with_name(vendored.path.name + ".scans.json"), vendored.path),
        )
        closure = walk(
            ENTRY,
            ListingResolver(cfg.root, vendored.path, generated, listings),
            cfg.allow,
            cfg.root,
            entry_path,
            scans,
            cfg.include,
        )
        scans.save()
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
    measure: bool = False,
    compile_bytecode: bool = True,
    bytecode: str | None = None,
) -> BuildResult:
    """Build `root` into `out_dir` (default ROOT/dist); `write=False` checks only.

    `measure` also computes the report's gzip sizes (a fraction of a second), kept with the
    build's record so an unchanged rebuild reports them without reading dist/ again.
    `bytecode` overrides `[tool.djbuild] bytecode` ("off", "project", "all").
    `compile_bytecode=False` ships a module whose bytecode is not cached yet as source
    (`djbuild dev`: a rebuild does not wait for Pyodide; see djbuild.bytecode).
    """
    early = EarlyCompiler()  # the bytecode compiler started ahead of the write, if any
    try:
        return _build_project(
            root, out_dir, early, app=app, write=write, openapi=openapi, measure=measure,
            compile_bytecode=compile_bytecode, bytecode=bytecode,
        )  # fmt: skip
    finally:
        early.close()


def _build_project(
    root: Path,
    out_dir: Path | None,
    early: EarlyCompiler,
    *,
    app: str | None,
    write: bool,
    openapi: bool,
    measure: bool,
    compile_bytecode: bool,
    bytecode: str | None,
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
    if bytecode is not None:
        if bytecode not in config_mod.BYTECODE_MODES:
            raise BuildError(f"bytecode must be one of {', '.join(config_mod.BYTECODE_MODES)}")
        cfg.bytecode = bytecode
    out = (out_dir or cfg.root / "dist").resolve() if write else None
    reusable = write or not openapi  # a build, or a check; `djbuild openapi` always runs
    started_ns = time.time_ns()
    loaded = set(sys.modules)  # the project's modules imported from here on are the app's
    t = time.perf_counter()
    if write:  # the front-end step first: its output is part of what the build cache compares
        t = _build_frontend(cfg, lap, t)
    if reusable:
        hit = _reuse(cfg, out, started, measure)
        if hit is not None:
            return hit
    t = time.perf_counter()
    compiling = out is not None and compile_bytecode and cfg.bytecode != "off"
    if compiling:
        early.start_if_cold()
    from .checks import check_routes
    from .openapi import build_document
    from .render import entry_module

    the_app = load_app(cfg)
    # a cold build: the sources the app loaded start shrinking in worker processes now, while
    # the checks, the import walk and the OpenAPI document are done here
    sources = _loaded_sources(cfg.root, loaded)
    prefetch(sources, vendor.cache_root() / "shrink")
    if compiling:  # and Pyodide compiles those whose bytecode is not cached, as they come
        early.start_if_missing(cfg.root, sources, vendor.cache_root() / "shrink")
    problems = check_routes(the_app)
    if problems:
        raise BuildError(
            f"{len(problems)} problem(s) in the route declarations",
            [p.describe(cfg.root) for p in problems],
        )
    t = lap("load+check", t)

    entry_source = entry_module(cfg.app, cfg.app_module, cfg.app_attr)
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
    if openapi or write:
        # Validated against the OpenAPI 3.1 schema by the tests and `djbuild check --strict`,
        # not here: a full validation costs seconds per build.
        doc = build_document(the_app)
        t = lap("openapi", t)

    allowed = [f for f in closure.findings if f.allowed_by is not None]
    manifest = None
    size_rows = None
    if out is not None:
        manifest = _write_dist(
            cfg,
            out,
            closure,
            vendored,
            entry_source,
            doc,
            compile_bytecode=compile_bytecode,
            compiler=early.compiler,
        )
        wait_for_prefetch()  # finished by now: reap them
        t = lap("write", t)
        if measure:
            from .report import sizes

            rows, total = sizes(manifest, out)
            size_rows = {"rows": [r.__dict__ for r in rows], "total": total.__dict__}
            lap("sizes", t)
    result = BuildResult(
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
        sizes=size_rows,
    )
    if reusable and not (manifest is not None and manifest.partial):
        _remember(cfg, out, result, vendored, started_ns)
    return result


def _loaded_sources(root: Path, before: set[str]) -> list[Path]:
    """The source files under `root` of the modules imported since `before` (the app's, and
    the runtime's when it lives in the project)."""
    base = os.path.realpath(root) + os.sep
    found: set[str] = set()
    for name, module in list(sys.modules.items()):
        if name in before or module is None or name.partition(".")[0] == "djbuild":
            continue
        file = getattr(module, "__file__", None)
        if file and file.endswith(".py") and "site-packages" not in file:
            real = os.path.realpath(file)
            if real.startswith(base):
                found.add(real)
    return [Path(f) for f in sorted(found)]


def _remember(
    cfg: config_mod.ProjectConfig,
    out: Path | None,
    result: BuildResult,
    vendored: vendor.VendorSet,
    started_ns: int,
) -> None:
    """Keep what a later build with the same inputs may reuse (a build also stands for a
    check of the same project)."""
    inputs = sorted(
        str(m.path)
        for m in result.closure.modules.values()
        if m.origin == "project" and m.path is not None
    )
    if buildcache.changed_since(inputs, started_ns):
        return  # saved while we built: the next build must not trust this output
    key = buildcache.inputs_key(cfg, inputs, list(vendored.requirements))
    if key is None:
        return
    record = buildcache.Record(
        key=key,
        inputs=inputs,
        requirements=list(vendored.requirements),
        routes=result.routes,
        modules={name: m.origin for name, m in result.closure.modules.items()},
        allowed=[asdict(f) for f in result.allowed],
    )
    buildcache.save(cfg.root, None, record)
    if out is not None and result.manifest is not None:
        record.bundle_hash = result.manifest.bundle_hash
        record.sizes = result.sizes
        buildcache.save(cfg.root, out, record)


def _reuse(
    cfg: config_mod.ProjectConfig, out: Path | None, started: float, measure: bool
) -> BuildResult | None:
    record = buildcache.load(cfg.root, out)
    if record is None or (out is not None and record.bundle_hash is None):
        return None
    if buildcache.inputs_key(cfg, record.inputs, record.requirements) != record.key:
        return None
    manifest: Manifest | None = None
    doc: dict[str, Any] = {}
    if out is not None:
        assert record.bundle_hash is not None
        data = buildcache.verify_output(out, record.bundle_hash)
        if data is None:
            return None
        manifest = Manifest.from_dict(data)
        try:
            doc = json.loads((out / "openapi.json").read_text())
        except (OSError, ValueError):
            return None
        if measure and record.sizes is None:
            from .report import sizes

            rows, total = sizes(manifest, out)
            record.sizes = {"rows": [r.__dict__ for r in rows], "total": total.__dict__}
            buildcache.save(cfg.root, out, record)
    allowed = [Finding(**{**f, "chain": [tuple(c) for c in f["chain"]]}) for f in record.allowed]
    modules = {name: Module(name, None, origin, False) for name, origin in record.modules.items()}
    return BuildResult(
        out_dir=out,
        manifest=manifest,
        closure=Closure(modules, allowed, set()),
        findings=allowed,
        allowed=allowed,
        openapi=doc,
        vendor_cached=True,
        seconds=time.perf_counter() - started,
        routes=record.routes,
        timings={"reuse": time.perf_counter() - started},
        cached=True,
        sizes=record.sizes,
    )


def _pretty_json(doc: dict[str, Any]) -> bytes:
    return (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode()


def assets_output(
    cfg: config_mod.ProjectConfig, doc: dict[str, Any]
) -> dict[str, tuple[bytes, str]]:
    """dist/assets/: the project's assets folder merged with what the build generates under
    `_djbuild/` (the OpenAPI document, compact, and the docs page with Swagger UI's files).
    The project's own folder is never written to."""
    from runtime.docs import ASSET_PREFIX as served_prefix

    from . import toolchain
    from .render import docs_html, docs_js

    assert served_prefix == f"/{ASSET_PREFIX}"
    files: dict[str, tuple[bytes, str]] = {}
    source = cfg.wrangler.get("assets", {}).get("directory")
    if source:
        folder = (cfg.wrangler_path.parent / source).resolve()
        if not folder.is_dir():
            raise BuildError(f"[assets] directory {source!r} does not exist")
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                rel = path.relative_to(folder).as_posix()
                if rel.split("/")[0] == ASSET_PREFIX:
                    raise BuildError(
                        f"{source}/{ASSET_PREFIX}/ is reserved for the files djbuild generates"
                    )
                files[rel] = (path.read_bytes(), "asset")
    spec = f"/{ASSET_PREFIX}/openapi.json"
    files[f"{ASSET_PREFIX}/openapi.json"] = (
        json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode(),
        "generated",
    )
    base = f"/{ASSET_PREFIX}/docs"
    files[f"{ASSET_PREFIX}/docs/index.html"] = (
        docs_html(doc, spec, base).encode(),
        "generated",
    )
    files[f"{ASSET_PREFIX}/docs/docs.js"] = (docs_js().encode(), "generated")
    try:
        swagger = toolchain.ensure_node_modules() / "swagger-ui-dist"
    except toolchain.ToolchainError as exc:
        raise BuildError("the docs page's npm package could not be installed", [str(exc)]) from None
    version = json.loads((swagger / "package.json").read_text())["version"]
    for name, target in SWAGGER_FILES.items():
        files[f"{ASSET_PREFIX}/docs/{target}"] = (
            (swagger / name).read_bytes(),
            f"npm:swagger-ui-dist@{version}",
        )
    return dict(sorted(files.items()))


# Swagger UI's files the page loads, and the licence its redistribution needs.
SWAGGER_FILES = {
    "swagger-ui-bundle.js": "swagger-ui-bundle.js",
    "swagger-ui.css": "swagger-ui.css",
    "swagger-ui-bundle.js.LICENSE.txt": "swagger-ui-bundle.js.LICENSE.txt",
    "LICENSE": "LICENSE-swagger-ui.txt",
    "NOTICE": "NOTICE-swagger-ui.txt",
}


VendorFile = tuple[Path, str, str | None, list[str]]  # source, origin, module, imported by


def shaken_vendor(closure: Closure, vendored: vendor.VendorSet) -> dict[str, VendorFile]:
    """The vendored files the Worker needs, by path under python_modules/.

    Module-level tree shaking: each module the import walk reached (plus what
    `[tool.djbuild] include` names), the data and native files beside the packages reached
    (`py.typed`, `.so`, data folders), and each used distribution's metadata, so
    `importlib.metadata` still finds it. Nothing the walk did not reach.
    """
    owners = vendored.distributions()
    infos = vendored.info_dirs()
    files: dict[str, VendorFile] = {}
    used_infos: dict[Path, str] = {}

    def importers(name: str) -> list[str]:
        return sorted({f"{m}:{line}" for m, line in closure.modules[name].imported_by})

    def add(path: Path, origin: str, module: str | None, imported_by: list[str]) -> None:
        rel = path.relative_to(vendored.path).as_posix()
        if rel not in files:
            files[rel] = (path, origin, module, imported_by)

    reached = [m for _, m in sorted(closure.modules.items()) if m.origin == "vendor"]
    origins: dict[str, str] = {}
    for mod in reached:
        top = mod.name.split(".")[0]
        dist, version = owners.get(top, (top, "?"))
        origins[mod.name] = f"vendor:{dist}=={version}"
        if top in infos:
            used_infos[infos[top]] = origins[mod.name]
        if mod.path is not None and mod.path.is_file():
            add(mod.path, origins[mod.name], mod.name, importers(mod.name))
    for mod in reached:
        if mod.path is None:
            continue
        if mod.path.is_dir():  # a namespace or native-only package: nothing to follow, ship it
            folder, recurse = mod.path, True
        elif mod.is_package:
            folder, recurse = mod.path.parent, False
        else:
            continue
        for path in _data_files(folder, recurse):
            add(path, origins[mod.name], None, [mod.name])
    for info, origin in sorted(used_infos.items()):
        for path in sorted(info.rglob("*")):
            rel = path.relative_to(info).as_posix()
            if path.is_file() and (rel in _DIST_INFO_FILES or rel.startswith("licenses/")):
                add(path, origin, None, [])
    return dict(sorted(files.items()))


# What importlib.metadata reads (METADATA: name, version; entry points) and the licenses.
_DIST_INFO_FILES = {"METADATA", "entry_points.txt", "top_level.txt", "LICENSE", "LICENSE.txt"}


def _data_files(folder: Path, recurse: bool) -> list[Path]:
    """Files beside a package's modules that it may read or load: everything but sources
    of other modules, stubs and build leftovers; sub-folders only when they hold no Python."""
    out: list[Path] = []
    for path in sorted(folder.iterdir()):
        if path.name == "__pycache__":
            continue
        if path.is_dir():
            inner = list(path.rglob("*"))
            if recurse or not any(p.suffix in (".py", ".pyi") for p in inner):
                out += [p for p in sorted(inner) if p.is_file() and _is_data(p)]
        elif _is_data(path) and (recurse or path.suffix != ".py"):
            out.append(path)
    return out


def _is_data(path: Path) -> bool:
    return path.suffix not in _SKIP_SUFFIXES and "__pycache__" not in path.parts


# (source, dist path, mtime ns, size) -> (bytes written, sha256): what a file became
_OUTPUTS: dict[tuple[str, str, int, int], tuple[bytes, str]] = {}


def _vendor_bytes(rel: str, path: Path) -> bytes:
    data = path.read_bytes()
    if rel.endswith(".dist-info/METADATA"):
        # the headers are the metadata; the long description after them is a README
        head, sep, _ = data.partition(b"\n\n")
        return head + b"\n" if sep else data
    return data


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


def _ships_as_bytecode(mode: str, rel: str) -> bool:
    """Whether dist-relative source `rel` ships as bytecode under `[tool.djbuild] bytecode`."""
    if mode == "off" or not rel.endswith(".py") or rel == "src/entry.py":
        return False
    return rel.startswith("src/") or (mode == "all" and rel.startswith("python_modules/"))


def _write_dist(
    cfg: config_mod.ProjectConfig,
    out: Path,
    closure: Closure,
    vendored: vendor.VendorSet,
    entry_source: str,
    doc: dict[str, Any],
    *,
    compile_bytecode: bool = True,
    compiler: Compiler | None = None,
) -> Manifest:
    _check_out(out, cfg.root)
    final = out
    out = out.with_name(out.name + ".building")
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    manifest = Manifest()

    # shrunk sources by content hash: the vendored ones beside their vendor set (made once
    # per set), the project's in the cache root (made again only for an edited file)
    shrink_dirs = {
        "vendor": vendored.path.with_name(vendored.path.name + ".shrunk"),
        "project": vendor.cache_root() / "shrink",
    }

    made: set[Path] = set()
    to_compile: dict[str, tuple[bytes, str, str | None, list[str]]] = {}

    def put(rel: str, data: bytes, origin: str, module: str | None, imported_by: list[str]) -> None:
        """Bytes written as they are (sources go through `put_file`)."""
        write(rel, data)
        manifest.add(FileEntry.of(rel, data, origin, module, imported_by))

    def write(rel: str, data: bytes) -> None:
        target = out / rel
        if target.parent not in made:
            target.parent.mkdir(parents=True, exist_ok=True)
            made.update(target.parents)
        target.write_bytes(data)

    def put_file(
        rel: str, path: Path, origin: str, module: str | None, imported_by: list[str]
    ) -> None:
        """A source file, shrunk if Python; the result kept per file state for later builds
        in this process (a dev session reads and shrinks each unchanged file once)."""
        try:
            st = path.stat()
        except OSError:
            st = None
        key = (str(path), rel, st.st_mtime_ns, st.st_size) if st is not None else None
        hit = _OUTPUTS.get(key) if key is not None else None
        if hit is None:
            data = (
                _vendor_bytes(rel, path) if rel.startswith("python_modules/") else path.read_bytes()
            )
            if rel.endswith(".py"):
                kind = "vendor" if origin.startswith("vendor:") else "project"
                data = shrink_cached(data, shrink_dirs[kind])
            hit = (data, hashlib.sha256(data).hexdigest())
            if key is not None:
                _OUTPUTS[key] = hit
        data, digest = hit
        if _ships_as_bytecode(cfg.bytecode, rel):
            to_compile[rel] = (data, origin, module, imported_by)
            return
        write(rel, data)
        manifest.add(FileEntry(rel, len(data), digest, origin, module, imported_by))

    def importers(name: str) -> list[str]:
        mod = closure.modules[name]
        return sorted({f"{m}:{line}" for m, line in mod.imported_by})

    put("src/entry.py", entry_source.encode(), "generated", ENTRY, [])
    for name in sorted(closure.modules):
        mod = closure.modules[name]
        if mod.origin == "project" and mod.path is not None:
            rel = "/".join(name.split(".")) + ("/__init__.py" if mod.is_package else ".py")
            put_file(f"src/{rel}", mod.path, origin_of(name), name, importers(name))
    for rel, (path, origin, module, imported_by) in shaken_vendor(closure, vendored).items():
        put_file(f"python_modules/{rel}", path, origin, module, imported_by)
    if to_compile:
        try:
            compiled = compile_sources(
                {rel: item[0] for rel, item in to_compile.items()},
                compile_missing=compile_bytecode,
                compiler=compiler,
            )
        except BytecodeError as exc:
            raise BuildError(str(exc)) from None
        for rel, (source, origin, module, imported_by) in sorted(to_compile.items()):
            if rel in compiled:
                put(rel + "c", compiled[rel], origin, module, imported_by)
            else:  # not compiled: the (already shrunk) source as it is
                manifest.partial = True
                put(rel, source, origin, module, imported_by)

    for rel, (data, origin) in assets_output(cfg, doc).items():
        put(f"{ASSETS_DIR}/{rel}", data, origin, None, [])
    from .render import wrangler_config

    wrangler_text = wrangler_config(
        cfg.wrangler, "src/entry.py", ASSETS_DIR, cfg.wrangler_path.name, bytecode=cfg.bytecode
    )
    put("wrangler.toml", wrangler_text.encode(), "config", None, [])
    put("openapi.json", _pretty_json(doc), "generated", None, [])
    manifest.finish(vendored.requirements, cfg.app)
    (out / "manifest.json").write_text(manifest.to_json())
    _swap_in(out, final)
    return manifest
