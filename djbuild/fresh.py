"""Dev builds import the project as it is on disk, re-importing only what an edit touched.

`djbuild dev` builds in its own long-lived process (a cold interpreter per build would pay
for the pydantic and djbuild imports, and the whole app, every time). `ProjectModules` keeps
the project's modules (the app, and the runtime too when it lives under the project root)
in a private cache between builds: an edited file's module and every module that imports it,
directly or not, are dropped and imported afresh; the rest is reused. Who imports whom comes
from the build's own import graph. An edited module the graph does not know (reached by a
dynamic import, say) drops the whole cache. Around each build `sys.modules` is put back as it
was, so the process hosting dev (a test run, say) never sees the project's modules change.
djbuild's own modules and anything installed in a virtual environment are never touched.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

_TOOL = "djbuild"


def _location(module: ModuleType) -> Path | None:
    file = getattr(module, "__file__", None)
    if file:
        return Path(file)
    paths = list(getattr(module, "__path__", []) or [])
    return Path(paths[0]) if paths else None


def _installed(path: Path) -> bool:
    return any(part in ("site-packages", "dist-packages") for part in path.parts)


_INSIDE: dict[tuple[str, str], bool] = {}  # (file, root) -> under root, resolved once


def project_modules(root: Path, leave: Iterable[str] = ()) -> dict[str, ModuleType]:
    """The loaded modules whose source lives under `root` (not djbuild, not installed ones,
    not the packages named in `leave`)."""
    root = root.resolve()
    base = str(root)
    skipped = {_TOOL, *leave}
    found: dict[str, ModuleType] = {}
    for name, module in list(sys.modules.items()):
        if module is None or name.partition(".")[0] in skipped:
            continue
        file = getattr(module, "__file__", None)
        if not file:
            where = _location(module)
            if where is None:
                continue
            file = str(where)
        key = (file, base)
        inside = _INSIDE.get(key)
        if inside is None:
            where = Path(file)
            try:
                inside = not _installed(where) and where.resolve().is_relative_to(root)
            except OSError:
                continue
            _INSIDE[key] = inside
        if inside:
            found[name] = module
    return found


def importers_from(result: Any) -> dict[str, set[str]] | None:
    """module -> the modules that import it, from a build result's import graph (if any)."""
    modules = getattr(getattr(result, "closure", None), "modules", None)
    if not isinstance(modules, Mapping):
        return None
    graph: dict[str, set[str]] = {}
    for name, module in modules.items():
        graph[name] = {importer for importer, _line in getattr(module, "imported_by", [])}
    return graph


class ProjectModules:
    """The project's modules kept between dev builds (see the module doc)."""

    def __init__(self, root: Path, leave: Iterable[str] = ()) -> None:
        """`leave`: top-level packages under the root that are not the app's and stay as they
        are (the dev services', running in this process while the project rebuilds)."""
        self.root = root.resolve()
        self.leave = tuple(leave)
        self.kept: dict[str, ModuleType] = {}
        self.importers: dict[str, set[str]] | None = None
        self.reimported: set[str] = set()  # what the last `forget` dropped, for reports

    def forget(self, paths: Iterable[str]) -> set[str]:
        """Drop the modules loaded from `paths` and everything that imports them."""
        by_file: dict[str, str] = {}
        for name, module in self.kept.items():
            where = _location(module)
            if where is not None:
                by_file[str(where.resolve())] = name
        stale = {by_file[p] for p in (str(Path(p).resolve()) for p in paths) if p in by_file}
        if stale and (self.importers is None or not stale <= self.importers.keys()):
            stale = set(self.kept)  # no graph for these: start over
        queue = list(stale)
        while queue:
            for importer in (self.importers or {}).get(queue.pop(), ()):
                if importer in self.kept and importer not in stale:
                    stale.add(importer)
                    queue.append(importer)
        for name in stale:
            old = self.kept.pop(name)
            parent_name, _, child = name.rpartition(".")
            parent = self.kept.get(parent_name)
            if parent is not None and getattr(parent, child, None) is old:
                delattr(parent, child)  # else `from parent import child` finds the old one
        self.reimported = stale
        return stale

    def clear(self) -> None:
        self.kept.clear()
        self.importers = None

    @contextmanager
    def active(self) -> Iterator[None]:
        """Within: `sys.modules` holds the kept project modules and nothing stale."""
        saved = project_modules(self.root, self.leave)
        for name in saved:
            del sys.modules[name]
        sys.modules.update(self.kept)
        importlib.invalidate_caches()
        try:
            yield
        finally:
            self.kept = project_modules(self.root, self.leave)
            for name in self.kept:
                del sys.modules[name]
            sys.modules.update(saved)


@contextmanager
def fresh_modules(root: Path) -> Iterator[None]:
    """Import every project module afresh within; `sys.modules` is put back afterwards."""
    with ProjectModules(root).active():
        yield


def forget_bytecode(paths: Iterable[str]) -> None:
    """Drop the cached bytecode of edited sources: a pyc is trusted when the source's mtime
    (whole seconds) and size match, which an edit inside the same second can keep."""
    for path in paths:
        if not path.endswith(".py"):
            continue
        try:
            Path(importlib.util.cache_from_source(path)).unlink(missing_ok=True)
        except (OSError, ValueError, NotImplementedError):
            continue
