"""Helpers for the chat tests on CPython (no tests here): a real-HTTP outbound transport
(httpx) so the worker code talks to the loopback fakes exactly as on Workers, an in-process
chat call, and the event parser."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx

from fakes.anthropic import Reply, text
from runtime.http import Headers
from runtime.outbound import OutboundRequest, TransportError, TransportResponse

DEFAULT_NARRATION = "Warming up the decks..."


class HttpxStream:
    def __init__(self, response: httpx.Response) -> None:
        self.status = response.status_code
        self.headers = Headers(list(response.headers.multi_items()))
        self._response = response
        self._chunks = response.aiter_raw()

    async def read(self) -> bytes:
        try:
            return await self._chunks.__anext__()
        except StopAsyncIteration:
            return b""
        except httpx.HTTPError as exc:
            raise TransportError(str(exc)) from None

    async def close(self) -> None:
        await self._response.aclose()


class HttpxTransport:
    """`runtime.outbound` transport over httpx: `send` (whole body) and `open` (streaming)."""

    def __init__(self) -> None:
        self.client = httpx.AsyncClient(timeout=None)
        self.urls: list[str] = []

    async def send(self, request: OutboundRequest) -> TransportResponse:
        self.urls.append(request.url)
        try:
            r = await self.client.request(
                request.method, request.url, headers=request.headers, content=request.body
            )
        except httpx.HTTPError as exc:
            raise TransportError(str(exc)) from None
        return TransportResponse(r.status_code, Headers(list(r.headers.multi_items())), r.content)

    async def open(self, request: OutboundRequest) -> HttpxStream:
        self.urls.append(request.url)
        built = self.client.build_request(
            request.method, request.url, headers=request.headers, content=request.body
        )
        try:
            response = await self.client.send(built, stream=True)
        except httpx.HTTPError as exc:
            raise TransportError(str(exc)) from None
        return HttpxStream(response)

    async def aclose(self) -> None:
        await self.client.aclose()


def events_of(body: bytes | str) -> list[tuple[str, Any]]:
    """`(type, data)` of every `data:` event, in order; comments (heartbeats) skipped."""
    raw = body.decode() if isinstance(body, bytes) else body
    out = []
    for block in raw.split("\n\n"):
        for line in block.split("\n"):
            if line.startswith("data: "):
                obj = json.loads(line[6:])
                out.append((obj["type"], obj["data"]))
    return out


def kinds(events: list[tuple[str, Any]], *, skip: tuple[str, ...] = ("log",)) -> list[str]:
    return [kind for kind, _ in events if kind not in skip]


def without_logs(events: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    return [(kind, data) for kind, data in events if kind != "log"]


def narration(line: str = DEFAULT_NARRATION) -> Reply:
    """The fast model's reply to the narrator's "started" call (every chat makes it first)."""
    return Reply([text(line)])


def chat_body(message: str = "Find me some upbeat disco", **extra: Any) -> dict[str, Any]:
    return {"message": message, **extra}


def iter_lines(events: list[tuple[str, Any]]) -> Iterator[str]:
    for kind, data in events:
        yield f"{kind}: {json.dumps(data)[:200]}"
