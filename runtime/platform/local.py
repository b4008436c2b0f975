"""An in-process platform on plain asyncio, for unit tests on CPython."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any


class PipeClosedError(ConnectionError):
    """The reading side went away: nothing written now will be delivered."""


class LocalPipeWriter:
    def __init__(self, pipe: LocalPipe) -> None:
        self._pipe = pipe

    async def write(self, chunk: bytes) -> None:
        pipe = self._pipe
        if pipe.cancelled:
            raise PipeClosedError("the client disconnected")
        if pipe.closed:
            raise PipeClosedError("the stream is closed")
        await pipe.queue.put(chunk)
        if pipe.cancelled:
            raise PipeClosedError("the client disconnected")
        pipe.writes += 1
        pipe.peak_pending = max(pipe.peak_pending, pipe.queue.qsize())

    async def close(self) -> None:
        pipe = self._pipe
        if not pipe.closed:
            pipe.closed = True
            if not pipe.cancelled:
                await pipe.queue.put(None)
            pipe.ended.set()

    async def abort(self, reason: str = "") -> None:
        self._pipe.cancel()

    async def wait_closed(self) -> None:
        """Return when the stream is closed, or cancelled by the client (like `writer.closed`)."""
        await self._pipe.ended.wait()

    @property
    def desired_size(self) -> int | None:
        return self._pipe.queue.maxsize - self._pipe.queue.qsize()


class LocalPipe:
    """A bounded queue of chunks: writers wait when `high_water_mark` chunks are pending.

    `peak_pending` is the most chunks ever waiting for the reader; `writes` counts chunks
    accepted. `cancel()` is what a client disconnect does.
    """

    def __init__(self, high_water_mark: int) -> None:
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=high_water_mark)
        self.high_water_mark = high_water_mark
        self.closed = False
        self.cancelled = False
        self.peak_pending = 0
        self.writes = 0
        self.ended = asyncio.Event()
        self.writer = LocalPipeWriter(self)
        self.body = self

    def cancel(self) -> None:
        """What a client disconnect does: pending and later writes fail."""
        self.cancelled = True
        while not self.queue.empty():
            self.queue.get_nowait()
        self.ended.set()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while True:
            chunk = await self.queue.get()
            if chunk is None:
                return
            yield chunk


class LocalAbortSignal:
    """Stand-in for a request's JS `AbortSignal`: put it on `Request.raw.signal` in tests."""

    def __init__(self) -> None:
        self.aborted = False
        self._listeners: list[Callable[[], None]] = []

    def abort(self) -> None:
        if self.aborted:
            return
        self.aborted = True
        for listener in list(self._listeners):
            listener()

    @property
    def listener_count(self) -> int:
        return len(self._listeners)


class LocalPlatform:
    def __init__(self, *, transport: Any = None) -> None:
        self.background: list[asyncio.Task[Any]] = []
        # Outbound HTTP for `runtime.outbound` (an object with `async send(request)`):
        # tests inject a fake upstream; there is no network transport on CPython.
        self.transport = transport

    def wait_until(self, awaitable: Awaitable[Any]) -> None:
        self.background.append(asyncio.ensure_future(awaitable))

    def create_pipe(self, high_water_mark: int) -> LocalPipe:
        return LocalPipe(high_water_mark)

    def watch_abort(self, request: Any, callback: Callable[[], None]) -> Callable[[], None] | None:
        """Call `callback` when the request's abort signal fires; returns a detach function."""
        signal = getattr(getattr(request, "raw", None), "signal", None)
        if not isinstance(signal, LocalAbortSignal):
            return None
        if signal.aborted:
            callback()
            return None
        signal._listeners.append(callback)

        def detach() -> None:
            if callback in signal._listeners:
                signal._listeners.remove(callback)

        return detach

    async def drain(self) -> None:
        """Wait for all `wait_until` work, as the isolate would before it is torn down."""
        while self.background:
            pending, self.background = self.background, []
            await asyncio.gather(*pending, return_exceptions=True)
