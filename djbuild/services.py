"""Local services for `djbuild dev`: `[tool.djbuild.dev] services = "module:function"`.

The protocol, small on purpose: djbuild imports `module` (with the project root on
`sys.path`) and calls `function(origin)`, where `origin` is the address dev serves on
(`http://127.0.0.1:8787`). The function starts whatever the Worker should talk to locally
(fakes of upstream APIs, a database, ...) and returns `(vars, stop)`: a mapping of vars to
give the Worker (base URLs, test keys, `FRONTEND_URL=origin`, ...) and a callable that stops
everything. Vars the user sets in `.dev.vars` or `--env-file` win over these. djbuild itself
imports nothing of the app: the names come from config.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path


class ServicesError(Exception):
    pass


@dataclass
class RunningServices:
    spec: str
    vars: dict[str, str]
    stop: Callable[[], None]


def _resolve(spec: str, root: Path) -> Callable[[str], object]:
    module_name, _, attr = spec.partition(":")
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise ServicesError(f"services {spec!r}: cannot import {module_name!r}: {exc}") from exc
    function = getattr(module, attr, None)
    if not callable(function):
        raise ServicesError(f"services {spec!r}: {module_name} has no function {attr!r}")
    return function


def start(spec: str, root: Path, origin: str) -> RunningServices:
    """Start the configured services; they must answer `(vars, stop)` (see the module doc)."""
    answer = _resolve(spec, root.resolve())(origin)
    if not (isinstance(answer, tuple) and len(answer) == 2):
        raise ServicesError(f"services {spec!r} must return (vars, stop), got {type(answer)}")
    values, stop = answer
    if not callable(stop):
        raise ServicesError(f"services {spec!r}: the second item must be a stop callable")
    if not isinstance(values, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in values.items()
    ):
        stop()
        raise ServicesError(f"services {spec!r}: vars must map names to strings")
    return RunningServices(spec, dict(values), stop)


def dev_vars(values: Mapping[str, str], user_text: str = "") -> str:
    """`.dev.vars` text: the services' vars first, the user's own lines after (the host reads
    the file top to bottom, so a name the user sets wins)."""
    lines = "".join(f"{name}={_quote(value)}\n" for name, value in values.items())
    if user_text and not user_text.endswith("\n"):
        user_text += "\n"
    return lines + user_text


def _quote(value: str) -> str:
    if value and all(ch.isalnum() or ch in "-_./:@,+=%~" for ch in value):
        return value
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'
