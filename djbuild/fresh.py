"""Import the project afresh for each dev build: the code on disk, never a stale module.

`djbuild dev` builds in its own long-lived process (a cold interpreter per build would cost
the pydantic and djbuild imports again). Inside `fresh_modules(root)` every module loaded
from the project root (the app, and the runtime when it lives there too) is taken out of
`sys.modules`, so the build imports it from disk; afterwards the previous entries are put
back, so the process around the build sees exactly the modules it had before. djbuild's own
modules and anything installed in a virtual environment are left alone.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

_TOOL = "djbuild"


def _location(module: ModuleType) -> Path | None:
    file = getattr(module, "__file__", None)
    if file:
        return Path(file)
    paths = list(getattr(module, "__path__", []) or [])
    return Path(paths[0]) if paths else None


def _installed(path: Path) -> bool:
    return any(part in ("site-packages", "dist-packages") for part in path.parts)


def project_modules(root: Path) -> dict[str, ModuleType]:
    """The loaded modules whose source lives under `root` (not djbuild, not installed ones)."""
    root = root.resolve()
    found: dict[str, ModuleType] = {}
    for name, module in list(sys.modules.items()):
        if module is None or name == _TOOL or name.startswith(_TOOL + "."):
            continue
        where = _location(module)
        if where is None or _installed(where):
            continue
        try:
            inside = where.resolve().is_relative_to(root)
        except OSError:
            continue
        if inside:
            found[name] = module
    return found


@contextmanager
def fresh_modules(root: Path) -> Iterator[None]:
    saved = project_modules(root)
    for name in saved:
        del sys.modules[name]
    importlib.invalidate_caches()
    try:
        yield
    finally:
        for name in project_modules(root):
            del sys.modules[name]
        sys.modules.update(saved)


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
