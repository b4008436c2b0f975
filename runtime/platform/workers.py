"""The Workers platform: Pyodide inside workerd (or the local host), through the real SDK.

Imported only by the generated entry module, never on CPython: it needs `js` and `pyodide`.
Responses are built as JS `Response` objects directly: going through the SDK's Python
`Response` wrapper costs a measurable amount per request (platform-facts, host figures).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import js  # type: ignore[import-not-found]
from pyodide.ffi import JsException, create_proxy, jsnull, to_js  # type: ignore[import-not-found]
from workers import python_to_rpc  # type: ignore[import-not-found]

from ..http import Headers, Request, Response


class WorkersPipeWriter:
    """Writable side of a JS TransformStream; a failed write means the client is gone."""

    def __init__(self, writer: Any) -> None:
        self._writer = writer
        self._released = False

    async def write(self, chunk: bytes) -> None:
        try:
            await self._writer.write(to_js(chunk))
        except JsException as exc:
            raise ConnectionError(f"stream write failed: {exc}") from None

    async def close(self) -> None:
        if self._released:
            return
        self._released = True
        try:
            await self._writer.close()
        except JsException:
            pass  # already errored because the reader cancelled
        finally:
            self._release()

    async def abort(self, reason: str = "") -> None:
        if self._released:
            return
        self._released = True
        try:
            await self._writer.abort(reason)
        except JsException:
            pass
        finally:
            self._release()

    def _release(self) -> None:
        try:
            self._writer.releaseLock()
        except JsException:
            pass

    @property
    def desired_size(self) -> int | None:
        size = self._writer.desiredSize
        return None if size is None else int(size)

    @property
    def closed(self) -> Any:
        """A JS promise that settles when the stream closes or errors (client disconnect)."""
        return self._writer.closed

    async def wait_closed(self) -> None:
        """Return when the stream is closed or errored: the reader cancelling is a disconnect.

        Watches `writer.closed`, never the readable (a second consumer of the readable broke
        the reference's responses, dj-api-reference §10).
        """
        if self._released:
            return
        try:
            await self._writer.closed
        except JsException:
            pass


class WorkersPipe:
    def __init__(self, high_water_mark: int) -> None:
        strategy = to_js({"highWaterMark": high_water_mark}, dict_converter=js.Object.fromEntries)
        # Backpressure must count chunks on the readable side: that is what a slow client fills.
        stream = js.TransformStream.new(js.undefined, strategy, strategy)
        self.body = stream.readable
        self.writer = WorkersPipeWriter(stream.writable.getWriter())


class WorkersPlatform:
    def __init__(self, ctx: Any) -> None:
        self._ctx = ctx

    def wait_until(self, awaitable: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(awaitable)
        proxy = create_proxy(task)
        task.add_done_callback(lambda _t: proxy.destroy())
        self._ctx.waitUntil(proxy)

    def create_pipe(self, high_water_mark: int) -> WorkersPipe:
        return WorkersPipe(high_water_mark)

    async def fetch_binding(
        self, binding: Any, request: Request, path: str | None = None
    ) -> Response:
        """Forward the request to a Fetcher binding (ASSETS, a service), optionally to `path`.

        The JS fetcher is called directly: the SDK's wrapper only adds a Python Response
        around the JS one, which is converted here anyway. Both unwraps use the SDK's public
        API: `Request.js_object` is a documented property, and `python_to_rpc` is the SDK's
        own exported conversion, which hands back the JS object behind an env binding.
        """
        js_request = _js_request(request.raw)
        if path is not None:
            js_request = js.Request.new(js.URL.new(path, js_request.url).href, js_request)
        fetcher = python_to_rpc(binding)
        js_response = await fetcher.fetch(js_request)
        headers = Headers([(str(k), str(v)) for k, v in js_response.headers.entries()])
        body = js_response.body
        if body is None or body is js.undefined or body is jsnull:
            body = b""
        return Response(body, js_response.status, headers)

    def watch_abort(self, request: Any, callback: Callable[[], None]) -> Callable[[], None] | None:
        """Call `callback` when the JS request's `signal` aborts (client disconnect).

        The signal only fires with the `enable_request_signal` compatibility flag; without it
        this listens to nothing and disconnects are seen through `writer.closed` and failing
        writes. Returns a detach function that removes the listener and destroys its proxy.
        """
        js_request = _js_request(getattr(request, "raw", None))
        try:
            signal = js_request.signal
        except (AttributeError, JsException):
            return None
        if signal is None or signal is js.undefined or not hasattr(signal, "addEventListener"):
            return None
        if signal.aborted:
            callback()
            return None
        proxy = create_proxy(lambda *_event: callback())
        signal.addEventListener("abort", proxy)

        def detach() -> None:
            try:
                signal.removeEventListener("abort", proxy)
            except JsException:
                pass
            proxy.destroy()

        return detach


def _js_request(raw: Any) -> Any:
    """The JS request behind the SDK's `workers.Request` (its public `js_object`), or `raw`
    itself when it already is one."""
    return getattr(raw, "js_object", raw)


def _request_from_js(js_request: Any, raw: Any) -> Request:
    headers = Headers([(str(k), str(v)) for k, v in js_request.headers.entries()])

    async def read() -> bytes:
        buffer = await js_request.arrayBuffer()
        return bytes(buffer.to_py())

    return Request(js_request.method, js_request.url, headers, reader=read, raw=raw)


def _response_to_js(response: Response) -> Any:
    init = to_js(
        {"status": response.status, "headers": [list(pair) for pair in response.headers]},
        dict_converter=js.Object.fromEntries,
    )
    body = response.body
    if isinstance(body, (bytes, bytearray)):
        js_body = to_js(body) if body else js.undefined
    else:
        js_body = body  # a JS ReadableStream from a pipe
    if response.status in (101, 204, 205, 304):
        js_body = js.undefined
    return js.Response.new(js_body, init)


async def serve(app: Any, request: Any, env: Any, ctx: Any) -> Any:
    """Entry point called from the generated `Default.fetch`: SDK request in, JS Response out."""
    js_request = _js_request(request)
    response = await app.handle(_request_from_js(js_request, request), env, WorkersPlatform(ctx))
    return _response_to_js(response)
