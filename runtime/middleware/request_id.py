"""Give every request an id: a sane incoming `X-Request-Id`, else a fresh one.

The id is made inside the request, never at import: entropy while modules load breaks
the Workers deploy-time snapshot.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Awaitable, Callable

from ..context import Context
from ..http import PER_REQUEST_HEADERS, Response

HEADER = "X-Request-Id"
_SANE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")


def request_id(
    header: str = HEADER,
) -> Callable[[Context, Callable[[], Awaitable[Response]]], Awaitable[Response]]:
    PER_REQUEST_HEADERS.add(header.lower())

    async def middleware(c: Context, nxt: Callable[[], Awaitable[Response]]) -> Response:
        incoming = c.req.headers.get(header)
        c.request_id = incoming if incoming and _SANE.match(incoming) else secrets.token_hex(8)
        response = await nxt()
        response.headers.set(header, c.request_id)
        return response

    return middleware
