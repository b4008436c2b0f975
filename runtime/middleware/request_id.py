"""Give every request an id: a sane incoming `X-Request-Id`, else a fresh one.

The id is made inside the request, never at import: entropy while modules load breaks
the Workers deploy-time snapshot.
"""

from __future__ import annotations

import os
import re
from collections.abc import Awaitable, Callable

from ..context import Context
from ..http import PER_REQUEST_HEADERS, Response

HEADER = "X-Request-Id"
_SANE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")


_pool = bytearray()
_POOL_BYTES = 2048


def fresh_id() -> str:
    """16 hex characters of OS entropy, drawn 2 KB at a time (inside requests, never at import).

    On Pyodide each `os.urandom` call crosses into JS (crypto.getRandomValues); one draw
    serves 256 ids.
    """
    global _pool
    if len(_pool) < 8:
        _pool = bytearray(os.urandom(_POOL_BYTES))
    chunk = _pool[-8:]
    del _pool[-8:]
    return chunk.hex()


def request_id(
    header: str = HEADER,
) -> Callable[[Context, Callable[[], Awaitable[Response]]], Awaitable[Response]]:
    PER_REQUEST_HEADERS.add(header.lower())

    async def middleware(c: Context, nxt: Callable[[], Awaitable[Response]]) -> Response:
        incoming = c.req.headers.get(header)
        c.request_id = incoming if incoming and _SANE.match(incoming) else fresh_id()
        response = await nxt()
        response.headers.set(header, c.request_id)
        return response

    return middleware
