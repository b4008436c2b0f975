"""Security headers on every response (the set Hono's secureHeaders gave the TS worker)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from ..context import Context
from ..http import Response

DEFAULTS: dict[str, str] = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Permissions-Policy": "camera=(), geolocation=(), microphone=()",
    "Strict-Transport-Security": "max-age=15552000; includeSubDomains",
    "Cross-Origin-Opener-Policy": "same-origin",
    "X-DNS-Prefetch-Control": "off",
    "X-Permitted-Cross-Domain-Policies": "none",
}


def security_headers(
    overrides: dict[str, str | None] | None = None,
) -> Callable[[Context, Callable[[], Awaitable[Response]]], Awaitable[Response]]:
    headers = dict(DEFAULTS)
    for name, value in (overrides or {}).items():
        if value is None:
            headers.pop(name, None)
        else:
            headers[name] = value
    items = list(headers.items())

    async def middleware(c: Context, nxt: Callable[[], Awaitable[Response]]) -> Response:
        response = await nxt()
        for name, value in items:
            response.headers.setdefault(name, value)
        return response

    return middleware
