"""What may not be imported in a Worker, why, and what to use instead."""

from __future__ import annotations

from dataclasses import dataclass

# module -> what to use instead. Prefix match: "http.client" also covers "http.client.x".
FORBIDDEN: dict[str, str] = {
    "subprocess": "no processes on Workers; call a service over HTTP instead",
    "multiprocessing": "no processes on Workers; use asyncio tasks",
    "threading": "no threads on Workers (Thread.start fails); use asyncio tasks and asyncio.Lock",
    "concurrent.futures": "no thread or process pools on Workers; use asyncio.gather",
    "socket": "no raw sockets on Workers; use runtime.outbound.fetch (JS fetch)",
    "socketserver": "no listening sockets on Workers; the Worker is the server",
    "ssl": "TLS is the platform's job; use runtime.outbound.fetch (JS fetch)",
    "select": "no file-descriptor polling on Workers; use asyncio",
    "selectors": "no file-descriptor polling on Workers; use asyncio",
    "signal": "no signals on Workers",
    "mmap": "no memory-mapped files on Workers",
    "ctypes": "no native libraries on Workers",
    "http.server": "the Worker is the server: declare routes with runtime.Router",
    "http.client": "use runtime.outbound.fetch (JS fetch)",
    "urllib.request": "use runtime.outbound.fetch (JS fetch)",
    "asyncio.subprocess": "no processes on Workers",
    # Not shipped in the Workers Python runtime at all (platform-facts).
    "curses": "not shipped on Workers",
    "dbm": "not shipped on Workers; use a KV binding (runtime.kv)",
    "ensurepip": "not shipped on Workers",
    "fcntl": "not shipped on Workers",
    "grp": "not shipped on Workers",
    "idlelib": "not shipped on Workers",
    "lib2to3": "not shipped on Workers",
    "msvcrt": "not shipped on Workers",
    "pwd": "not shipped on Workers",
    "resource": "not shipped on Workers",
    "syslog": "not shipped on Workers; log with runtime.logging.ServiceLogger",
    "termios": "not shipped on Workers",
    "tkinter": "not shipped on Workers",
    "turtle": "not shipped on Workers",
    "venv": "not shipped on Workers",
    "winreg": "not shipped on Workers",
    "winsound": "not shipped on Workers",
    "pty": "does not import on Workers",
    "tty": "does not import on Workers",
}

_NO_PROCESSES = "no processes on Workers (errno 138); call a service over HTTP instead"
_NO_SIGNALS = "no signals on Workers; bound work with timeouts (asyncio.timeout) instead"

# Calls that cannot work on Workers although their module imports fine, by dotted name.
FORBIDDEN_CALLS: dict[str, str] = {
    "os.system": _NO_PROCESSES,
    "os.popen": _NO_PROCESSES,
    "os.fork": _NO_PROCESSES,
    "os.forkpty": _NO_PROCESSES,
    "os.register_at_fork": _NO_PROCESSES,
    "os.kill": _NO_PROCESSES,
    "os.killpg": _NO_PROCESSES,
    "os.startfile": _NO_PROCESSES,
    "asyncio.create_subprocess_exec": _NO_PROCESSES,
    "asyncio.create_subprocess_shell": _NO_PROCESSES,
    "signal.signal": _NO_SIGNALS,
    "signal.alarm": _NO_SIGNALS,
    "signal.setitimer": _NO_SIGNALS,
    "signal.pause": _NO_SIGNALS,
    "signal.pthread_kill": _NO_SIGNALS,
    "signal.raise_signal": _NO_SIGNALS,
    "signal.siginterrupt": _NO_SIGNALS,
    "signal.set_wakeup_fd": _NO_SIGNALS,
    "_thread.start_new_thread": "no threads on Workers; use asyncio tasks",
    "_thread.start_new": "no threads on Workers; use asyncio tasks",
}
# The exec and spawn families (os.execv, os.spawnlp, ...), posix_spawn and the waits.
_SUFFIXES = ("l", "le", "lp", "lpe", "v", "ve", "vp", "vpe")
FORBIDDEN_CALLS.update({f"os.exec{s}": _NO_PROCESSES for s in _SUFFIXES})
FORBIDDEN_CALLS.update({f"os.spawn{s}": _NO_PROCESSES for s in _SUFFIXES})
FORBIDDEN_CALLS.update(
    {
        f"os.{name}": _NO_PROCESSES
        for name in ("posix_spawn", "posix_spawnp", "wait", "wait3", "wait4", "waitid", "waitpid")
    }
)
# Methods forbidden on whatever object they are called (an event loop, usually).
FORBIDDEN_METHODS: dict[str, str] = {
    "add_signal_handler": _NO_SIGNALS,
    "subprocess_exec": _NO_PROCESSES,
    "subprocess_shell": _NO_PROCESSES,
}


def forbidden_call(dotted: str) -> str | None:
    """The advice when `dotted` (a resolved name such as 'os.system') may not be used."""
    return FORBIDDEN_CALLS.get(dotted)


HAZARD_ADVICE = {
    "entropy-at-import": (
        "randomness while modules load breaks the deploy-time memory snapshot; "
        "call it inside the handler"
    ),
    "timer-at-import": "Workers forbid timers and tasks at global scope; start them inside a request",
    "blocking-sleep": "time.sleep blocks the whole isolate; use `await asyncio.sleep(...)`",
}

# Provided by the platform (workerd's Python runtime): never vendored, never scanned.
# The `workers` SDK is not among them: from compatibility date 2026-04-21 workerd enables
# `enable_python_external_sdk` and stops shipping it, so bundles vendor workers-runtime-sdk.
PLATFORM_MODULES = {
    "js",
    "pyodide",
    "pyodide_js",
    "_pyodide_entrypoint_helper",
    "_cloudflare_compat_flags",
}


def forbidden_reason(module: str) -> tuple[str, str] | None:
    """(the forbidden name matched, advice) when `module` is or lies under a forbidden one."""
    parts = module.split(".")
    for i in range(len(parts), 0, -1):
        name = ".".join(parts[:i])
        if name in FORBIDDEN:
            return name, FORBIDDEN[name]
    return None


@dataclass(frozen=True)
class Allowance:
    """A justified exception from `[[tool.djbuild.allow]]` in pyproject.toml."""

    module: str  # the importing module (exact, or a package prefix ending in ".*")
    imports: tuple[str, ...]  # forbidden names or hazard kinds it may use
    reason: str

    def applies_to(self, importer: str) -> bool:
        if self.module.endswith(".*"):
            prefix = self.module[:-2]
            return importer == prefix or importer.startswith(prefix + ".")
        return importer == self.module

    def covers(self, importer: str, what: str) -> bool:
        return self.applies_to(importer) and any(
            what == i or what.startswith(i + ".") for i in self.imports
        )

    def covers_call(self, importer: str, call: str) -> bool:
        """A forbidden call needs its own name listed (allowing `signal` allows the import,
        not `signal.signal`), or the kind "forbidden-call"."""
        return self.applies_to(importer) and any(
            i in (call, "forbidden-call") for i in self.imports
        )


# Known-safe uses in widely used packages, so every app need not repeat them.
BUILTIN_ALLOWANCES: tuple[Allowance, ...] = (
    Allowance(
        "pydantic.main",
        ("threading",),
        "pydantic uses threading.RLock only as a lock; locks work on Pyodide (built-in)",
    ),
    Allowance(
        "workers.utils",
        ("http.client",),
        "the workers SDK uses http.client.HTTPMessage as a header container; no connection is made (built-in)",
    ),
    Allowance(
        "pydantic._internal._git",
        ("subprocess",),
        "only pydantic.version_info() reaches it, never called in a Worker (built-in)",
    ),
)


# Vendored subpackages not followed when only other vendored code reaches them, because those
# imports run only for features a Worker app does not use. An app that imports one itself
# (or names it in `[tool.djbuild] include`) gets it, and everything it imports.
BUILTIN_PRUNES: dict[str, str] = {
    "pydantic.v1": "pydantic reaches its v1 copy only for v1-style types (`__get_validators__`)",
}


def pruned(importer: str, target: str) -> bool:
    """Whether vendored `importer` importing `target` is an edge the walk does not follow."""
    for prefix in BUILTIN_PRUNES:
        inside = target == prefix or target.startswith(prefix + ".")
        if inside and not (importer == prefix or importer.startswith(prefix + ".")):
            return True
    return False
