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

    def covers(self, importer: str, what: str) -> bool:
        if self.module.endswith(".*"):
            prefix = self.module[:-2]
            matches = importer == prefix or importer.startswith(prefix + ".")
        else:
            matches = importer == self.module
        return matches and any(what == i or what.startswith(i + ".") for i in self.imports)


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
