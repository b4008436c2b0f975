"""Bearer tokens from the Authorization header."""

from __future__ import annotations

import re

from .errors import HTTPError
from .http import Headers

_BEARER = re.compile(r"^Bearer[ ]+([A-Za-z0-9\-._~+/]+=*)\s*$", re.IGNORECASE)


class Unauthorized(HTTPError):
    def __init__(self, message: str) -> None:
        super().__init__(401, message, headers={"WWW-Authenticate": 'Bearer realm="api"'})


def bearer_token(headers: Headers) -> str | None:
    """The token of a well-formed `Authorization: Bearer <t>` header, else None."""
    value = headers.get("authorization")
    if not value:
        return None
    m = _BEARER.match(value)
    return m.group(1) if m else None


def read_bearer(headers: Headers) -> str:
    value = headers.get("authorization")
    if not value:
        raise Unauthorized("Missing Authorization header; expected 'Bearer <token>'")
    token = bearer_token(headers)
    if token is None:
        raise Unauthorized("Malformed Authorization header; expected 'Bearer <token>'")
    return token
