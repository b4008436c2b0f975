"""Server-sent events that hold up behind proxies, under slow clients and through disconnects.

A route declared with `stream=SSE()` is answered at once with 200 and the headers below; its
handler, `async def handler(c: Context, stream: EventStream) -> None`, runs afterwards on the
writable side of a bounded pipe (a JS `TransformStream` on Workers), kept alive through
`ctx.waitUntil`.

Everything that reaches the pipe (events, heartbeats, the final close) goes through one queue
drained by one task, so no two writes are ever in flight and order is the order of the calls,
however many coroutines send. `await stream.send(...)` returns once its chunk is in the pipe:
when the pipe holds its high-water mark of chunks (10) the sender waits, so a slow client
holds the producer back instead of growing memory. `send_nowait` queues without waiting (still
in order); `flush` waits for everything queued so far.

A route streams when it is declared with a spec, `stream=SSE(...)` (`stream="sse"` is short for
`SSE()`); the options live in the spec, not on `Route`: see `SSE` below.

A client disconnect is seen from a failing write, from the stream being cancelled
(`writer.closed` on Workers) and from the request's abort signal where the platform has one.
Then the handler's task is cancelled, heartbeats stop, listeners (and their JS proxies) are
removed, and `on_close` hooks run, exactly once, as on every other ending. Writes never raise
into the code that made them; `stream.check()` raises `ClientDisconnected` for code about to
start upstream work.

Headers, one set for all three reference streams: `Content-Type: text/event-stream`,
`Cache-Control: no-cache, no-transform`, `X-Accel-Buffering: no`, `Content-Encoding: identity`.
The player stream's `Cache-Control: no-cache` is a subset of this, and its `Connection:
keep-alive` is left out: it is hop-by-hop (forbidden in HTTP/2, the default in HTTP/1.1) and
the platform owns connection handling.
"""

from __future__ import annotations

import asyncio
import inspect
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from runtime.records import record

from .errors import HTTPError
from .http import Headers, Response, dumps
from .logging import ServiceLogger, redact_text

if TYPE_CHECKING:
    from .context import Context
    from .routing import Route

Framing = Literal["json", "named"]
CloseHook = Callable[[], Any]

HEADERS: tuple[tuple[str, str], ...] = (
    ("Content-Type", "text/event-stream"),
    ("Cache-Control", "no-cache, no-transform"),
    ("X-Accel-Buffering", "no"),
    ("Content-Encoding", "identity"),
)
HEARTBEAT = b": heartbeat\n\n"
DEFAULT_HEARTBEAT_SECONDS = 15.0
DEFAULT_HIGH_WATER_MARK = 10
HEARTBEAT_ENV = "SSE_HEARTBEAT_SECONDS"
GENERIC_ERROR = "Internal server error"

_UNSET: Any = object()


@record(frozen=True)
class SSE:
    """How a streaming route answers: `@router.get("/x", stream=SSE(done=True))`.

    `framing` "json" sends `data: {"data":...,"type":...}` (chat, steer), "named" sends
    `event: <type>` + `data: <json>` (the player); `done` always ends the stream with `done`
    (payload null), after errors too; `heartbeat` is seconds between `: heartbeat` comments
    (None: the `SSE_HEARTBEAT_SECONDS` var, else 15; 0: none); `high_water_mark` bounds the
    chunks waiting for a slow client; `expose_errors` sends an unexpected exception's
    (redacted) message instead of a generic one.
    """

    kind: ClassVar[str] = "sse"
    framing: Framing = "json"
    done: bool = False
    heartbeat: float | None = None
    high_water_mark: int = DEFAULT_HIGH_WATER_MARK
    expose_errors: bool = False


class StreamClosed(ConnectionError):
    """The stream has ended: nothing sent now reaches the client."""


class ClientDisconnected(StreamClosed):
    """The client went away. `stream.check()` raises it; the stream ends without an error event."""


class StreamError(Exception):
    """Raise from a stream handler to end with an `error` event carrying exactly this message."""


# -- framing ------------------------------------------------------------------------------------


def _single_line(field: str, value: str) -> str:
    if "\r" in value or "\n" in value:
        raise ValueError(f"an SSE {field} must not contain CR or LF: {value!r}")
    if "\0" in value and field == "id":
        raise ValueError(f"an SSE id must not contain NUL: {value!r}")
    return value


def _lines(text: str) -> list[str]:
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def _text(data: Any) -> str:
    return data if isinstance(data, str) else dumps(data).decode()


def encode_event(
    data: Any = "",
    *,
    event: str | None = None,
    id: str | None = None,
    retry: int | None = None,
) -> bytes:
    """One SSE event. A `str` is sent as text (each line its own `data:` line), anything else
    as compact JSON. CR or LF in `event` or `id` is a ValueError: it would forge fields."""
    parts: list[str] = []
    if event is not None:
        parts.append(f"event: {_single_line('event name', event)}\n")
    if id is not None:
        parts.append(f"id: {_single_line('id', id)}\n")
    if retry is not None:
        parts.append(f"retry: {int(retry)}\n")
    parts.extend(f"data: {line}\n" for line in _lines(_text(data)))
    parts.append("\n")
    return "".join(parts).encode()


def encode_comment(text: str) -> bytes:
    """A comment block (ignored by clients, keeps proxies from timing the connection out)."""
    return ("".join(f": {line}\n" for line in _lines(text)) + "\n").encode()


def encode_typed(
    type: str, data: Any = None, *, framing: Framing = "json", id: str | None = None
) -> bytes:
    """An event in one of the DJ API framings: `data: {"data":...,"type":...}` or named."""
    if framing == "named":
        return encode_event(dumps(data).decode(), event=type, id=id)
    # The reference builds the envelope with keys in alphabetical order: `data` before `type`.
    return encode_event(dumps({"data": data, "type": type}).decode(), id=id)


# -- the stream ---------------------------------------------------------------------------------


class EventStream:
    """The handler's side of one SSE response. One per request; never shared."""

    def __init__(
        self,
        writer: Any,
        *,
        framing: Framing = "json",
        done: bool = False,
        heartbeat: float = DEFAULT_HEARTBEAT_SECONDS,
        log: ServiceLogger | None = None,
        expose_errors: bool = False,
    ) -> None:
        self.framing: Framing = framing
        self.heartbeat_interval = heartbeat
        self.chunks_written = 0
        self.heartbeats_sent = 0
        self._writer = writer
        self._done = done
        self._log = log or ServiceLogger("sse")
        self._expose_errors = expose_errors
        self._queue: deque[tuple[bytes | None, asyncio.Future[bool]]] = deque()
        self._inflight: asyncio.Future[bool] | None = None
        self._last: asyncio.Future[bool] | None = None
        self._wake: asyncio.Event | None = None
        self._pump_task: asyncio.Task[None] | None = None
        self._heartbeat_task: asyncio.Task[None] | None = None
        self._heartbeat_pending: asyncio.Future[bool] | None = None
        self._watch_task: asyncio.Task[None] | None = None
        self._handler_task: asyncio.Future[Any] | None = None
        self._detach: list[Callable[[], None]] = []
        self._hooks: list[CloseHook] = []
        self._hooks_ran = False
        self._late_hooks: list[asyncio.Future[None]] = []
        self._closing = False  # no more chunks accepted
        self._close_future: asyncio.Future[bool] | None = None
        self._pipe_closed = False  # the pipe was closed normally by us
        self._disconnected = False
        self._disconnect_reason = ""
        self._ended: asyncio.Event | None = None

    # -- state ----------------------------------------------------------------------------------
    @property
    def disconnected(self) -> bool:
        """True once the client is known to be gone."""
        return self._disconnected

    @property
    def closed(self) -> bool:
        """True once the stream accepts nothing more (closing, closed or disconnected)."""
        return self._closing

    def check(self) -> None:
        """Raise `ClientDisconnected` (or `StreamClosed`) if nothing sent would arrive.

        Call it before starting upstream work whose only purpose is this stream."""
        if self._disconnected:
            raise ClientDisconnected(self._disconnect_reason or "the client disconnected")
        if self._closing:
            raise StreamClosed("the stream is closed")

    def on_close(self, hook: CloseHook) -> None:
        """Run `hook` (sync or async, no arguments) once when the stream ends, however it ends.

        Hooks run newest first, after the handler has finished or been cancelled."""
        if self._hooks_ran:
            self._run_hook_later(hook)
        else:
            self._hooks.append(hook)

    # -- sending --------------------------------------------------------------------------------
    async def send(self, type: str, data: Any = None, *, id: str | None = None) -> bool:
        """Send an event in the route's framing and wait until the pipe has taken it.

        Returns False (never raises) when the stream has ended or the client is gone."""
        return await self._wait(
            self._enqueue(encode_typed(type, data, framing=self.framing, id=id))
        )

    def send_nowait(self, type: str, data: Any = None, *, id: str | None = None) -> bool:
        """Queue an event without waiting; it keeps its place in the order. False if ended."""
        chunk = encode_typed(type, data, framing=self.framing, id=id)
        return self._enqueue(chunk) is not None

    async def emit(
        self,
        data: Any = "",
        *,
        event: str | None = None,
        id: str | None = None,
        retry: int | None = None,
    ) -> bool:
        """Send a raw SSE event (see `encode_event`), whatever the route's framing."""
        return await self._wait(self._enqueue(encode_event(data, event=event, id=id, retry=retry)))

    def emit_nowait(
        self, data: Any = "", *, event: str | None = None, id: str | None = None
    ) -> bool:
        return self._enqueue(encode_event(data, event=event, id=id)) is not None

    async def comment(self, text: str) -> bool:
        return await self._wait(self._enqueue(encode_comment(text)))

    async def error(self, message: str, data: Any = _UNSET) -> bool:
        """A recoverable error: an `error` event, and the stream goes on.

        Payload: `data` if given, else the message (json framing, as the chat stream) or
        `{"message": message}` (named framing, as the player stream)."""
        return await self.send("error", self._error_payload(message, data))

    async def flush(self) -> bool:
        """Wait until everything queued so far is in the pipe. False if the client is gone."""
        last = self._last
        if last is not None and not last.done():
            await asyncio.shield(last)
        return not self._disconnected

    async def close(self) -> None:
        """End the stream after everything already queued (and `done`, if the route wants it).

        Idempotent; later sends are dropped."""
        if not self._closing:
            if self._done:
                self._enqueue(encode_typed("done", None, framing=self.framing))
            self._close_future = self._enqueue(None)
            self._closing = True
        if self._close_future is not None and not self._close_future.done():
            await asyncio.shield(self._close_future)

    # -- running a handler ----------------------------------------------------------------------
    async def run(
        self,
        handler: Callable[[EventStream], Awaitable[Any]],
        *,
        watch_abort: Callable[[Callable[[], None]], Callable[[], None] | None] | None = None,
    ) -> None:
        """Run `handler(self)` to the end of the stream: heartbeats, disconnect watching,
        error events, `done`, close, cleanup. Never raises for the handler's errors."""
        self._start()
        if watch_abort is not None:
            detach = watch_abort(lambda: self._on_disconnect("the request was aborted"))
            if detach is not None:
                self._detach.append(detach)
        task: asyncio.Future[Any] = asyncio.ensure_future(handler(self))
        self._handler_task = task
        if self._disconnected:  # aborted before the handler could start
            task.cancel()
        try:
            await asyncio.wait([task])
            self._settle(task)
            await self.close()
        except asyncio.CancelledError:  # the isolate is tearing the request down
            task.cancel()
            self._on_disconnect("the stream was cancelled")
            raise
        finally:
            await self._finalize()

    async def wait_ended(self) -> None:
        """Return once the stream has ended and its cleanup hooks have run."""
        assert self._ended is not None, "the stream has not started"
        await self._ended.wait()

    def _settle(self, task: asyncio.Future[Any]) -> None:
        if task.cancelled():
            if not self._disconnected:
                self._log.warn("stream handler was cancelled")
            return
        exc = task.exception()
        if exc is None or isinstance(exc, StreamClosed) or self._disconnected:
            return
        self._log.error("stream handler failed", exc)
        if not self._closing:
            self._enqueue(
                encode_typed(
                    "error", self._error_payload(self._public_message(exc)), framing=self.framing
                )
            )

    def _public_message(self, exc: BaseException) -> str:
        if isinstance(exc, StreamError):
            return str(exc)
        if isinstance(exc, HTTPError):
            return exc.message
        if self._expose_errors:
            return redact_text(str(exc)) or type(exc).__name__
        return GENERIC_ERROR

    def _error_payload(self, message: str, data: Any = _UNSET) -> Any:
        if data is not _UNSET:
            return data
        return {"message": message} if self.framing == "named" else message

    # -- machinery ------------------------------------------------------------------------------
    def _start(self) -> None:
        self._ended = asyncio.Event()
        self._ensure_pump()
        wait_closed = getattr(self._writer, "wait_closed", None)
        if wait_closed is not None:
            self._watch_task = asyncio.ensure_future(self._watch(wait_closed))
        if self.heartbeat_interval and self.heartbeat_interval > 0:
            self._heartbeat_task = asyncio.ensure_future(self._heartbeats(self.heartbeat_interval))

    def _ensure_pump(self) -> None:
        if self._pump_task is None:
            self._wake = asyncio.Event()
            self._pump_task = asyncio.ensure_future(self._pump())

    def _enqueue(self, chunk: bytes | None) -> asyncio.Future[bool] | None:
        if self._closing:
            return None
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._queue.append((chunk, future))
        self._last = future
        self._ensure_pump()
        assert self._wake is not None
        self._wake.set()
        return future

    async def _wait(self, future: asyncio.Future[bool] | None) -> bool:
        if future is None:
            return False
        # Shielded: a sender that is cancelled must not cancel the write others wait behind.
        return await asyncio.shield(future)

    async def _pump(self) -> None:
        writer = self._writer
        assert self._wake is not None
        try:
            while True:
                while not self._queue:
                    self._wake.clear()
                    await self._wake.wait()
                chunk, future = self._queue.popleft()
                self._inflight = future
                if chunk is None:
                    self._pipe_closed = True
                    try:
                        await writer.close()
                    except Exception as exc:
                        self._log.debug("stream close failed", error=str(exc))
                    _resolve(future, True)
                    return
                try:
                    await writer.write(chunk)
                except Exception as exc:  # the client is gone: never raise into the sender
                    _resolve(future, False)
                    self._on_disconnect(f"write failed: {exc}")
                    return
                self.chunks_written += 1
                if chunk is HEARTBEAT:
                    self.heartbeats_sent += 1
                _resolve(future, True)
        finally:
            self._inflight = None
            self._fail_pending()

    async def _heartbeats(self, interval: float) -> None:
        while not self._closing:
            await asyncio.sleep(interval)
            if self._closing:
                return
            pending = self._heartbeat_pending
            if pending is None or pending.done():  # never pile heartbeats up behind a slow client
                self._heartbeat_pending = self._enqueue(HEARTBEAT)

    async def _watch(self, wait_closed: Callable[[], Awaitable[None]]) -> None:
        try:
            await wait_closed()
        except asyncio.CancelledError:
            raise
        except Exception:
            pass
        if not self._pipe_closed:
            self._on_disconnect("the client cancelled the stream")

    def _on_disconnect(self, reason: str) -> None:
        if self._disconnected or self._pipe_closed:
            return
        self._disconnected = True
        self._disconnect_reason = reason
        self._closing = True
        self._log.info("sse client disconnected", reason=reason)
        current = asyncio.current_task() if _loop_running() else None
        for task in (self._handler_task, self._heartbeat_task, self._pump_task):
            if task is not None and task is not current and not task.done():
                task.cancel()
        self._fail_pending()

    def _fail_pending(self) -> None:
        if self._inflight is not None:
            _resolve(self._inflight, False)
        while self._queue:
            _resolve(self._queue.popleft()[1], False)

    async def _finalize(self) -> None:
        for task in (self._heartbeat_task, self._watch_task):
            if task is not None and not task.done():
                task.cancel()
        for detach in self._detach:
            try:
                detach()
            except Exception as exc:
                self._log.warn("detaching an abort listener failed", error=str(exc))
        self._detach.clear()
        self._closing = True
        pump = self._pump_task
        if pump is not None and not pump.done():
            pump.cancel()
        if not self._pipe_closed:
            try:
                await self._writer.abort(self._disconnect_reason or "stream ended")
            except Exception as exc:
                self._log.debug("stream abort failed", error=str(exc))
        await self._run_hooks()
        if self._ended is not None:
            self._ended.set()

    async def _run_hooks(self) -> None:
        if self._hooks_ran:
            return
        self._hooks_ran = True
        hooks, self._hooks = self._hooks, []
        for hook in reversed(hooks):
            try:
                result = hook()
                if inspect.isawaitable(result):
                    await result
            except Exception as exc:
                self._log.error("stream close hook failed", exc)

    def _run_hook_later(self, hook: CloseHook) -> None:
        async def call() -> None:
            try:
                result = hook()
                if inspect.isawaitable(result):
                    await result
            except Exception as exc:
                self._log.error("stream close hook failed", exc)

        self._late_hooks.append(asyncio.ensure_future(call()))


def _resolve(future: asyncio.Future[bool], value: bool) -> None:
    if not future.done():
        future.set_result(value)


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


# -- the route glue -----------------------------------------------------------------------------


def heartbeat_interval(c: Context, spec: SSE) -> float:
    """Seconds between heartbeats: the spec's `heartbeat`, else `SSE_HEARTBEAT_SECONDS`."""
    configured = spec.heartbeat
    if configured is not None:
        return float(configured)
    raw = c.var(HEARTBEAT_ENV)
    if raw:
        try:
            return float(raw)
        except ValueError:
            c.log.warn("ignoring a malformed SSE heartbeat interval", value=raw)
    return DEFAULT_HEARTBEAT_SECONDS


PREPARE_ATTR = "sse_prepare"


def before_stream(
    prepare: Callable[[Context], Awaitable[Response | None]],
) -> Callable[[Callable[..., Awaitable[Any]]], Callable[..., Awaitable[Any]]]:
    """Attach a step that runs before a stream handler's response is sent.

        @router.post("/message", stream=SSE(done=True))
        @before_stream(read_json_or_400)
        async def message(c: Context, stream: EventStream) -> None: ...

    `prepare(c)` may read the request (the body, say) and return a `Response` to answer
    with instead of the stream (a 400 for unparsable JSON), or None to go on streaming.
    An `HTTPError` it raises becomes its JSON answer, as for any handler."""

    def attach(handler: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        setattr(handler, PREPARE_ATTR, prepare)
        return handler

    return attach


async def respond(c: Context, route: Route) -> Response:
    """Answer a streaming route: 200 with the SSE headers now, the handler afterwards."""
    prepare = getattr(route.handler, PREPARE_ATTR, None)
    if prepare is not None:
        early = await prepare(c)
        if early is not None:
            return early
    spec: SSE = route.stream
    pipe = c.platform.create_pipe(spec.high_water_mark)
    stream = EventStream(
        pipe.writer,
        framing=spec.framing,
        done=spec.done,
        heartbeat=heartbeat_interval(c, spec),
        log=c.log,
        expose_errors=spec.expose_errors,
    )
    c.state["sse"] = stream
    platform_watch = getattr(c.platform, "watch_abort", None)

    def watch_abort(callback: Callable[[], None]) -> Callable[[], None] | None:
        return platform_watch(c.req, callback) if platform_watch is not None else None

    handler = route.handler
    c.wait_until(stream.run(lambda s: handler(c, s), watch_abort=watch_abort))
    return Response(pipe.body, 200, Headers(list(HEADERS)))
