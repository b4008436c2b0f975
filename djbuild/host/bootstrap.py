"""Python side of djbuild's local Worker host, loaded into Pyodide as `_djbuild_host`.

It does what workerd's Python entry does for a `fetch` event: build a new instance of the
entry module's `Default` class with the JS `ctx` and `env`, turn the JS request into the SDK's
Python `Request` with `python_from_rpc`, call `fetch` (a "relaxed" call, so handlers may
declare fewer parameters), and turn the result back into JS with `python_to_rpc`.

It also measures what workerd limits: the CPU time of the entry module's top level (with a
per-module breakdown from an import hook) and of each request. A request's Python work runs
in steps (from one `await` to the next); every step of the request's coroutine, and of each
task started while it runs, is timed with the host's CPU clock and charged to its meter. The
host's JS side reads the meter, enforces the CPU limit and, with the workerd clock, advances
`Date.now()`/`performance.now()` only at the start of a step (after I/O), never within one.
"""

from __future__ import annotations

import asyncio
import contextvars
import importlib
import importlib.abc
import importlib.machinery
import linecache
import site
import sys
import time
import traceback
from collections.abc import Callable, Generator
from inspect import isawaitable
from typing import Any

_rpc: Any = None
_relaxed_call: Any = None
# The JS hooks the host installs: step_begin(meter) -> CPU ms, step_end(meter, start) -> bool
# (whether the meter is now over its CPU limit), cpu_now() -> CPU ms.
_hooks: Any = None
_meter: contextvars.ContextVar[Any] = contextvars.ContextVar("djbuild_meter", default=None)


class CpuLimitExceeded(BaseException):
    """Ends a request's Python work once the host stopped the request: over `[limits] cpu_ms`,
    or waitUntil work past its deadline.

    A BaseException, like the isolate termination it stands for: `except Exception` in the
    app does not catch it.
    """


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


class _ImportTimer(importlib.abc.MetaPathFinder):
    """Times every module executed while it sits first on sys.meta_path.

    It asks the other finders for the spec and wraps that module's loader's `exec_module`
    (per module instance only: shared class-level loaders such as the builtin and frozen
    importers are left alone, they cost microseconds). Cumulative time includes the imports
    a module makes; self time excludes them.
    """

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.times: dict[str, list[float]] = {}  # name -> [cumulative ms, self ms]
        self.parents: dict[str, str | None] = {}  # name -> the module whose import ran it
        self._stack: list[list[float]] = []  # per running import: [children ms]
        self._names: list[str] = []  # the modules running their top level, innermost last

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                self._wrap(spec)
                return spec
        return None

    def _wrap(self, spec: Any) -> None:
        loader = spec.loader
        if loader is None or isinstance(loader, type) or not hasattr(loader, "exec_module"):
            return
        try:
            original = loader.exec_module
            timer = self

            def exec_module(module: Any) -> None:
                frame = [0.0]
                timer.parents[spec.name] = timer._names[-1] if timer._names else None
                timer._stack.append(frame)
                timer._names.append(spec.name)
                started = timer.clock()
                try:
                    original(module)
                finally:
                    total = timer.clock() - started
                    timer._stack.pop()
                    timer._names.pop()
                    if timer._stack:
                        timer._stack[-1][0] += total
                    timer.times[spec.name] = [total, total - frame[0]]

            loader.exec_module = exec_module
        except (AttributeError, TypeError):
            return

    def top(self, count: int) -> list[list[Any]]:
        ranked = sorted(self.times.items(), key=lambda item: -item[1][1])[:count]
        return [[name, round(cum, 1), round(own, 1)] for name, (cum, own) in ranked]


def import_main(name: str, cpu_now: Any = None, top: int = 10) -> list[Any]:
    """Import the entry module as workerd times it (its top level only).

    Returns [module, wall ms, CPU ms, [[module, cumulative ms, self ms], ...] (CPU time,
    heaviest self time first)]. `cpu_now` is the host's CPU clock in ms.
    """
    clock: Callable[[], float] = cpu_now if cpu_now is not None else time.process_time
    module, timer, wall, cpu = _timed_import(name, clock)
    global _startup
    _startup = _Startup(timer, cpu)
    return [module, wall, cpu, timer.top(top)]


def _timed_import(name: str, clock: Callable[[], float]) -> tuple[Any, _ImportTimer, float, float]:
    """Import `name` with every module's time recorded: (module, timer, wall ms, CPU ms)."""
    timer = _ImportTimer(clock)
    sys.meta_path.insert(0, timer)
    started = time.perf_counter()
    cpu_started = clock()
    try:
        module = importlib.import_module(name)
    finally:
        sys.meta_path.remove(timer)
    return module, timer, (time.perf_counter() - started) * 1000.0, clock() - cpu_started


class _Startup:
    """The entry's import as a tree of modules (self CPU time, the module that first ran it),
    kept so that an in-place reload can report what a cold start of the new code costs."""

    def __init__(self, timer: _ImportTimer, cpu: float) -> None:
        self.own = {name: times[1] for name, times in timer.times.items()}
        self.parents = dict(timer.parents)
        # CPU time no module's top level accounts for (the import machinery around the entry)
        self.rest = max(0.0, cpu - sum(self.own.values()))

    def update(self, timer: _ImportTimer, purged: set[str]) -> None:
        """Replace the modules the reload ran again; drop purged ones no longer imported."""
        for name in purged - timer.times.keys():
            self.own.pop(name, None)
            self.parents.pop(name, None)
        for name, times in timer.times.items():
            self.own[name] = times[1]
            self.parents[name] = timer.parents.get(name)

    def cpu(self) -> float:
        return self.rest + sum(self.own.values())

    def top(self, count: int) -> list[list[Any]]:
        children: dict[str | None, list[str]] = {}
        for name, parent in self.parents.items():
            children.setdefault(parent, []).append(name)
        cumulative: dict[str, float] = {}
        path: set[str] = set()  # a module run twice can make its parent its own descendant

        def total(name: str) -> float:
            if name not in cumulative:
                path.add(name)
                kids = [kid for kid in children.get(name, []) if kid not in path]
                cumulative[name] = self.own.get(name, 0.0) + sum(total(kid) for kid in kids)
                path.discard(name)
            return cumulative[name]

        ranked = sorted(self.own.items(), key=lambda item: -item[1])[:count]
        return [[name, round(total(name), 1), round(own, 1)] for name, own in ranked]


_startup: _Startup | None = None


def _drop(name: str) -> bool:
    """Take `name` out of sys.modules and off its parent package; whether it was loaded."""
    module = sys.modules.pop(name, None)
    if module is None:
        return False
    parent_name, _, child = name.rpartition(".")
    parent = sys.modules.get(parent_name) if parent_name else None
    if parent is not None and getattr(parent, child, None) is module:
        try:
            delattr(parent, child)  # else `from parent import child` finds the old module
        except AttributeError:
            pass
    return True


def reload_main(name: str, purge: Any, cpu_now: Any = None, top: int = 10) -> list[Any]:
    """Import the entry module again after the bundle's files changed on disk.

    `purge` names the modules to run afresh (the edited ones and everything importing them);
    the rest of the worker, vendored packages included, stays loaded. Returns [module,
    reload wall ms, reload CPU ms, modules run, estimated cold-start CPU ms, top modules]:
    the estimate is the cold start's module tree with the modules run again replaced.
    """
    clock: Callable[[], float] = cpu_now if cpu_now is not None else time.process_time
    names = {str(n) for n in purge} | {name}
    for finder in list(sys.path_importer_cache.values()):
        # the folders' listings, not the stdlib zip's (re-reading that costs ~100 ms)
        if isinstance(finder, importlib.machinery.FileFinder):
            finder.invalidate_caches()
    linecache.clearcache()
    for dropped in sorted(names, key=lambda n: -n.count(".")):
        _drop(dropped)
    module, timer, wall, cpu = _timed_import(name, clock)
    if _startup is None:
        estimate, ranked = cpu, timer.top(top)
    else:
        _startup.update(timer, names)
        estimate, ranked = _startup.cpu(), _startup.top(top)
    return [module, wall, cpu, sorted(timer.times), estimate, ranked]


def install_hooks(hooks: Any) -> None:
    """Meter the tasks started during a request: the loop's create_task wraps their coroutine.

    (Pyodide 314's WebLoop breaks with a task factory, so create_task itself is wrapped.)
    """
    global _hooks
    _hooks = hooks
    loop = asyncio.get_event_loop()
    original = loop.create_task

    def create_task(coro: Any, *, context: contextvars.Context | None = None, **kwargs: Any) -> Any:
        meter = context.get(_meter) if context is not None else _meter.get()
        if meter is not None:
            coro = _metered(coro, meter)
        return original(coro, context=context, **kwargs)

    loop.create_task = create_task  # type: ignore[method-assign]


class _Driver:
    """Runs a coroutine step by step, charging each step's CPU time to `meter`."""

    def __init__(self, coro: Any, meter: Any) -> None:
        self.coro = coro
        self.meter = meter

    def __await__(self) -> Generator[Any, Any, Any]:
        coro, meter, hooks = self.coro, self.meter, _hooks
        value: Any = None
        error: BaseException | None = None
        while True:
            started = hooks.step_begin(meter)
            if started < 0:  # the request was stopped (CPU limit, waitUntil deadline)
                coro.close()
                raise CpuLimitExceeded(f"request stopped: {meter.killReason}")
            try:
                if error is not None:
                    yielded = coro.throw(error)
                else:
                    yielded = coro.send(value)
            except StopIteration as stop:
                if hooks.step_end(meter, started):
                    raise CpuLimitExceeded(f"request stopped: {meter.killReason}") from None
                return stop.value
            except BaseException:
                hooks.step_end(meter, started)
                raise
            if hooks.step_end(meter, started):
                # Over the CPU limit: end the request's Python work as workerd ends the isolate's.
                coro.close()
                raise CpuLimitExceeded(f"request stopped: {meter.killReason}")
            try:
                value, error = (yield yielded), None
            except BaseException as exc:  # cancellation, or an exception for the awaiter
                value, error = None, exc


async def _metered(coro: Any, meter: Any) -> Any:
    return await _Driver(coro, meter)


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


async def handle_fetch(cls: Any, ctx: Any, env: Any, request: Any, meter: Any = None) -> Any:
    """One fetch event: new instance, Python request in, JS response out.

    With a `meter` (a JS object) the request's Python work is timed and limited through it.
    """
    if meter is None or _hooks is None:
        return await _dispatch(cls, ctx, env, request)
    token = _meter.set(meter)
    try:
        return await _Driver(_dispatch(cls, ctx, env, request), meter)
    finally:
        _meter.reset(token)


async def _dispatch(cls: Any, ctx: Any, env: Any, request: Any) -> Any:
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
