"""The import closure of the entry module: what a bundler's tree shaking keeps.

Breadth-first from the entry, so each module's recorded parent gives the shortest chain of
imports that reaches it; findings quote that chain.
"""

from __future__ import annotations

import sys
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from .cache import ScanCache, SplitScanCache
from .rules import (
    FORBIDDEN_METHODS,
    HAZARD_ADVICE,
    PLATFORM_MODULES,
    Allowance,
    forbidden_call,
    forbidden_reason,
    pruned,
)
from .scan import ImportRef

# The Worker runs Python 3.14 while the build may run on 3.11: the standard library modules
# that 3.12-3.14 added count as present too.
NEWER_STDLIB = frozenset({"annotationlib", "compression", "_colorize", "_interpreters", "_pyrepl"})
STDLIB = frozenset(sys.stdlib_module_names) | NEWER_STDLIB


@dataclass
class Module:
    name: str
    path: Path | None  # None for generated modules
    origin: str  # "project", "vendor", "generated"
    is_package: bool
    imported_by: list[tuple[str, int]] = field(default_factory=list)


@dataclass
class Finding:
    kind: str  # "forbidden-import", "forbidden-call", "entropy-at-import", "timer-at-import",
    # "blocking-sleep", "unresolved"
    module: str
    path: str
    line: int
    col: int
    target: str
    advice: str
    chain: list[tuple[str, int]]  # (module, line of the import that leads on), from the entry
    vendored: bool = False
    allowed_by: str | None = None

    def describe(self) -> str:
        where = f"{self.path}:{self.line}:{self.col + 1}"
        label = {
            "forbidden-import": f"imports forbidden module '{self.target}'",
            "forbidden-call": f"uses '{self.target}', which cannot work on Workers",
            "unresolved": f"imports '{self.target}', which is not in the project, the stdlib or any vendored package",
            "entropy-at-import": f"calls {self.target}() while the module loads",
            "timer-at-import": f"calls {self.target}() while the module loads",
            "blocking-sleep": f"calls {self.target}()",
        }[self.kind]
        chain = " -> ".join(f"{m}:{line}" if line else m for m, line in self.chain)
        text = f"{where}: {label}{' (vendored package)' if self.vendored else ''}\n"
        text += f"    chain: {chain}\n    instead: {self.advice}"
        return text


@dataclass
class Closure:
    modules: dict[str, Module]
    findings: list[Finding]
    third_party: set[str]  # top-level names imported from project code that need vendoring

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.allowed_by is None]


class Resolver:
    """Where a module name lives: the project root, the vendored packages, or nowhere."""

    def __init__(
        self,
        project_root: Path,
        vendor_dir: Path | None,
        generated: set[str],
        framework: dict[str, Path] | None = None,
    ) -> None:
        self.project_root = project_root
        self.vendor_dir = vendor_dir
        self.generated = generated
        # Packages djbuild itself provides to every app (the runtime), by top-level name.
        self.framework = framework if framework is not None else _framework_roots()
        self._project_tops = {
            p.name if p.is_dir() else p.stem
            for p in project_root.iterdir()
            if (p.is_dir() and (p / "__init__.py").exists()) or p.suffix == ".py"
        } | set(self.framework)

    def find(self, name: str) -> tuple[str, Path, bool] | None:
        top = name.split(".")[0]
        rel = Path(*name.split("."))
        bases: list[tuple[str, Path]] = []
        local = self.project_root / top
        if top in self.framework and not (local.is_dir() or local.with_suffix(".py").is_file()):
            bases.append(("project", self.framework[top]))
        elif top in self._project_tops:
            bases.append(("project", self.project_root))
        elif self.vendor_dir is not None:
            bases.append(("vendor", self.vendor_dir))
        for origin, base in bases:
            pkg = base / rel / "__init__.py"
            if pkg.is_file():
                return origin, pkg, True
            mod = base / rel.with_suffix(".py")
            if mod.is_file():
                return origin, mod, False
            if origin == "vendor":
                native = _extension_module(base / rel)
                if native is not None:
                    return origin, native, False
            if origin == "vendor" and (base / rel).is_dir() and "." not in name:
                # A native-only or namespace package: shipped whole, nothing to scan.
                return origin, base / rel, True
        return None


def _extension_module(stem: Path) -> Path | None:
    """`pkg/_native.cpython-314-wasm32-emscripten.so` (or `_native.so`) for `pkg/_native`."""
    folder = stem.parent
    if not folder.is_dir():
        return None
    for candidate in sorted(folder.glob(f"{stem.name}.*so")):
        if candidate.name == f"{stem.name}.so" or candidate.name.count(".") == 2:
            return candidate
    return None


def expand_include(pattern: str, resolver: Resolver) -> list[str]:
    """Module names an `include` entry names: `pkg.mod`, or `pkg.sub.*` for a whole subtree."""
    if not pattern.endswith(".*"):
        return [pattern]
    base = pattern[:-2]
    found = resolver.find(base)
    if found is None or not found[2] or found[1].name != "__init__.py":
        return [base]
    folder = found[1].parent
    names = [base]
    for path in sorted(folder.rglob("*")):
        if "__pycache__" in path.parts:
            continue
        if path.suffix == ".py" and path.name != "__init__.py":
            rel = path.relative_to(folder).with_suffix("")
        elif path.name == "__init__.py" and path.parent != folder:
            rel = path.parent.relative_to(folder)
        elif path.suffix == ".so":
            rel = path.relative_to(folder).with_name(path.name.split(".")[0])
        else:
            continue
        names.append(".".join([base, *rel.parts]))
    return names


INCLUDE = "[tool.djbuild] include"


def _framework_roots() -> dict[str, Path]:
    import runtime

    return {"runtime": Path(runtime.__file__).resolve().parent.parent}


def _parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def walk(
    entry: str,
    resolver: Resolver,
    allow: list[Allowance],
    display_root: Path,
    entry_path: Path | None = None,
    cache: ScanCache | SplitScanCache | None = None,
    include: list[str] | tuple[str, ...] = (),
) -> Closure:
    cache = cache or ScanCache()
    modules: dict[str, Module] = {}
    parent: dict[str, tuple[str, int]] = {}
    findings: list[Finding] = []
    third_party: set[str] = set()
    if entry_path is not None:
        modules[entry] = Module(entry, entry_path, "entry", False)
    else:
        found = resolver.find(entry)
        if found is None:
            raise FileNotFoundError(f"entry module {entry!r} not found")
        origin, path, is_pkg = found
        modules[entry] = Module(entry, path, origin, is_pkg)
    queue: deque[str] = deque([entry])
    for pattern in include:
        for wanted in expand_include(pattern, resolver):
            for name in _parents(wanted):
                if name in modules:
                    continue
                found = resolver.find(name)
                top = name.split(".")[0]
                if found is None:
                    if resolver.vendor_dir is None and top not in resolver._project_tops:
                        third_party.add(top)
                    elif name == wanted:
                        findings.append(
                            Finding(
                                "unresolved",
                                INCLUDE,
                                "pyproject.toml",
                                0,
                                0,
                                name,
                                "include names a module that is not in the project or any "
                                "vendored package; fix the name",
                                [(INCLUDE, 0)],
                            )
                        )
                    break
                origin, path, is_pkg = found
                modules[name] = Module(name, path, origin, is_pkg, [(INCLUDE, 0)])
                parent[name] = (INCLUDE, 0)
                queue.append(name)

    def chain_to(name: str) -> list[tuple[str, int]]:
        out: list[tuple[str, int]] = []
        cur = name
        while cur in parent:
            prev, line = parent[cur]
            out.append((prev, line))
            cur = prev
        out.reverse()
        return out

    def rel(path: Path | None) -> str:
        if path is None:
            return "<generated>"
        for base in (display_root, resolver.vendor_dir):
            if base is not None and path.is_relative_to(base):
                return str(path.relative_to(base))
        return path.name

    def allowed(importer: str, what: str) -> str | None:
        for a in allow:
            if a.covers(importer, what):
                return a.reason
        return None

    def allowed_call(importer: str, call: str) -> str | None:
        for a in allow:
            if a.covers_call(importer, call):
                return a.reason
        return None

    while queue:
        current = queue.popleft()
        mod = modules[current]
        if mod.path is None or mod.path.suffix != ".py":
            continue
        try:
            scan = cache.scan(mod.path, current, mod.is_package)
        except SyntaxError as exc:
            findings.append(
                Finding(
                    "unresolved",
                    current,
                    rel(mod.path),
                    exc.lineno or 0,
                    0,
                    current,
                    f"syntax error: {exc.msg}",
                    chain_to(current),
                    mod.origin == "vendor",
                )
            )
            continue
        vendored = mod.origin == "vendor"
        for hazard in scan.hazards:
            advice = HAZARD_ADVICE.get(hazard.kind) or _call_advice(hazard.call)
            if hazard.kind == "forbidden-call":
                allowed_by = allowed_call(current, hazard.call)
            else:
                allowed_by = allowed(current, hazard.kind)
            findings.append(
                Finding(
                    hazard.kind,
                    current,
                    rel(mod.path),
                    hazard.line,
                    hazard.col,
                    hazard.call,
                    advice,
                    [*chain_to(current), (current, hazard.line)],
                    vendored,
                    allowed_by,
                )
            )
        for ref in scan.imports:
            _follow(
                ref,
                current,
                mod,
                modules,
                parent,
                queue,
                findings,
                third_party,
                resolver,
                chain_to,
                rel,
                allowed,
                vendored,
            )
    return Closure(modules, findings, third_party)


def _call_advice(call: str) -> str:
    method = call.rsplit(".", 1)[-1]
    return forbidden_call(call) or FORBIDDEN_METHODS.get(method, "cannot work on Workers")


def _follow(
    ref: ImportRef,
    current: str,
    mod: Module,
    modules: dict[str, Module],
    parent: dict[str, tuple[str, int]],
    queue: deque[str],
    findings: list[Finding],
    third_party: set[str],
    resolver: Resolver,
    chain_to,
    rel,
    allowed,
    vendored: bool,
) -> None:
    base = ref.module
    if not base or base.startswith("."):
        return
    candidates = [(name, True) for name in _parents(base)]
    candidates += [(f"{base}.{n}", False) for n in ref.names]
    for name, required in candidates:
        top = name.split(".")[0]
        bad = forbidden_reason(name)
        if bad is not None:
            target, advice = bad
            findings.append(
                Finding(
                    "forbidden-import",
                    current,
                    rel(mod.path),
                    ref.line,
                    ref.col,
                    target,
                    advice,
                    [*chain_to(current), (current, ref.line)],
                    vendored,
                    allowed(current, target),
                )
            )
            return
        if top in PLATFORM_MODULES or (top in STDLIB and top not in resolver._project_tops):
            continue
        if name == current:
            continue
        if mod.origin == "vendor" and pruned(current, name):
            return
        if name in modules:
            modules[name].imported_by.append((current, ref.line))
            continue
        if name in resolver.generated:
            modules[name] = Module(name, None, "generated", False, [(current, ref.line)])
            parent[name] = (current, ref.line)
            continue
        found = resolver.find(name)
        if found is None:
            if required and mod.origin in ("project", "entry"):
                if resolver.vendor_dir is None:
                    third_party.add(top)
                else:
                    findings.append(
                        Finding(
                            "unresolved",
                            current,
                            rel(mod.path),
                            ref.line,
                            ref.col,
                            name,
                            "add the package to the project's dependencies, or fix the name",
                            [*chain_to(current), (current, ref.line)],
                        )
                    )
            continue
        origin, path, is_pkg = found
        modules[name] = Module(name, path, origin, is_pkg, [(current, ref.line)])
        parent[name] = (current, ref.line)
        queue.append(name)
