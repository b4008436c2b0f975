"""Platform-neutral Request and Response: what middleware and handlers work with.

The platform adapter converts the SDK's request into a `Request` (the body is read lazily,
once) and a `Response` back into a JS Response, so the core runs unchanged on CPython.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from pydantic import BaseModel


class Headers:
    """Case-insensitive, order-keeping, multi-valued header list.

    The lowercased names are kept beside the pairs, so lookups are one C-level list search
    instead of a Python loop lowercasing every name (this sits on every request's path).
    """

    __slots__ = ("_items", "_lower")

    def __init__(
        self, items: Iterable[tuple[str, str]] | dict[str, str] | Headers | None = None
    ) -> None:
        if items is None:
            self._items: list[tuple[str, str]] = []
            self._lower: list[str] = []
            return
        if isinstance(items, Headers):
            self._items = items.items()  # a copy (and a lazy subclass loads first)
            self._lower = list(items._lower)
            return
        pairs = items.items() if isinstance(items, dict) else items
        self._items = [(str(k), str(v)) for k, v in pairs]
        self._lower = [k.lower() for k, _ in self._items]

    @classmethod
    def from_pairs(cls, pairs: list[tuple[str, str]], lower: list[str]) -> Headers:
        """Headers from pairs of str already made, with their lowercased names (no copy)."""
        headers = cls.__new__(cls)
        headers._items = pairs
        headers._lower = lower
        return headers

    def get(self, name: str, default: str | None = None) -> str | None:
        low = name.lower()
        lower = self._lower
        if low in lower:  # a miss is common (an optional header): no exception for it
            return self._items[lower.index(low)][1]
        return default

    def get_all(self, name: str) -> list[str]:
        low = name.lower()
        return [pair[1] for key, pair in zip(self._lower, self._items, strict=True) if key == low]

    def set(self, name: str, value: str) -> None:
        low = name.lower()
        if low in self._lower:
            self._remove(low)
        self._items.append((name, value))
        self._lower.append(low)

    def setdefault(self, name: str, value: str) -> None:
        low = name.lower()
        if low not in self._lower:
            self._items.append((name, value))
            self._lower.append(low)

    def add(self, name: str, value: str) -> None:
        self._items.append((name, value))
        self._lower.append(name.lower())

    def add_missing(self, defaults: HeaderDefaults) -> None:
        """Add each of `defaults` whose name is not present yet."""
        lower = self._lower
        if defaults.names.isdisjoint(lower):  # the usual case: none present, all go in at once
            self._items.extend(defaults.pairs)
            lower.extend(defaults.lower)
            return
        for pair, low in zip(defaults.pairs, defaults.lower, strict=True):
            if low not in lower:
                self._items.append(pair)
                lower.append(low)

    def delete(self, name: str) -> None:
        low = name.lower()
        if low in self._lower:
            self._remove(low)

    def _remove(self, low: str) -> None:
        keep = [i for i, key in enumerate(self._lower) if key != low]
        self._items = [self._items[i] for i in keep]
        self._lower = [self._lower[i] for i in keep]

    def items(self) -> list[tuple[str, str]]:
        return list(self._items)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._lower

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"


class HeaderDefaults:
    """Headers to add where a header set lacks them, prepared once (names lowercased, and as a
    set for the all-absent check) so that adding them per response does no string work."""

    __slots__ = ("lower", "names", "pairs")

    def __init__(self, headers: dict[str, str]) -> None:
        self.pairs = list(headers.items())
        self.lower = [name.lower() for name in headers]
        self.names = frozenset(self.lower)


# Lowercased names of response headers whose values change with every request (a request id,
# cookies). A platform adapter may cache what the rest of a response's headers build (the JS
# ResponseInit on Workers) and add these afterwards. Middleware that sets such a header adds
# its name here when the app is assembled.
PER_REQUEST_HEADERS: set[str] = {"set-cookie", "location", "retry-after", "date", "etag"}


BodyReader = Callable[[], Awaitable[bytes]]


class Request:
    """One incoming request. `raw` keeps the platform's own object for the rare need."""

    __slots__ = ("_body", "_reader", "_url_parts", "headers", "method", "raw", "url")

    def __init__(
        self,
        method: str,
        url: str,
        headers: Headers | dict[str, str] | None = None,
        body: bytes | None = None,
        reader: BodyReader | None = None,
        raw: Any = None,
    ) -> None:
        self.method = method.upper()
        self.url = url
        self.headers = headers if isinstance(headers, Headers) else Headers(headers)
        self._body = body
        self._reader = reader
        self.raw = raw
        self._url_parts = urlsplit(url)

    @property
    def path(self) -> str:
        return self._url_parts.path or "/"

    @property
    def query_string(self) -> str:
        return self._url_parts.query

    def query_items(self) -> list[tuple[str, str]]:
        return parse_qsl(self._url_parts.query, keep_blank_values=True)

    @property
    def origin(self) -> str:
        parts = self._url_parts
        return f"{parts.scheme}://{parts.netloc}"

    async def bytes(self) -> bytes:
        if self._body is None:
            self._body = await self._reader() if self._reader is not None else b""
        return self._body

    async def text(self) -> str:
        return (await self.bytes()).decode("utf-8", errors="replace")


def dumps(data: Any) -> bytes:
    """JSON bytes for a response: pydantic models by alias, compact separators."""
    if isinstance(data, BaseModel):
        return data.model_dump_json(by_alias=True).encode()
    return _encode(data).encode()


def _default(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


# One encoder for every response: `json.dumps` with options builds a new encoder per call.
_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=_default).encode


_JSON_TYPE = ("Content-Type", "application/json")
_JSON_TYPE_LOWER = "content-type"


class Response:
    """Status, headers and a body: bytes, or a platform stream (see `runtime.platform`)."""

    __slots__ = ("body", "headers", "status")

    def __init__(
        self,
        body: bytes | str | Any = b"",
        status: int = 200,
        headers: Headers | dict[str, str] | None = None,
        media_type: str | None = None,
    ) -> None:
        self.status = status
        self.headers = Headers(headers)
        self.body = body.encode() if isinstance(body, str) else body
        if media_type is not None:
            self.headers.setdefault("Content-Type", media_type)

    @classmethod
    def json(
        cls, data: Any, status: int = 200, headers: Headers | dict[str, str] | None = None
    ) -> Response:
        if headers is None:  # the common case: one header, no copy of a header set
            response = cls.__new__(cls)
            response.status = status
            response.headers = Headers.from_pairs([_JSON_TYPE], [_JSON_TYPE_LOWER])
            response.body = dumps(data)
            return response
        return cls(dumps(data), status, headers, media_type="application/json")

    @classmethod
    def text(
        cls, text: str, status: int = 200, headers: Headers | dict[str, str] | None = None
    ) -> Response:
        return cls(text, status, headers, media_type="text/plain; charset=utf-8")

    @classmethod
    def html(
        cls, text: str, status: int = 200, headers: Headers | dict[str, str] | None = None
    ) -> Response:
        return cls(text, status, headers, media_type="text/html; charset=utf-8")

    @property
    def is_stream(self) -> bool:
        return not isinstance(self.body, (bytes, bytearray))
