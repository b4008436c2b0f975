"""Checks of the route declarations that would otherwise fail at request time, or never."""

from __future__ import annotations

import inspect
import os
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from runtime.app import App
from runtime.routing import Route


@dataclass(frozen=True)
class RouteProblem:
    route: Route
    message: str

    def describe(self, root: Path | None = None) -> str:
        path = self.route.source_file
        if root is not None and path:
            try:
                path = os.path.relpath(path, root)
            except ValueError:
                pass
        return f"{path}:{self.route.line}: {self.route.method} {self.route.path}: {self.message}"


def _is_model(obj: Any) -> bool:
    return isinstance(obj, type) and issubclass(obj, BaseModel)


# A model class is immutable once built; a dev build re-imports an edited module, which makes
# new classes, so the classes it kept keep their verdict.
_SERIALISABLE: weakref.WeakKeyDictionary[type, str | None] = weakref.WeakKeyDictionary()


def check_routes(app: App) -> list[RouteProblem]:
    problems: list[RouteProblem] = []
    serialisable = _SERIALISABLE  # one schema per model, however many routes (and dev builds)
    seen: dict[tuple[str, str], Route] = {}
    routes = app.all_routes()
    _judge_together(routes, serialisable)
    for r in routes:
        key = (r.method, _shape(r.path))
        if key in seen:
            first = seen[key]
            problems.append(
                RouteProblem(r, f"duplicate route: also declared at {first.module}:{first.line}")
            )
        else:
            seen[key] = r
        problems += [RouteProblem(r, m) for m in _check_one(r, serialisable)]
    return problems


def _shape(path: str) -> str:
    """`/a/{x}` and `/a/{y}` match the same requests."""
    return "/".join("{}" if s.startswith("{") else s for s in path.rstrip("/").split("/"))


def _judge_together(routes: list[Route], seen: Any) -> None:
    """One schema pass over every response model not judged yet, shared definitions made once
    (as for the OpenAPI document): when it goes through, each model is serialisable; when it
    does not, each is judged on its own, to name the one that fails."""
    fresh = list({m: None for r in routes for m in r.responses.values() if _is_model(m)})
    fresh = [m for m in fresh if m not in seen]
    if len(fresh) < 2:
        return
    try:
        models_json_schema([(m, "serialization") for m in fresh])
    except Exception:
        return
    for model in fresh:
        seen[model] = None


def _serialisation_error(model: type, seen: dict[type, str | None]) -> str | None:
    if model not in seen:
        try:
            model.model_json_schema(mode="serialization")  # type: ignore[attr-defined]
            seen[model] = None
        except Exception as exc:
            seen[model] = str(exc)
    return seen[model]


def _check_one(r: Route, serialisable: dict[type, str | None]) -> list[str]:
    out: list[str] = []
    names = r.param_names
    if len(set(names)) != len(names):
        out.append("a path parameter name is used twice")
    if names and r.path_model is None:
        out.append(f"path parameter(s) {', '.join(names)} have no model: declare path_params=")
    for label, model in (
        ("path_params", r.path_model),
        ("query", r.query),
        ("headers", r.headers),
        ("body", r.body),
    ):
        if model is not None and not _is_model(model):
            out.append(f"{label}= must be a pydantic model class, got {model!r}")
    if _is_model(r.path_model):
        fields = {f.alias or n for n, f in r.path_model.model_fields.items()}
        if missing := [n for n in names if n not in fields]:
            out.append(f"path model {r.path_model.__name__} lacks field(s) {', '.join(missing)}")
        if extra := sorted(fields - set(names)):
            out.append(
                f"path model {r.path_model.__name__} has field(s) not in the path: {', '.join(extra)}"
            )
    if r.body is not None and r.method in ("GET", "DELETE"):
        out.append(f"a {r.method} route cannot declare a JSON body")
    for status, model in r.responses.items():
        if not isinstance(status, int) or not 100 <= status <= 599:
            out.append(f"response status {status!r} is not an HTTP status code")
        if model is None:
            continue
        if not _is_model(model):
            out.append(f"response {status} must be a pydantic model class or None, got {model!r}")
            continue
        error = _serialisation_error(model, serialisable)
        if error is not None:
            out.append(f"response {status} model {model.__name__} cannot be serialised: {error}")
    if not inspect.iscoroutinefunction(r.handler):
        out.append(f"handler {r.handler.__name__} must be `async def`")
    else:
        arity = len(inspect.signature(r.handler).parameters)
        wanted = 2 if r.stream else 1
        if arity != wanted:
            shape = "(c, stream)" if r.stream else "(c)"
            out.append(f"handler {r.handler.__name__} must take {shape}")
    if r.auth not in (None, "bearer"):
        out.append(f"unknown auth {r.auth!r} (supported: 'bearer')")
    if r.stream is not None and getattr(r.stream, "kind", None) != "sse":
        out.append(f"unknown stream kind {r.stream!r} (supported: runtime.sse.SSE)")
    return out
