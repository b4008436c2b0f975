"""The one way the runtime calls external services.

    result = await outbound.fetch(service="deezer", url=f"{base}/track/isrc:{isrc}", model=Track)
    if result.ok:
        track = result.data

Every call goes through the same steps: subrequest budget (each attempt counts), a lane slot
and a rate-limit token held only around the attempt itself, a timeout that aborts the
request, limited retries with backoff on 429/5xx honouring `Retry-After` (idempotent calls only), optional JSON
parsing into a pydantic model, and one log line per attempt with secrets redacted.

Failures come back as a `FetchResult` with `ok=False` and an `error` code, so best-effort
callers (enrichment) just check `ok`; `result.raise_for_error()` turns it into an exception.

The transport is pluggable: on Workers (Pyodide) `JsFetchTransport` uses the JS `fetch` with
an `AbortController`; unit tests inject a fake. Per request, the client lives in `ctx.state`.
"""

from __future__ import annotations

import asyncio
import json as jsonlib
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import BaseModel, TypeAdapter, ValidationError

from runtime.records import field, record

from . import budget as budget_mod
from . import jsonsafe, ratelimit
from .http import Headers
from .logging import REDACTED, ServiceLogger, is_secret_key, redact_text

if TYPE_CHECKING:
    from .budget import SubrequestTracker
    from .ratelimit import RequestOrchestrator

T = TypeVar("T")

DEFAULT_TIMEOUT = 10.0
DEFAULT_READ_TIMEOUT = 60.0
"""Streaming: the longest silence between two chunks before the stream counts as stalled."""
ERROR_BODY_LIMIT = 64 * 1024
"""Streaming: how much of a non-2xx answer's body is kept for the caller."""
DEFAULT_RETRIES = 2
BACKOFF_BASE = 0.25
BACKOFF_MAX = 8.0
MAX_RETRY_AFTER = 20.0
"""A `Retry-After` longer than this is not waited for: the failure is returned instead."""

SERVICE_LANES: Mapping[str, str] = {
    "anthropic": "anthropic",
    "spotify": "spotify",
    "spotify-accounts": "spotify",
    "lastfm": "lastfm",
    "deezer": "deezer",
    "musicbrainz": "default",
}
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
CLIENT_STATE_KEY = "outbound.client"
BREAKER_THRESHOLD = 5
"""Consecutive failed attempts (timeout, network, 429, 5xx) after which the request stops
calling that service: later calls (and pending retries) fail at once with `circuit_open`."""


class CircuitBreaker:
    """Per request, per service: counts consecutive failed attempts; opens at `threshold`.

    One request is short, so an open circuit stays open for the rest of it (no half-open
    probing): a dead Deezer costs the calls already in flight, not one per track. After a
    failure, a new attempt waits (`admit`) until the service's attempts in flight have settled:
    calls queued behind Workers' six simultaneous connections would otherwise keep going out
    while the failures that open the circuit are still on their way back."""

    def __init__(self, threshold: int = BREAKER_THRESHOLD) -> None:
        self.threshold = threshold
        self.failures: dict[str, int] = {}
        self.opened: set[str] = set()
        self.in_flight: dict[str, int] = {}
        self._settled: dict[str, asyncio.Event] = {}

    async def admit(self, service: str) -> None:
        """Count an attempt in flight; after a failure, first wait for the others to settle."""
        while self.failures.get(service, 0) > 0 and self.in_flight.get(service, 0) > 0:
            event = self._settled.setdefault(service, asyncio.Event())
            event.clear()
            await event.wait()
        self.in_flight[service] = self.in_flight.get(service, 0) + 1

    def settle(self, service: str) -> None:
        """An admitted attempt is over (its outcome already recorded)."""
        left = self.in_flight.get(service, 0) - 1
        self.in_flight[service] = max(left, 0)
        if left <= 0 and service in self._settled:
            self._settled[service].set()

    def is_open(self, service: str) -> bool:
        return service in self.opened

    def record(self, service: str, failed: bool) -> bool:
        """Note one attempt's outcome; True when this failure just opened the circuit."""
        if not failed:
            self.failures[service] = 0
            return False
        count = self.failures.get(service, 0) + 1
        self.failures[service] = count
        if self.threshold > 0 and count >= self.threshold and service not in self.opened:
            self.opened.add(service)
            return True
        return False


# -- transport -----------------------------------------------------------------------------


@record(frozen=True)
class OutboundRequest:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None = None


@record(frozen=True)
class TransportResponse:
    status: int
    headers: Headers
    body: bytes


class TransportError(ConnectionError):
    """The request did not produce a response (DNS, connection reset, aborted...)."""


class Transport(Protocol):
    """Sends one request; must stop the request when the awaiting task is cancelled."""

    async def send(self, request: OutboundRequest) -> TransportResponse: ...


class JsFetchTransport:
    """JS `fetch` inside the Worker; a cancelled await aborts the request (AbortController)."""

    async def send(self, request: OutboundRequest) -> TransportResponse:
        import js  # only inside the Worker
        from pyodide.ffi import JsException, to_js

        controller = js.AbortController.new()
        init: dict[str, Any] = {
            "method": request.method,
            "headers": request.headers,
            "signal": controller.signal,
        }
        if request.body is not None:
            init["body"] = request.body
        options = to_js(init, dict_converter=js.Object.fromEntries)
        try:
            response = await js.fetch(request.url, options)
            buffer = await response.arrayBuffer()
            body = bytes(buffer.to_bytes())
        except asyncio.CancelledError:
            controller.abort()
            raise
        except JsException as exc:
            raise TransportError(str(exc)) from None
        headers = Headers([(str(pair[0]), str(pair[1])) for pair in response.headers.entries()])
        return TransportResponse(int(response.status), headers, body)

    async def open(self, request: OutboundRequest) -> TransportStream:
        """Like `send`, but returns once the headers are in; the body is read chunk by chunk
        from the JS `ReadableStream` (nothing is buffered beyond the chunk being handed on)."""
        import js  # only inside the Worker
        from pyodide.ffi import JsException, jsnull, to_js

        controller = js.AbortController.new()
        init: dict[str, Any] = {
            "method": request.method,
            "headers": request.headers,
            "signal": controller.signal,
        }
        if request.body is not None:
            init["body"] = request.body
        options = to_js(init, dict_converter=js.Object.fromEntries)
        try:
            response = await js.fetch(request.url, options)
        except asyncio.CancelledError:
            controller.abort()
            raise
        except JsException as exc:
            raise TransportError(str(exc)) from None
        headers = Headers([(str(pair[0]), str(pair[1])) for pair in response.headers.entries()])
        body = response.body
        reader = (
            None if body is None or body is js.undefined or body is jsnull else body.getReader()
        )
        return _JsBodyStream(int(response.status), headers, reader, controller)


class TransportStream(Protocol):
    """An answered request whose body is still arriving (see `OutboundClient.stream`)."""

    status: int
    headers: Headers

    async def read(self) -> bytes:
        """The next chunk of the body; `b""` once it has ended. Raises `TransportError`."""
        ...

    async def close(self) -> None:
        """Stop reading and abort the request if the body has not ended. Idempotent."""
        ...


class StreamingTransport(Protocol):
    """A transport that can also hand back a response before its body has arrived."""

    async def open(self, request: OutboundRequest) -> TransportStream: ...


class _JsBodyStream:
    """A JS `Response` body read chunk by chunk through its `ReadableStream` reader."""

    def __init__(self, status: int, headers: Headers, reader: Any, controller: Any) -> None:
        self.status = status
        self.headers = headers
        self._reader = reader
        self._controller = controller
        self._ended = reader is None

    async def read(self) -> bytes:
        from pyodide.ffi import JsException

        if self._ended:
            return b""
        try:
            result = await self._reader.read()
        except asyncio.CancelledError:
            await self.close()
            raise
        except JsException as exc:
            self._ended = True
            raise TransportError(str(exc)) from None
        if result.done:
            self._ended = True
            return b""
        return bytes(result.value.to_bytes())

    async def close(self) -> None:
        from pyodide.ffi import JsException

        if self._controller is None:
            return
        controller, self._controller = self._controller, None
        ended, self._ended = self._ended, True
        if not ended:
            try:
                controller.abort()  # also errors the body, which frees the connection
            except JsException:
                pass
        if self._reader is not None:
            try:
                self._reader.releaseLock()
            except JsException:
                pass


def default_transport() -> Transport:
    if sys.platform == "emscripten":
        return JsFetchTransport()
    raise RuntimeError(
        "no outbound transport on this platform: pass one to OutboundClient or set "
        "`transport` on the platform (LocalPlatform(transport=...))"
    )


# -- result --------------------------------------------------------------------------------


class OutboundError(RuntimeError):
    def __init__(self, result: FetchResult[Any]) -> None:
        status = f" {result.status}" if result.status is not None else ""
        super().__init__(
            f"{result.service} {result.method} {result.safe_url} failed: {result.error}{status}"
        )
        self.result = result


@record(frozen=True)
class FetchResult(Generic[T]):
    """What an external call produced; `ok` is False for any failure, with an `error` code.

    Error codes: `http_status` (non-2xx after retries), `timeout`, `network`,
    `budget_exhausted` (not sent: no subrequests left), `circuit_open` (not sent: the service
    failed `BREAKER_THRESHOLD` times in a row in this request), `invalid_json`,
    `invalid_response` (the JSON did not validate against the requested model),
    `nested_slot`.
    """

    service: str
    method: str
    safe_url: str
    ok: bool
    status: int | None = None
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""
    data: T | None = None
    error: str | None = None
    detail: str | None = None
    attempts: int = 0
    duration_ms: float = 0.0

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body parsed (nesting bounded, see `runtime.jsonsafe`); raises `ValueError`."""
        return jsonsafe.loads(self.body)

    def raise_for_error(self) -> FetchResult[T]:
        if not self.ok:
            raise OutboundError(self)
        return self


class StreamReadError(RuntimeError):
    """A streamed body stopped before its end: `error` is `read_timeout` or `network`."""

    def __init__(self, error: str, detail: str) -> None:
        super().__init__(f"{error}: {detail}")
        self.error = error
        self.detail = detail


@record
class StreamResult:
    """What `OutboundClient.stream` yields: an open 2xx body (`ok`), or a failure.

    A failure carries the same `error` codes as `FetchResult` and, for a non-2xx answer, up
    to `ERROR_BODY_LIMIT` bytes of its body. `iter_bytes()` reads an open body chunk by
    chunk; a stall longer than `read_timeout` or a dropped connection raises
    `StreamReadError`."""

    service: str
    method: str
    safe_url: str
    ok: bool
    status: int | None = None
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""
    error: str | None = None
    detail: str | None = None
    attempts: int = 0
    read_timeout: float = DEFAULT_READ_TIMEOUT
    bytes_read: int = 0
    chunks_read: int = 0
    ended: bool = False
    _source: TransportStream | None = None

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body parsed (nesting bounded, see `runtime.jsonsafe`); raises `ValueError`."""
        return jsonsafe.loads(self.body)

    async def iter_bytes(self) -> AsyncIterator[bytes]:
        source = self._source
        if source is None:
            return
        while True:
            try:
                chunk = await asyncio.wait_for(source.read(), self.read_timeout)
            except TimeoutError:
                self.error = "read_timeout"
                raise StreamReadError(
                    "read_timeout", f"no data for {self.read_timeout:g}s"
                ) from None
            except TransportError as exc:
                self.error = "network"
                raise StreamReadError("network", redact_text(str(exc))) from None
            if not chunk:
                self.ended = True
                return
            self.bytes_read += len(chunk)
            self.chunks_read += 1
            yield chunk


async def _read_limited(source: TransportStream, limit: int) -> bytes:
    parts: list[bytes] = []
    size = 0
    while size < limit:
        chunk = await source.read()
        if not chunk:
            break
        parts.append(chunk)
        size += len(chunk)
    return b"".join(parts)[:limit]


async def _close_quietly(source: TransportStream) -> None:
    try:
        await source.close()
    except Exception:
        pass


# -- helpers -------------------------------------------------------------------------------


def safe_url(url: str) -> str:
    """The URL with secret query values (api_key, token, ...) and userinfo replaced."""
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    if parts.query:
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        query = urlencode(
            [(k, REDACTED if is_secret_key(k) or k == "key" else v) for k, v in pairs],
            safe="[]",
        )
    else:
        query = ""
    return redact_text(urlunsplit((parts.scheme, netloc, parts.path, query, "")))


def with_params(url: str, params: Mapping[str, Any] | None) -> str:
    if not params:
        return url
    items = [(k, _param(v)) for k, v in params.items() if v is not None]
    if not items:
        return url
    sep = "&" if urlsplit(url).query else "?"
    return f"{url}{sep}{urlencode(items)}"


def _param(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - now)


def _default_jitter() -> float:
    import random  # imported at call time: no entropy while modules load

    return random.random()


def _encode_json(value: Any) -> bytes:
    if isinstance(value, BaseModel):
        return value.model_dump_json(by_alias=True, exclude_none=True).encode()
    return jsonlib.dumps(value, separators=(",", ":"), ensure_ascii=False, default=_dump).encode()


def _dump(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True, exclude_none=True)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


_adapters: dict[Any, TypeAdapter[Any]] = {}


def _adapter(model: Any) -> TypeAdapter[Any]:
    adapter = _adapters.get(model)
    if adapter is None:
        adapter = TypeAdapter(model)
        _adapters[model] = adapter
    return adapter


# -- client --------------------------------------------------------------------------------


def build_request(
    method: str,
    url: str,
    headers: Mapping[str, str] | None,
    params: Mapping[str, Any] | None,
    json: Any,
    body: bytes | str | None,
) -> tuple[OutboundRequest, str]:
    """The request to send, and its URL as it may be logged (secrets redacted)."""
    full_url = with_params(url, params)
    send_headers = dict(headers or {})
    payload: bytes | None
    if json is not None:
        payload = _encode_json(json)
        if not any(k.lower() == "content-type" for k in send_headers):
            send_headers["Content-Type"] = "application/json"
    else:
        payload = body.encode() if isinstance(body, str) else body
    return OutboundRequest(method.upper(), full_url, send_headers, payload), safe_url(full_url)


class OutboundClient:
    """Budget + lanes + rate limit + timeout + retries + logging around a transport."""

    def __init__(
        self,
        transport: Transport,
        *,
        orchestrator: RequestOrchestrator | None = None,
        subrequests: SubrequestTracker | None = None,
        logger: ServiceLogger | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        jitter: Callable[[], float] = _default_jitter,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self.transport = transport
        self.breaker = breaker if breaker is not None else CircuitBreaker()
        self.orchestrator = orchestrator or ratelimit.RequestOrchestrator(clock=clock, sleep=sleep)
        self.subrequests = subrequests
        self.logger = logger or ServiceLogger("outbound")
        self._clock = clock
        self._wall_clock = wall_clock
        self._sleep = sleep
        self._jitter = jitter

    async def fetch(
        self,
        *,
        service: str,
        url: str,
        method: str = "GET",
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        body: bytes | str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        retries: int = DEFAULT_RETRIES,
        model: Any = None,
        lane: str | None = None,
        idempotent: bool | None = None,
    ) -> FetchResult[Any]:
        """One call, retried (429, 5xx, network errors) only when it is idempotent: by its
        method (`IDEMPOTENT`) unless `idempotent` says otherwise (a POST that changes
        nothing upstream, such as asking Claude for a message, may pass True)."""
        request, shown = build_request(method, url, headers, params, json, body)
        method = request.method
        repeatable = method in IDEMPOTENT if idempotent is None else idempotent
        lane_name = lane or SERVICE_LANES.get(service, ratelimit.DEFAULT_LANE)
        started = self._clock()

        def finish(**kwargs: Any) -> FetchResult[Any]:
            return FetchResult(
                service=service,
                method=method,
                safe_url=shown,
                duration_ms=round((self._clock() - started) * 1000, 1),
                **kwargs,
            )

        attempt = 0
        while True:
            attempt += 1
            if self.breaker.is_open(service):
                return finish(**self._circuit_open(service, attempt - 1))
            tracker = self.subrequests
            if tracker is not None and not tracker.can_make(1):
                tracker.try_spend(1)  # counts the refusal
                self._log(service, method, shown, attempt, None, 0.0, "budget_exhausted")
                return finish(ok=False, error="budget_exhausted", attempts=attempt - 1)
            t0 = self._clock()
            response: TransportResponse | None = None
            error: str | None = None
            detail: str | None = None
            admitted = False
            try:
                try:
                    async with self.orchestrator.slot(lane_name):
                        await self.breaker.admit(service)
                        admitted = True
                        # checked again now: the circuit may have opened, or the budget run
                        # out, while this call waited for its slot
                        if self.breaker.is_open(service):
                            return finish(**self._circuit_open(service, attempt - 1))
                        if tracker is not None and not tracker.try_spend(1):
                            self._log(
                                service, method, shown, attempt, None, 0.0, "budget_exhausted"
                            )
                            return finish(ok=False, error="budget_exhausted", attempts=attempt - 1)
                        t0 = self._clock()
                        response = await asyncio.wait_for(self.transport.send(request), timeout)
                except TimeoutError:
                    error, detail = "timeout", f"no response within {timeout:g}s"
                except TransportError as exc:
                    error, detail = "network", redact_text(str(exc))
                except ratelimit.NestedSlotError as exc:
                    # A programming error: surfaced as a failure so a best-effort caller survives.
                    self.logger.error("outbound call made while holding a lane slot", exc)
                    return finish(ok=False, error="nested_slot", detail=str(exc), attempts=attempt)
                elapsed = self._clock() - t0
                status = response.status if response is not None else None
                self._log(service, method, shown, attempt, status, elapsed, error)
                self._note_outcome(service, status)
            finally:
                if admitted:
                    self.breaker.settle(service)

            retry_after: float | None = None
            if response is not None:
                if 200 <= response.status < 300:
                    return self._success(finish, response, model, attempt)
                if response.status == 429 or response.status >= 500:
                    retry_after = parse_retry_after(
                        response.headers.get("Retry-After"), self._wall_clock()
                    )
                    retryable = repeatable
                else:
                    retryable = False
                error = "http_status"
            else:
                retryable = repeatable

            if (
                not retryable
                or attempt > retries
                or (retry_after is not None and retry_after > MAX_RETRY_AFTER)
            ):
                return finish(
                    ok=False,
                    status=status,
                    headers=response.headers if response is not None else Headers(),
                    body=response.body if response is not None else b"",
                    error=error,
                    detail=detail,
                    attempts=attempt,
                )
            await self._sleep(self._backoff(attempt, retry_after))

    @asynccontextmanager
    async def stream(
        self,
        *,
        service: str,
        url: str,
        method: str = "POST",
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        body: bytes | str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
        retries: int = DEFAULT_RETRIES,
        lane: str | None = None,
        idempotent: bool | None = None,
    ) -> AsyncIterator[StreamResult]:
        """A call whose body is read while it arrives (server-sent events, say).

            async with client.stream(service="anthropic", url=..., json=body) as result:
                if not result.ok:
                    ...  # result.error, result.status, result.body (the error answer)
                async for chunk in result.iter_bytes():
                    ...

        Same rules as `fetch`: each attempt spends one subrequest; a lane slot and a token
        are taken per attempt, and for a 2xx answer the slot is held until the block exits
        (the connection stays open that long); `timeout` bounds the wait for the headers,
        `read_timeout` each silence between chunks; 429/5xx answers are retried with
        backoff (honouring `Retry-After`) before any byte reaches the caller, these and
        network errors only when the call is idempotent (by its method unless `idempotent`
        says otherwise); one log line per attempt and one when a stream
        ends. Leaving the block (normally, by an exception or by cancellation) closes the
        body and aborts the request if it had not ended."""
        opener = getattr(self.transport, "open", None)
        if opener is None:
            raise TypeError(f"{type(self.transport).__name__} cannot stream (no `open`)")
        request, shown = build_request(method, url, headers, params, json, body)
        method = request.method
        repeatable = method in IDEMPOTENT if idempotent is None else idempotent
        lane_name = lane or SERVICE_LANES.get(service, ratelimit.DEFAULT_LANE)

        def failure(attempts: int, **kwargs: Any) -> StreamResult:
            return StreamResult(
                service=service,
                method=method,
                safe_url=shown,
                ok=False,
                attempts=attempts,
                read_timeout=read_timeout,
                **kwargs,
            )

        attempt = 0
        while True:
            attempt += 1
            if self.breaker.is_open(service):
                yield failure(attempt - 1, **self._circuit_open(service, attempt - 1, False))
                return
            tracker = self.subrequests
            if tracker is not None and not tracker.try_spend(1):
                self._log(service, method, shown, attempt, None, 0.0, "budget_exhausted")
                yield failure(attempt - 1, error="budget_exhausted")
                return
            # The slot stays held while the caller reads the body, but it is not recorded in
            # the caller's context (nor in the tasks it starts meanwhile): only our own
            # opening and error reading below run marked.
            slot = self.orchestrator.slot(lane_name, mark=False)
            try:
                await slot.__aenter__()
            except ratelimit.NestedSlotError as exc:
                self.logger.error("outbound call made while holding a lane slot", exc)
                yield failure(attempt, error="nested_slot", detail=str(exc))
                return
            error: str | None = None
            detail: str | None = None
            source: TransportStream | None = None
            error_body = b""
            try:
                t0 = self._clock()
                try:
                    with ratelimit.marked(lane_name):
                        source = await asyncio.wait_for(opener(request), timeout)
                except TimeoutError:
                    error, detail = "timeout", f"no response within {timeout:g}s"
                except TransportError as exc:
                    error, detail = "network", redact_text(str(exc))
                status = source.status if source is not None else None
                self._log(service, method, shown, attempt, status, self._clock() - t0, error)
                self._note_outcome(service, status)
                if source is not None and 200 <= source.status < 300:
                    result = StreamResult(
                        service=service,
                        method=method,
                        safe_url=shown,
                        ok=True,
                        status=source.status,
                        headers=source.headers,
                        attempts=attempt,
                        read_timeout=read_timeout,
                        _source=source,
                    )
                    outcome = "cancelled"
                    try:
                        yield result
                        outcome = "complete" if result.ended else "closed early"
                    except StreamReadError as exc:
                        outcome = exc.error
                        raise
                    except Exception:
                        outcome = "caller failed"
                        raise
                    finally:
                        await _close_quietly(source)
                        outcome = result.error or outcome
                        self.logger.info(
                            f"{service} stream {outcome}",
                            service=service,
                            url=shown,
                            bytes=result.bytes_read,
                            chunks=result.chunks_read,
                            duration_ms=round((self._clock() - t0) * 1000, 1),
                        )
                    return
                if source is not None:
                    error = "http_status"
                    try:
                        error_body = await asyncio.wait_for(
                            _read_limited(source, ERROR_BODY_LIMIT), timeout
                        )
                    except (TimeoutError, TransportError):
                        error_body = b""
                    await _close_quietly(source)
            finally:
                await slot.__aexit__(None, None, None)

            retry_after: float | None = None
            if source is not None:
                if source.status == 429 or source.status >= 500:
                    retry_after = parse_retry_after(
                        source.headers.get("Retry-After"), self._wall_clock()
                    )
                    retryable = repeatable
                else:
                    retryable = False
            else:
                retryable = repeatable
            if (
                not retryable
                or attempt > retries
                or (retry_after is not None and retry_after > MAX_RETRY_AFTER)
            ):
                yield failure(
                    attempt,
                    status=source.status if source is not None else None,
                    headers=source.headers if source is not None else Headers(),
                    body=error_body,
                    error=error,
                    detail=detail,
                )
                return
            await self._sleep(self._backoff(attempt, retry_after))

    def _note_outcome(self, service: str, status: int | None) -> None:
        failed = status is None or status == 429 or status >= 500
        if self.breaker.record(service, failed):
            self.logger.warn(
                f"{service} circuit open: {self.breaker.threshold} failures in a row, "
                "skipped for the rest of this request",
                service=service,
            )

    def _circuit_open(
        self, service: str, attempts: int, with_attempts: bool = True
    ) -> dict[str, Any]:
        detail = f"{service} failed {self.breaker.threshold} times in a row in this request"
        out: dict[str, Any] = {"ok": False, "error": "circuit_open", "detail": detail}
        if with_attempts:
            out["attempts"] = attempts
        return out

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        delay = min(BACKOFF_MAX, BACKOFF_BASE * 2 ** (attempt - 1))
        delay = delay * (0.5 + 0.5 * self._jitter())
        if retry_after is not None:
            delay = max(delay, retry_after)
        return delay

    def _success(
        self,
        finish: Callable[..., FetchResult[Any]],
        response: TransportResponse,
        model: Any,
        attempts: int,
    ) -> FetchResult[Any]:
        common = {
            "status": response.status,
            "headers": response.headers,
            "body": response.body,
            "attempts": attempts,
        }
        if model is None:
            return finish(ok=True, **common)
        try:
            jsonsafe.check_depth(response.body)
            data = _adapter(model).validate_json(response.body)
        except jsonsafe.JSONTooDeep as exc:
            return finish(ok=False, error="invalid_json", detail=exc.msg, **common)
        except ValidationError as exc:
            kind = (
                "invalid_json"
                if any(e.get("type") == "json_invalid" for e in exc.errors())
                else "invalid_response"
            )
            return finish(ok=False, error=kind, detail=_short(exc), **common)
        return finish(ok=True, data=data, **common)

    def _log(
        self,
        service: str,
        method: str,
        url: str,
        attempt: int,
        status: int | None,
        elapsed: float,
        error: str | None,
    ) -> None:
        fields: dict[str, Any] = {
            "service": service,
            "method": method,
            "url": url,
            "status": status,
            "duration_ms": round(elapsed * 1000, 1),
            "attempt": attempt,
        }
        if error is not None:
            fields["error"] = error
        failed = error is not None or status is None or status >= 400
        log = self.logger.warn if failed else self.logger.info
        log(f"{service} {method} {status if status is not None else error}", **fields)


def _short(exc: ValidationError) -> str:
    errors = exc.errors()
    first = errors[0] if errors else {}
    loc = ".".join(str(p) for p in first.get("loc", ()))
    return f"{len(errors)} error(s); first at {loc or '<root>'}: {first.get('msg', '')}"[:300]


def client() -> OutboundClient:
    """The current request's client, built on first use from the request context."""
    from .context import current_or_none

    ctx = current_or_none()
    if ctx is None:
        raise LookupError(
            "outbound.fetch needs a request context; outside one build an OutboundClient"
        )
    existing = ctx.state.get(CLIENT_STATE_KEY)
    if existing is not None:
        return existing
    transport = getattr(ctx.platform, "transport", None) or default_transport()
    created = OutboundClient(
        transport,
        orchestrator=ratelimit.orchestrator(),
        subrequests=budget_mod.subrequests(),
        logger=ctx.log.child("outbound"),
    )
    ctx.state[CLIENT_STATE_KEY] = created
    return created


async def fetch(
    *,
    service: str,
    url: str,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, Any] | None = None,
    json: Any = None,
    body: bytes | str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    retries: int = DEFAULT_RETRIES,
    model: Any = None,
    lane: str | None = None,
    idempotent: bool | None = None,
) -> FetchResult[Any]:
    """`OutboundClient.fetch` on the current request's client."""
    return await client().fetch(
        service=service,
        url=url,
        method=method,
        headers=headers,
        params=params,
        json=json,
        body=body,
        timeout=timeout,
        retries=retries,
        model=model,
        lane=lane,
        idempotent=idempotent,
    )
