"""Call an App in-process on CPython: unit tests of routing, validation and middleware.

End-to-end behaviour is tested on the local host over HTTP; this client is for the fast
layer underneath, with the same `Request`/`Response` types the Worker uses.
"""

from __future__ import annotations

import json as jsonlib
from dataclasses import dataclass, field
from typing import Any

from ..app import App
from ..http import Headers, Request
from ..platform.local import LocalPlatform


@dataclass
class Result:
    status: int
    headers: Headers
    body: bytes
    chunks: list[bytes] = field(default_factory=list)

    def json(self) -> Any:
        return jsonlib.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode()


class Client:
    def __init__(
        self, app: App, env: dict[str, Any] | None = None, origin: str = "http://test"
    ) -> None:
        self.app = app
        self.env = env or {}
        self.origin = origin
        self.platform = LocalPlatform()

    async def request(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        json: Any = None,
        content: bytes | str | None = None,
    ) -> Result:
        hdrs = Headers(headers or {})
        body: bytes | None = None
        if json is not None:
            body = jsonlib.dumps(json).encode()
            hdrs.setdefault("Content-Type", "application/json")
        elif content is not None:
            body = content.encode() if isinstance(content, str) else content
        if body is not None:
            hdrs.setdefault("Content-Length", str(len(body)))
        req = Request(method, self.origin + path, hdrs, body=body or b"")
        response = await self.app.handle(req, self.env, self.platform)
        if response.is_stream:
            chunks = [chunk async for chunk in response.body]
            return Result(response.status, response.headers, b"".join(chunks), chunks)
        return Result(response.status, response.headers, bytes(response.body))

    async def get(self, path: str, **kw: Any) -> Result:
        return await self.request("GET", path, **kw)

    async def post(self, path: str, **kw: Any) -> Result:
        return await self.request("POST", path, **kw)
