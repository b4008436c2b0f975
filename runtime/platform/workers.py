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

from ..eager import run_eagerly
from ..http import PER_REQUEST_HEADERS, HeaderDefaults, Headers, Request, Response


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


class _JsRequestHeaders(Headers):
    """A request's headers, read from its JS `Headers` when asked for.

    A request's path looks at a few headers by name (content type and length, authorization,
    origin): each is one `Headers.get` across the FFI. Converting them all costs about as much
    as a dozen lookups, so it happens only when something iterates or changes them. The JS
    `Headers` already joins repeated request headers with ", ", as the full conversion does.
    """

    __slots__ = ("_get", "_js", "_loaded", "_source")

    def __init__(self, js_request: Any) -> None:
        self._source = js_request  # its `headers` is read across the FFI on first use
        self._js: Any = None
        self._get: Any = None  # the JS Headers' bound `get`, kept: a lookup is then one call
        self._loaded = False

    def _headers(self) -> Any:
        js = self._js
        if js is None:
            js = self._js = self._source.headers
        return js

    def _load(self) -> None:
        if not self._loaded:
            # one FFI call: [name, value] pairs, names lowercased and sorted by the iterator
            entries = _array_from(self._headers()).to_py()
            self._items = [(name, value) for name, value in entries]
            self._lower = [name for name, _ in entries]
            self._loaded = True

    def get(self, name: str, default: str | None = None) -> str | None:
        if self._loaded:
            return super().get(name, default)
        get = self._get
        if get is None:
            get = self._get = self._headers().get
        value = get(name)
        return default if value is None or value is jsnull else value

    def __contains__(self, name: object) -> bool:
        if self._loaded:
            return super().__contains__(name)
        return isinstance(name, str) and bool(self._headers().has(name))

    def get_all(self, name: str) -> list[str]:
        self._load()
        return super().get_all(name)

    def set(self, name: str, value: str) -> None:
        self._load()
        super().set(name, value)

    def setdefault(self, name: str, value: str) -> None:
        self._load()
        super().setdefault(name, value)

    def add(self, name: str, value: str) -> None:
        self._load()
        super().add(name, value)

    def add_missing(self, defaults: HeaderDefaults) -> None:
        self._load()
        super().add_missing(defaults)

    def delete(self, name: str) -> None:
        self._load()
        super().delete(name)

    def items(self) -> list[tuple[str, str]]:
        self._load()
        return super().items()

    def __iter__(self) -> Any:
        self._load()
        return super().__iter__()

    def __len__(self) -> int:
        self._load()
        return super().__len__()

    def __repr__(self) -> str:
        self._load()
        return super().__repr__()


def _request_from_js(js_request: Any, raw: Any) -> Request:
    headers = _JsRequestHeaders(js_request)

    async def read() -> bytes:
        buffer = await js_request.arrayBuffer()
        return buffer.to_bytes()  # one copy into bytes

    return Request(js_request.method, js_request.url, headers, reader=read, raw=raw)


# JS globals looked up once: each `js.X` is a property lookup across the FFI.
_array_from = js.Array.from_
_JsResponse = js.Response
_object_from_entries = js.Object.fromEntries
_undefined = js.undefined
_NULL_BODY_STATUSES = frozenset((101, 204, 205, 304))
_PER_REQUEST = PER_REQUEST_HEADERS  # the set itself: middleware adds names while assembling

# JS ResponseInit objects by (status, header pairs, per-request header names), reused across
# requests: most responses of an app carry one of a few header sets, and building the init is
# a Python-to-JS conversion of every pair. A header named in PER_REQUEST_HEADERS (a request id,
# a cookie) keeps a [name, value] slot at the end of the init's header list, whose value is
# written per response (one FFI call) before `new Response` copies the list.
# Bounded; the oldest entry goes first.
_InitKey = tuple[int, tuple[tuple[str, str], ...], tuple[str, ...]]
_INIT_CACHE: dict[_InitKey, tuple[Any, list[Any]]] = {}
_INIT_CACHE_SIZE = 64


def _response_init(key: _InitKey) -> tuple[Any, list[Any]]:
    entry = _INIT_CACHE.get(key)
    if entry is None:
        if len(_INIT_CACHE) >= _INIT_CACHE_SIZE:
            del _INIT_CACHE[next(iter(_INIT_CACHE))]  # JS objects: the JS GC frees them
        status, fixed, varying = key
        pairs = [list(pair) for pair in fixed] + [[name, ""] for name in varying]
        init = to_js({"status": status, "headers": pairs}, dict_converter=_object_from_entries)
        js_pairs = init.headers
        slots = [js_pairs[len(fixed) + i] for i in range(len(varying))]
        entry = _INIT_CACHE[key] = (init, slots)
    return entry


_TEXT_BODY_MAX = 32 * 1024


def _js_body(body: bytes | bytearray, header_names: list[str]) -> Any:
    """A small UTF-8 body crosses as a JS string: cheaper than a Uint8Array (3-5% less host
    CPU per JSON response, measured), and `new Response` encodes it back to the same bytes. Only when the response names its Content-Type: given a string and none, the
    Response would add `text/plain;charset=UTF-8`. Anything else crosses as bytes."""
    if len(body) <= _TEXT_BODY_MAX and "content-type" in header_names:
        try:
            return body.decode()
        except UnicodeDecodeError:
            pass
    return to_js(body)


def _response_to_js(response: Response) -> Any:
    headers = response.headers
    items, lower = headers._items, headers._lower
    if _PER_REQUEST.isdisjoint(lower):
        key = (response.status, tuple(items), ())
        values: list[str] = []
    else:
        fixed: list[tuple[str, str]] = []
        names: list[str] = []
        values = []
        for pair, low in zip(items, lower, strict=True):
            if low in _PER_REQUEST:
                names.append(pair[0])
                values.append(pair[1])
            else:
                fixed.append(pair)
        key = (response.status, tuple(fixed), tuple(names))
    body = response.body
    if response.status in _NULL_BODY_STATUSES:
        js_body = _undefined
    elif isinstance(body, (bytes, bytearray)):
        js_body = _js_body(body, lower) if body else _undefined
    else:
        js_body = body  # a JS ReadableStream from a pipe
    init, slots = _response_init(key)
    for slot, value in zip(slots, values, strict=True):
        slot[1] = value
    return _JsResponse.new(js_body, init)  # copies the header list: the slots are free again


async def serve(app: Any, request: Any, env: Any, ctx: Any) -> Any:
    """SDK request in, JS Response out."""
    js_request = _js_request(request)
    response = await app.handle(_request_from_js(js_request, request), env, WorkersPlatform(ctx))
    return _response_to_js(response)


def handle_fetch(app: Any, request: Any, env: Any, ctx: Any) -> Any:
    """What the generated `Default.fetch` returns: the JS Response itself when the request
    completes without waiting for I/O, else an awaitable that carries on from there.

    workerd accepts either from an entrypoint method. A request that needs no I/O (a health
    check, a validation error, a cached answer) then leaves no coroutine for the platform to
    wrap and drive: measured on the local host, 2-4% less CPU per request.
    """
    return run_eagerly(serve(app, request, env, ctx))
