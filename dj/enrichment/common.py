"""Shared pieces of the enrichment clients: outcomes, pacing, lenient parsing helpers.

An upstream sub-call ends in one of three ways, and the difference matters for caching:

* `ok`: the service answered with data;
* `not_found`: the service answered that it has nothing (Deezer's HTTP-200 error 800,
  Last.fm's error 6, an empty search). That is a real answer: it may be negative-cached;
* `failed`: no usable answer (timeout, 5xx after retries, a bad API key, a quota error,
  an unparseable body, no subrequests left). Nothing is learned, so nothing is cached.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, Generic, Literal, TypeVar

from runtime.records import record

T = TypeVar("T")

Status = Literal["ok", "not_found", "failed"]


@record(frozen=True)
class Outcome(Generic[T]):
    status: Status
    value: T | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def failed(self) -> bool:
        return self.status == "failed"

    @classmethod
    def found(cls, value: T) -> Outcome[T]:
        return cls("ok", value)

    @classmethod
    def missing(cls, why: str | None = None) -> Outcome[T]:
        return cls("not_found", None, why)

    @classmethod
    def failure(cls, why: str) -> Outcome[T]:
        return cls("failed", None, why)


class Pacer:
    """At most `limit` calls start in any `window` seconds (sliding window of reservations).

    A caller reserves the earliest start time that keeps the window within the limit and
    sleeps until then; reservations are made without awaiting, so concurrent callers never
    pick the same slot. It holds nothing while the call runs, so it cannot deadlock with the
    runtime's lane slots. Used for the services' own published limits, which are tighter
    than the runtime's 40 calls/s: MusicBrainz about 1 request/s, Deezer 50 per 5 s.
    """

    def __init__(
        self,
        limit: int,
        window: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("a pacer needs limit >= 1 and a positive window")
        self.limit = limit
        self.window = window
        self._clock = clock
        self._sleep = sleep
        self._starts: deque[float] = deque()
        self.waited = 0.0

    def reserve(self) -> float:
        """Book a start time; returns how long to wait for it (0 = now)."""
        now = self._clock()
        while self._starts and self._starts[0] <= now - self.window:
            self._starts.popleft()
        start = now
        if len(self._starts) >= self.limit:
            start = max(now, self._starts[-self.limit] + self.window)
        self._starts.append(start)
        return max(0.0, start - now)

    async def wait(self) -> None:
        delay = self.reserve()
        if delay > 0:
            self.waited += delay
            await self._sleep(delay)


def js_round(value: float) -> int:
    """JavaScript's Math.round: halves go up (Python's round goes to even)."""
    return math.floor(value + 0.5)


# -- lenient parsing -----------------------------------------------------------------------


def to_number(value: Any) -> float | None:
    """A JSON number or a numeric string ("1234", "12.5") as float; anything else None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            number = float(text)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def to_int(value: Any) -> int | None:
    number = to_number(value)
    return None if number is None else int(number)


def blank_to_none(value: Any) -> Any:
    """Empty or whitespace-only strings (Last.fm's and Deezer's "no URL") become None."""
    if isinstance(value, str) and not value.strip():
        return None
    return value


def as_list(value: Any) -> list[Any]:
    """Last.fm gives a single object instead of a one-item list, and "" for none."""
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        return [value]
    return []


def error_text(result: Any) -> str:
    """A short description of a failed `FetchResult` (never includes the URL's secrets)."""
    status = f" {result.status}" if getattr(result, "status", None) is not None else ""
    return f"{result.error}{status}"
