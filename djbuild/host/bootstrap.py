"""Python side of djbuild's local Worker host, loaded into Pyodide as `_djbuild_host`.

It does what workerd's Python entry does for a `fetch` event: build a new instance of the
entry module's `Default` class with the JS `ctx` and `env`, turn the JS request into the SDK's
Python `Request` with `python_from_rpc`, call `fetch` (a "relaxed" call, so handlers may
declare fewer parameters), and turn the result back into JS with `python_to_rpc`.
"""

from __future__ import annotations

import importlib
import site
import sys
import time
import traceback
from inspect import isawaitable
from typing import Any

_rpc: Any = None
_relaxed_call: Any = None


def setup_paths(module_root: str, python_modules: str | None, process_pth: bool) -> None:
    """Module root first on sys.path; vendored packages just before site-packages."""
    if module_root in sys.path:
        sys.path.remove(module_root)
    sys.path.insert(0, module_root)
    if python_modules is None:
        return
    for index, entry in enumerate(sys.path):
        if "site-packages" in entry:
            sys.path.insert(index, python_modules)
            break
    else:
        sys.path.append(python_modules)
    if process_pth:
        site.addsitedir(python_modules)


def import_main(name: str) -> list[Any]:
    """Import the entry module; return [module, import time in ms]."""
    started = time.perf_counter()
    module = importlib.import_module(name)
    return [module, (time.perf_counter() - started) * 1000.0]


def entry_class(module: Any, name: str) -> Any:
    """The entry module's `name` class, checked to be a WorkerEntrypoint with a fetch method."""
    from workers import WorkerEntrypoint

    cls = getattr(module, name, None)
    if cls is None:
        raise TypeError(f"the worker's main module defines no {name!r} class")
    if not (isinstance(cls, type) and issubclass(cls, WorkerEntrypoint)):
        raise TypeError(f"{name!r} in the worker's main module is not a WorkerEntrypoint subclass")
    if not callable(getattr(cls, "fetch", None)):
        raise TypeError(f"{name}.fetch is not defined")
    return cls


async def handle_fetch(cls: Any, ctx: Any, env: Any, request: Any) -> Any:
    """One fetch event: new instance, Python request in, JS response out."""
    global _rpc, _relaxed_call
    if _rpc is None:
        import workers
        from pyodide.code import relaxed_call

        _rpc = workers
        _relaxed_call = relaxed_call
    instance = cls(ctx, env)
    result = _relaxed_call(instance.fetch, _rpc.python_from_rpc(request))
    if isawaitable(result):
        result = await result
    return _rpc.python_to_rpc(result)


def format_exception(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc))
