"""Read one module's source: the imports it makes and the import-time hazards it contains.

Static, like a bundler: nothing is executed. Imports inside functions and conditional
blocks count (they may run), except under `if TYPE_CHECKING:` (they never do).
`importlib.import_module("x")` and `__import__("x")` count when the name is a literal.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from .rules import FORBIDDEN_METHODS, forbidden_call


@dataclass(frozen=True)
class ImportRef:
    module: str  # absolute dotted name when resolvable, else as written
    line: int
    col: int
    names: tuple[str, ...] = ()  # for `from m import a, b`: candidates for submodules m.a, m.b
    dynamic: bool = False  # importlib.import_module / __import__


@dataclass(frozen=True)
class Hazard:
    kind: str  # "entropy-at-import", "timer-at-import", "blocking-sleep", "forbidden-call"
    call: str
    line: int
    col: int


@dataclass
class ModuleScan:
    imports: list[ImportRef] = field(default_factory=list)
    hazards: list[Hazard] = field(default_factory=list)


ENTROPY_CALLS = {
    "os.urandom",
    "os.getrandom",
    "uuid.uuid1",
    "uuid.uuid4",
}
ENTROPY_MODULES = {"random", "secrets"}
TIMER_ATTRS = {"call_later", "call_at", "call_soon"}
TIMER_CALLS = {
    "asyncio.sleep",
    "asyncio.create_task",
    "asyncio.ensure_future",
    "asyncio.get_event_loop",
}


def resolve_relative(module: str | None, level: int, current: str, is_package: bool) -> str:
    """The absolute name of `from .{module} import ...` written in module `current`."""
    if level == 0:
        return module or ""
    parts = current.split(".")
    base = parts if is_package else parts[:-1]
    if level - 1 > len(base):
        raise ImportError(f"relative import beyond top-level package in {current}")
    base = base[: len(base) - (level - 1)]
    if module:
        base = [*base, module]
    return ".".join(base)


class _Visitor(ast.NodeVisitor):
    def __init__(self, current: str, is_package: bool) -> None:
        self.current = current
        self.is_package = is_package
        self.scan = ModuleScan()
        self.aliases: dict[str, str] = {}  # local name -> dotted origin (for hazards)
        self.depth = 0  # >0 inside a function body (not run at import)

    # -- imports ------------------------------------------------------------------------------
    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.scan.imports.append(ImportRef(alias.name, node.lineno, node.col_offset))
            if alias.asname:
                self.aliases[alias.asname] = alias.name
            else:
                top = alias.name.split(".")[0]
                self.aliases[top] = top

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        try:
            base = resolve_relative(node.module, node.level, self.current, self.is_package)
        except ImportError:
            base = "." * node.level + (node.module or "")
        names = tuple(a.name for a in node.names if a.name != "*")
        self.scan.imports.append(ImportRef(base, node.lineno, node.col_offset, names))
        for alias in node.names:
            self.aliases[alias.asname or alias.name] = f"{base}.{alias.name}"

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node.test):
            for stmt in node.orelse:
                self.visit(stmt)
            return
        self.generic_visit(node)

    # -- scopes -------------------------------------------------------------------------------
    def _visit_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        # Decorators and defaults run at import; the body does not.
        if not isinstance(node, ast.Lambda):
            for deco in node.decorator_list:
                self.visit(deco)
            if node.returns is not None:
                self.visit(node.returns)
        for default in [*node.args.defaults, *node.args.kw_defaults]:
            if default is not None:
                self.visit(default)
        self.depth += 1
        body = node.body if isinstance(node.body, list) else [node.body]
        for stmt in body:
            self.visit(stmt)
        self.depth -= 1

    visit_FunctionDef = _visit_function
    visit_AsyncFunctionDef = _visit_function
    visit_Lambda = _visit_function

    # -- calls --------------------------------------------------------------------------------
    def visit_Call(self, node: ast.Call) -> None:
        name = self._dotted(node.func)
        if name is not None:
            self._check_dynamic_import(name, node)
            self._check_hazard(name, node)
        if name == "getattr" and len(node.args) >= 2:
            owner = self._dotted(node.args[0])
            attr = node.args[1]
            if owner and isinstance(attr, ast.Constant) and isinstance(attr.value, str):
                if forbidden_call(f"{owner}.{attr.value}") is not None:
                    self._forbidden(f"{owner}.{attr.value}", node)
        if isinstance(node.func, ast.Attribute) and node.func.attr in FORBIDDEN_METHODS:
            if name is None or forbidden_call(name) is None:
                self._forbidden(f"<object>.{node.func.attr}", node)
        self.generic_visit(node)

    # A forbidden function counts wherever it is named (called, stored, passed as a callback),
    # through any alias: `import os as o; o.system`, `from os import system; system(...)`.
    def visit_Attribute(self, node: ast.Attribute) -> None:
        name = self._dotted(node)
        if name is not None and forbidden_call(name) is not None:
            self._forbidden(name, node)
            return
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load) and node.id in self.aliases:
            name = self.aliases[node.id]
            if forbidden_call(name) is not None:
                self._forbidden(name, node)

    def _forbidden(self, name: str, node: ast.expr) -> None:
        self.scan.hazards.append(Hazard("forbidden-call", name, node.lineno, node.col_offset))

    def _check_dynamic_import(self, name: str, node: ast.Call) -> None:
        if name not in ("importlib.import_module", "__import__") or not node.args:
            return
        first = node.args[0]
        if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
            return
        target = first.value
        if name == "importlib.import_module" and target.startswith("."):
            package = None
            if len(node.args) > 1 and isinstance(node.args[1], ast.Constant):
                package = node.args[1].value
            for kw in node.keywords:
                if kw.arg == "package" and isinstance(kw.value, ast.Constant):
                    package = kw.value.value
            if not isinstance(package, str):
                return
            level = len(target) - len(target.lstrip("."))
            target = resolve_relative(target.lstrip(".") or None, level, package, True)
        self.scan.imports.append(ImportRef(target, node.lineno, node.col_offset, dynamic=True))

    def _check_hazard(self, name: str, node: ast.Call) -> None:
        if name == "time.sleep":
            self.scan.hazards.append(Hazard("blocking-sleep", name, node.lineno, node.col_offset))
            return
        if self.depth > 0:
            return
        top = name.split(".")[0]
        if name in ENTROPY_CALLS or (top in ENTROPY_MODULES and "." in name):
            self.scan.hazards.append(
                Hazard("entropy-at-import", name, node.lineno, node.col_offset)
            )
        elif name in TIMER_CALLS or name.rsplit(".", 1)[-1] in TIMER_ATTRS:
            self.scan.hazards.append(Hazard("timer-at-import", name, node.lineno, node.col_offset))

    def _dotted(self, func: ast.expr) -> str | None:
        parts: list[str] = []
        while isinstance(func, ast.Attribute):
            parts.append(func.attr)
            func = func.value
        if not isinstance(func, ast.Name):
            return None
        head = self.aliases.get(func.id, func.id)
        return ".".join([head, *reversed(parts)])


def _lazy_table(node: ast.stmt, current: str, is_package: bool) -> list[ImportRef]:
    """Modules named by a module-level lazy-import table, as pydantic's `__init__` has:
    `_dynamic_imports = {'BaseModel': (__spec__.parent, '.main'), 'dataclasses':
    (__spec__.parent, '__module__')}`, read by a module `__getattr__` on first use."""
    value = node.value if isinstance(node, (ast.Assign, ast.AnnAssign)) else None
    if not isinstance(value, ast.Dict) or not value.values:
        return []
    refs: list[ImportRef] = []
    for key, item in zip(value.keys, value.values, strict=True):
        if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
            return []
        if not (isinstance(item, ast.Tuple) and len(item.elts) == 2):
            return []
        target = item.elts[1]
        if not (isinstance(target, ast.Constant) and isinstance(target.value, str)):
            return []
        if target.value == "__module__":
            module = resolve_relative(key.value, 1, current, is_package)
        elif target.value.startswith("."):
            level = len(target.value) - len(target.value.lstrip("."))
            module = resolve_relative(target.value.lstrip(".") or None, level, current, is_package)
        else:
            return []
        refs.append(ImportRef(module, item.lineno, item.col_offset, dynamic=True))
    return refs


def _is_type_checking(test: ast.expr) -> bool:
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    if isinstance(test, ast.Attribute):
        return test.attr == "TYPE_CHECKING"
    return False


def scan_source(
    source: str, module: str, is_package: bool, filename: str = "<module>"
) -> ModuleScan:
    tree = ast.parse(source, filename=filename)
    visitor = _Visitor(module, is_package)
    visitor.visit(tree)
    if is_package:
        for stmt in tree.body:
            try:
                visitor.scan.imports += _lazy_table(stmt, module, is_package)
            except ImportError:
                continue
    return visitor.scan
