"""CORS with credentials for one configured front-end origin (or a few).

The allowed origin comes from a var (FRONTEND_URL by default) read per request, so one
build serves production and local development. PATCH is allowed: the TS worker's list
left it out, so a cross-origin `PATCH /api/mix/preferences` failed its preflight.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from ..context import Context
from ..http import Response

ALLOW_METHODS = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"
ALLOW_HEADERS = "Content-Type, Authorization, X-Request-Id"


def cors(
    *,
    origin_var: str = "FRONTEND_URL",
    default_origin: str,
    credentials: bool = True,
    max_age: int = 600,
    expose_headers: str = "X-Request-Id",
) -> Callable[[Context, Callable[[], Awaitable[Response]]], Awaitable[Response]]:
    # The parsed origin set per configured value: the var is read per request (one build
    # serves several deployments), but it is split and normalised only when it changes.
    parsed: dict[str, frozenset[str]] = {}

    def allowed_origins(configured: str) -> frozenset[str]:
        found = parsed.get(configured)
        if found is None:
            if len(parsed) >= 8:
                parsed.clear()
            found = frozenset(o.strip().rstrip("/") for o in configured.split(",") if o.strip())
            parsed[configured] = found
        return found

    async def middleware(c: Context, nxt: Callable[[], Awaitable[Response]]) -> Response:
        origin = c.req.headers.get("origin")
        if origin is None:  # same-origin or not a browser: nothing to allow
            if c.req.method == "OPTIONS" and c.req.headers.get("access-control-request-method"):
                response = Response(b"", 204)
            else:
                response = await nxt()
            response.headers.add("Vary", "Origin")
            return response
        configured = c.var(origin_var, default_origin) or default_origin
        match = origin.rstrip("/") in allowed_origins(configured)

        if c.req.method == "OPTIONS" and c.req.headers.get("access-control-request-method"):
            response = Response(b"", 204)
            if match:
                assert origin is not None
                response.headers.set("Access-Control-Allow-Origin", origin)
                response.headers.set("Access-Control-Allow-Methods", ALLOW_METHODS)
                requested = c.req.headers.get("access-control-request-headers")
                response.headers.set("Access-Control-Allow-Headers", requested or ALLOW_HEADERS)
                response.headers.set("Access-Control-Max-Age", str(max_age))
                if credentials:
                    response.headers.set("Access-Control-Allow-Credentials", "true")
            response.headers.add("Vary", "Origin")
            return response

        response = await nxt()
        if match:
            assert origin is not None
            response.headers.set("Access-Control-Allow-Origin", origin)
            if credentials:
                response.headers.set("Access-Control-Allow-Credentials", "true")
            if expose_headers:
                response.headers.set("Access-Control-Expose-Headers", expose_headers)
        response.headers.add("Vary", "Origin")
        return response

    return middleware
