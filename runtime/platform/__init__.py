"""What the runtime needs from the platform it runs on, and nothing more.

Two implementations: `runtime.platform.workers` (Pyodide inside workerd or the local host,
built on the real `workers` SDK and JS streams) and `runtime.platform.local` (plain asyncio
on CPython, for unit tests). Route code never imports either: it sees a `Context`.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, Protocol


class PipeWriter(Protocol):
    """The writable end of a response body stream."""

    async def write(self, chunk: bytes) -> None: ...

    async def close(self) -> None: ...

    async def abort(self, reason: str = "") -> None: ...

    @property
    def desired_size(self) -> int | None: ...


class Pipe(Protocol):
    """A bounded byte pipe: the writer side for the handler, `body` for the Response."""

    writer: PipeWriter
    body: Any  # what the platform adapter puts into the response (a JS ReadableStream, ...)


class Platform(Protocol):
    def wait_until(self, awaitable: Awaitable[Any]) -> None: ...

    def create_pipe(self, high_water_mark: int) -> Pipe: ...
