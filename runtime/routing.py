"""Route declarations and routers.

A route is data: method, path, the pydantic models of its inputs and of each response
status, its auth, how it streams (a spec object, e.g. `runtime.sse.SSE`), and OpenAPI
metadata. The same declaration drives validation at run time and the OpenAPI document at
build time.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable
from typing import Any, Literal, Protocol

from pydantic import BaseModel

from runtime.records import field, record

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
_PARAM = re.compile(r"^\{([A-Za-z_][A-Za-z0-9_]*)\}$")

Auth = Literal["bearer"] | None


class StreamSpec(Protocol):
    """A streaming route's settings (`runtime.sse.SSE`); `kind` names the protocol."""

    @property
    def kind(self) -> str: ...


@record
class Route:
    method: str
    path: str
    handler: Callable[..., Awaitable[Any]]
    path_model: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    headers: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    responses: dict[int, type[BaseModel] | None] = field(default_factory=dict)
    auth: Auth = None
    stream: StreamSpec | None = None  # how a streaming route answers, e.g. runtime.sse.SSE(...)
    summary: str | None = None
    description: str | None = None
    tags: list[str] = field(default_factory=list)
    operation_id: str | None = None
    status: int = 200
    max_body: int | None = None
    body_required: bool = True  # False: an empty body is allowed and reaches the handler as None
    include_in_schema: bool = True
    # Where the declaration stands, so build errors can name module and line.
    module: str = ""
    source_file: str = ""
    line: int = 0

    @property
    def param_names(self) -> list[str]:
        return [m.group(1) for seg in self.path.split("/") if (m := _PARAM.match(seg))]

    def with_prefix(self, prefix: str, tags: list[str]) -> Route:
        clone = Route(**{k: getattr(self, k) for k in self.__record_names__})
        clone.path = join_paths(prefix, self.path)
        clone.tags = list(dict.fromkeys([*tags, *self.tags]))
        return clone


def join_paths(prefix: str, path: str) -> str:
    prefix = prefix.rstrip("/")
    if path in ("", "/"):
        return prefix or "/"
    return prefix + ("" if path.startswith("/") else "/") + path


class Router:
    """A group of routes, mounted under a prefix with `App.route(prefix, router)`."""

    def __init__(self, *, tags: list[str] | None = None, auth: Auth = None) -> None:
        self.routes: list[Route] = []
        self.tags = tags or []
        self.auth = auth

    def add(
        self, method: str, path: str, handler: Callable[..., Awaitable[Any]], **spec: Any
    ) -> Route:
        method = method.upper()
        if method not in METHODS:
            raise ValueError(f"unsupported method {method!r} for {path!r}")
        if "path_params" in spec:
            spec["path_model"] = spec.pop("path_params")
        spec.setdefault("auth", self.auth)
        if spec.get("stream") == "sse":  # shorthand for the default spec
            from .sse import SSE

            spec["stream"] = SSE()
        code = getattr(handler, "__code__", None)
        route = Route(
            method=method,
            path=path,
            handler=handler,
            module=getattr(handler, "__module__", ""),
            source_file=code.co_filename if code else (inspect.getsourcefile(handler) or ""),
            line=code.co_firstlineno if code else 0,
            **spec,
        )
        route.tags = list(dict.fromkeys([*self.tags, *route.tags]))
        self.routes.append(route)
        return route

    def _decorator(self, method: str, path: str, spec: dict[str, Any]) -> Callable[[Any], Any]:
        def register(handler: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
            self.add(method, path, handler, **spec)
            return handler

        return register

    def get(self, path: str, **spec: Any) -> Callable[[Any], Any]:
        return self._decorator("GET", path, spec)

    def post(self, path: str, **spec: Any) -> Callable[[Any], Any]:
        return self._decorator("POST", path, spec)

    def put(self, path: str, **spec: Any) -> Callable[[Any], Any]:
        return self._decorator("PUT", path, spec)

    def patch(self, path: str, **spec: Any) -> Callable[[Any], Any]:
        return self._decorator("PATCH", path, spec)

    def delete(self, path: str, **spec: Any) -> Callable[[Any], Any]:
        return self._decorator("DELETE", path, spec)


class _Pattern:
    __slots__ = ("names", "regex", "template")

    def __init__(self, template: str) -> None:
        self.template = template
        parts = []
        self.names: list[str] = []
        for seg in template.strip("/").split("/"):
            m = _PARAM.match(seg)
            if m:
                self.names.append(m.group(1))
                parts.append("([^/]+)")
            else:
                parts.append(re.escape(seg))
        self.regex = re.compile("^/" + "/".join(parts) + "/?$" if parts != [""] else "^/$")


class RouteTable:
    """Matches a path to its routes: static paths by dict, `{param}` paths by regex."""

    def __init__(self, routes: list[Route]) -> None:
        self._static: dict[str, dict[str, Route]] = {}
        self._dynamic: list[tuple[_Pattern, dict[str, Route]]] = []
        by_template: dict[str, dict[str, Route]] = {}
        for route in routes:
            by_template.setdefault(route.path, {})[route.method] = route
        for template, methods in by_template.items():
            if "{" in template:
                self._dynamic.append((_Pattern(template), methods))
            else:
                self._static[template.rstrip("/") or "/"] = methods

    def match(self, path: str) -> tuple[dict[str, Route], dict[str, str]] | None:
        methods = self._static.get(path.rstrip("/") or "/")
        if methods is not None:
            return methods, {}
        for pattern, methods in self._dynamic:
            m = pattern.regex.match(path)
            if m:
                from urllib.parse import unquote

                return methods, {
                    n: unquote(v) for n, v in zip(pattern.names, m.groups(), strict=True)
                }
        return None
