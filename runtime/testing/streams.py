"""Scripted outbound streams for tests on CPython: no network, same protocol as the Worker's.

`MemoryStream` is one answered request whose body arrives chunk by chunk; a
`MemoryStreamTransport` hands them out in order. Outside `runtime.outbound`, so the Worker
never loads them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

from ..http import Headers
from ..outbound import OutboundRequest, TransportError, TransportResponse, TransportStream


class MemoryStream:
    """A `TransportStream` over given chunks, for tests on CPython (no network).

    `delay` seconds pass before each chunk; `fail_after` chunks are delivered before a
    `TransportError` (a connection that drops mid-body). `closed` tells whether the reader
    let go, `aborted` whether it did so before the end."""

    def __init__(
        self,
        status: int = 200,
        chunks: Sequence[bytes] = (),
        headers: Mapping[str, str] | None = None,
        *,
        delay: float = 0.0,
        fail_after: int | None = None,
    ) -> None:
        self.status = status
        self.headers = Headers(dict(headers or {}))
        self._chunks = list(chunks)
        self._delay = delay
        self._fail_after = fail_after
        self.delivered = 0
        self.closed = False
        self.aborted = False

    async def read(self) -> bytes:
        if self.closed:
            return b""
        if self._fail_after is not None and self.delivered >= self._fail_after:
            raise TransportError("connection reset by peer")
        if self.delivered >= len(self._chunks):
            return b""
        if self._delay:
            await asyncio.sleep(self._delay)
        chunk = self._chunks[self.delivered]
        self.delivered += 1
        return chunk

    async def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.aborted = self.delivered < len(self._chunks)


class MemoryStreamTransport:
    """Answers each `open` with the next `MemoryStream` (and `send` with its whole body)."""

    def __init__(self, *streams: MemoryStream) -> None:
        self._streams = list(streams)
        self.requests: list[OutboundRequest] = []
        self.opened: list[MemoryStream] = []

    def add(self, *streams: MemoryStream) -> None:
        self._streams.extend(streams)

    async def open(self, request: OutboundRequest) -> TransportStream:
        self.requests.append(request)
        if not self._streams:
            raise TransportError("no scripted stream left")
        stream = self._streams.pop(0)
        self.opened.append(stream)
        return stream

    async def send(self, request: OutboundRequest) -> TransportResponse:
        stream = await self.open(request)
        parts = []
        while chunk := await stream.read():
            parts.append(chunk)
        await stream.close()
        return TransportResponse(stream.status, stream.headers, b"".join(parts))
