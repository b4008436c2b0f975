"""The app: mounted routers, a middleware chain, and dispatch of one request.

Like Hono: a handler is `(context) -> Response`; middleware is
`(context, next) -> Response`; everything beyond routing is middleware.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from pydantic import BaseModel

from . import context as request_context
from .auth import read_bearer
from .context import Context, Env
from .errors import HTTPError
from .http import Request, Response
from .logging import ServiceLogger
from .platform import Platform
from .routing import Route, Router, RouteTable
from .validation import header_data, parse_json, query_data, validate

Next = Callable[[], Awaitable[Response]]
Middleware = Callable[[Context, Next], Awaitable[Response]]
Fallback = Callable[[Context], Awaitable[Response]]

DEFAULT_MAX_BODY = 1024 * 1024


class App(Router):
    def __init__(
        self,
        *,
        title: str,
        version: str,
        description: str | None = None,
        servers: list[dict[str, str]] | None = None,
        max_body_bytes: int = DEFAULT_MAX_BODY,
        api_prefix: str = "/api",
    ) -> None:
        super().__init__()
        self.title = title
        self.version = version
        self.description = description
        self.servers = servers or []
        self.max_body_bytes = max_body_bytes
        self.api_prefix = api_prefix
        self.middleware: list[Middleware] = []
        self.fallback: Fallback | None = None
        self._mounted: list[tuple[str, Router, bool]] = []
        self._table: RouteTable | None = None
        self._chain: Callable[[Context], Awaitable[Response]] | None = None
        self.logger = ServiceLogger("app")

    # -- assembly ---------------------------------------------------------------------------
    def route(self, prefix: str, router: Router, *, include_in_schema: bool = True) -> App:
        """Mount `router` under `prefix`, like Hono's `app.route('/api/x', router)`."""
        self._mounted.append((prefix, router, include_in_schema))
        self._table = None
        return self

    def use(self, middleware: Middleware) -> App:
        self.middleware.append(middleware)
        self._chain = None
        return self

    def not_found(self, handler: Fallback) -> App:
        """Handle paths no route matches outside the API prefix (static assets, SPA)."""
        self.fallback = handler
        return self

    def all_routes(self) -> list[Route]:
        routes = list(self.routes)
        for prefix, router, in_schema in self._mounted:
            for r in router.routes:
                mounted = r.with_prefix(prefix, router.tags)
                mounted.include_in_schema = r.include_in_schema and in_schema
                routes.append(mounted)
        return routes

    def _freeze(self) -> None:
        self._table = RouteTable(self.all_routes())
        chain: Callable[[Context], Awaitable[Response]] = self._dispatch_safely
        for mw in reversed(self.middleware):
            chain = _link(mw, chain)
        self._chain = chain

    # -- serving ----------------------------------------------------------------------------
    async def handle(self, request: Request, env: Any, platform: Platform) -> Response:
        if self._table is None or self._chain is None:
            self._freeze()
        assert self._chain is not None
        c = Context(request, env if isinstance(env, Env) else Env(env), platform, self.logger)
        token = request_context.bind(c)
        try:
            try:
                response = await self._chain(c)
            except Exception as exc:  # middleware failed: still no trace to the client
                response = self._internal_error(c, exc)
            for name, value in c._response_headers:
                response.headers.add(name, value)
            if request.method == "HEAD" and not response.is_stream:
                response.body = b""
            return response
        finally:
            request_context.unbind(token)

    async def _dispatch_safely(self, c: Context) -> Response:
        try:
            return await self._dispatch(c)
        except HTTPError as exc:
            return exc.to_response()
        except Exception as exc:
            return self._internal_error(c, exc)

    def _internal_error(self, c: Context, exc: BaseException) -> Response:
        c.log.error("unhandled exception", exc, method=c.req.method, path=c.req.path)
        return Response.json(
            {"error": "Internal server error", "requestId": c.request_id or None}, 500
        )

    async def _dispatch(self, c: Context) -> Response:
        assert self._table is not None
        req = c.req
        found = self._table.match(req.path)
        if found is None:
            if self.fallback is not None and not _under(req.path, self.api_prefix):
                return await self.fallback(c)
            raise HTTPError(404, "Not found", path=req.path)
        methods, raw_params = found
        method = req.method
        route = methods.get(method) or (methods.get("GET") if method == "HEAD" else None)
        if route is None:
            allow = _allow(methods)
            if method == "OPTIONS":
                return Response(b"", 204, {"Allow": allow})
            raise HTTPError(
                405, "Method not allowed", headers={"Allow": allow}, allow=allow.split(", ")
            )
        c.route = route
        if (
            route.auth is None
            and route.path_model is None
            and route.query is None
            and route.headers is None
            and route.body is None
        ):
            c.params = raw_params  # nothing declared to validate
        else:
            await self._bind_inputs(c, route, raw_params)
        if route.stream is not None:
            from .sse import HEADERS, respond

            if req.method == "HEAD":  # a GET's headers; the handler (and its calls) never runs
                return Response(b"", 200, dict(HEADERS))
            return await respond(c, route)
        return _to_response(await route.handler(c), route)

    async def _bind_inputs(self, c: Context, route: Route, raw_params: dict[str, str]) -> None:
        req = c.req
        if route.auth == "bearer":
            c.token = read_bearer(req.headers)
        if route.path_model is not None:
            c.params = validate(route.path_model, raw_params, "path")
        else:
            c.params = raw_params
        if route.query is not None:
            c.query = validate(route.query, query_data(route.query, req.query_items()), "query")
        if route.headers is not None:
            c.headers = validate(route.headers, header_data(route.headers, req.headers), "header")
        if route.body is not None:
            raw = await self._read_body(c, route)
            if not route.body_required and not raw.strip():
                c.body = None
            else:
                c.body = validate(route.body, parse_json(raw), "body")

    async def _read_body(self, c: Context, route: Route) -> bytes:
        limit = route.max_body or self.max_body_bytes
        declared = c.req.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise HTTPError(413, "Payload too large", limit=limit)
        raw = await c.req.bytes()
        if len(raw) > limit:
            raise HTTPError(413, "Payload too large", limit=limit)
        return raw


def _link(
    mw: Middleware, nxt: Callable[[Context], Awaitable[Response]]
) -> Callable[[Context], Awaitable[Response]]:
    def step(c: Context) -> Awaitable[Response]:
        return mw(c, partial(nxt, c))  # the middleware's own awaitable: no frame of our own

    return step


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix.rstrip("/") + "/")


def _allow(methods: dict[str, Route]) -> str:
    allowed = set(methods)
    if "GET" in allowed:
        allowed.add("HEAD")
    allowed.add("OPTIONS")
    return ", ".join(sorted(allowed))


def _to_response(result: Any, route: Route) -> Response:
    if isinstance(result, Response):
        return result
    if result is None:
        return Response(b"", 204 if route.status == 200 else route.status)
    if isinstance(result, (BaseModel, dict, list)):
        return Response.json(result, route.status)
    raise TypeError(
        f"handler {route.module}.{route.handler.__name__} returned {type(result).__name__}"
    )
