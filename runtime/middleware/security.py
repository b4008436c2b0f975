"""Security headers on every response (the set Hono's secureHeaders gave the TS worker).

`X-XSS-Protection` is `0`: the old `1; mode=block` switched on browsers' XSS auditors, which
are deprecated and could themselves be abused to leak data from a page; `0` turns them off.
The header set is computed once, when the app is assembled, not per request.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from ..context import Context
from ..http import HeaderDefaults, Response

DEFAULTS: dict[str, str] = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "X-XSS-Protection": "0",
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
    """Middleware adding the headers a response does not set itself; `None` drops one."""
    headers = dict(DEFAULTS)
    for name, value in (overrides or {}).items():
        if value is None:
            headers.pop(name, None)
        else:
            headers[name] = value
    defaults = HeaderDefaults(headers)

    async def middleware(c: Context, nxt: Callable[[], Awaitable[Response]]) -> Response:
        response = await nxt()
        response.headers.add_missing(defaults)
        return response

    return middleware
