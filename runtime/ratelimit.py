"""Rate limiting for external calls: a token bucket plus per-lane concurrency caps.

Design (see docs/runtime-limits.md):

* One `RequestOrchestrator` per request, created on first use and kept in `ctx.state`. The
  upstream's isolate-global orchestrator resolved one request's waiters from another
  request's context and let slots held by a stuck or cancelled request poison the isolate
  (reference §5.2, §12.11, §12.12). Per request, nothing outlives the request.
* A slot is held only around one HTTP attempt, and only `runtime.outbound` takes it.
  Higher-level helpers (a Last.fm lookup that makes four calls, a batch over artists) never
  hold a slot while they await other helpers, so nesting cannot deadlock. Taking a slot while
  already holding one raises `NestedSlotError` at once instead of hanging.
* Time only advances across I/O on Workers. The bucket reads the clock when a caller
  acquires, computes the refill from the elapsed time, and waits with `asyncio.sleep` (a JS
  timer on Pyodide) for exactly the deficit; only the head of the queue sleeps, so there is
  at most one timer per bucket and no busy-waiting. Nothing is scheduled at import.
* Every wait is cancellation-safe: a cancelled waiter leaves the queue, and a slot handed to
  a waiter that is cancelled at the same moment is passed on, so no slot or token is lost.
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from typing import Any, TypeVar

T = TypeVar("T")

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[Any]]

GLOBAL_RATE = 40.0
"""Tokens per second shared by every external call of a request."""
GLOBAL_BURST = 40
# No more than GLOBAL_BURST calls in any window of this length, as the upstream sees them.
WINDOW_SECONDS = 1.0
DEFAULT_LANES: Mapping[str, int] = {
    "anthropic": 2,
    "spotify": 5,
    "lastfm": 10,
    "deezer": 10,
    "default": 3,
}
DEFAULT_LANE = "default"
MIN_SLEEP = 0.001
_EPSILON = 1e-9

ORCHESTRATOR_STATE_KEY = "ratelimit.orchestrator"

_holding: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "djbuild_ratelimit_holding", default=None
)


class NestedSlotError(RuntimeError):
    """A lane slot was requested by code that already holds one (would risk a deadlock)."""


class Lane:
    """At most `limit` holders; waiters are served first come, first served."""

    def __init__(self, name: str, limit: int) -> None:
        if limit < 1:
            raise ValueError("a lane needs at least one slot")
        self.name = name
        self.limit = limit
        self.in_use = 0
        self.max_in_use = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def waiting(self) -> int:
        return sum(1 for fut in self._waiters if not fut.done())

    async def acquire(self) -> None:
        if self.in_use < self.limit and not self._waiters:
            self._take()
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                # The slot was handed over just as we were cancelled: pass it on.
                self.release()
            else:
                try:
                    self._waiters.remove(fut)
                except ValueError:
                    pass
            raise
        # A handed-over slot is already counted in `in_use` by `release`.

    def _take(self) -> None:
        self.in_use += 1
        self.max_in_use = max(self.max_in_use, self.in_use)

    def release(self) -> None:
        if self.in_use <= 0:
            raise RuntimeError(f"lane {self.name!r} released more often than acquired")
        while self._waiters:
            fut = self._waiters.popleft()
            if not fut.done():
                fut.set_result(None)  # hand the slot straight to the next waiter
                return
        self.in_use -= 1


class _Turn:
    __slots__ = ("event",)

    def __init__(self) -> None:
        self.event = asyncio.Event()


class Lease:
    """One granted call; `ended` is set when the call's response came back."""

    __slots__ = ("ended",)

    def __init__(self, ended: float | None = None) -> None:
        self.ended = ended


class TokenBucket:
    """`rate` tokens per second, at most `burst` stored; FIFO among waiting callers.

    With a `window`, also never more than `burst` calls in any window as an upstream sees
    them: a call occupies the window from its grant until `window` seconds after its response
    came back (`release`). A grant-time window is not enough: calls of one burst reach the
    upstream spread out by connection set-up (up to ~0.6 s on the local host), and the
    stragglers would share a second with the next burst. Counting from the response, which
    comes after the call's arrival upstream, makes the bound hold whatever the jitter.
    """

    def __init__(
        self,
        rate: float = GLOBAL_RATE,
        burst: int = GLOBAL_BURST,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        window: float | None = None,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self.rate = float(rate)
        self.burst = burst
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(burst)
        self._updated: float | None = None  # the clock is first read by the first acquire
        self._queue: deque[_Turn] = deque()
        self.window = window
        self._leases: list[Lease] = []
        self._released: asyncio.Event | None = None
        self.granted = 0

    @property
    def waiting(self) -> int:
        return len(self._queue)

    def available(self) -> float:
        self._refill()
        return self._tokens

    def _refill(self) -> None:
        now = self._clock()
        if self._updated is None:
            self._updated = now
            return
        elapsed = now - self._updated
        if elapsed > 0:
            self._tokens = min(float(self.burst), self._tokens + elapsed * self.rate)
            self._updated = now

    def _window_full(self, now: float) -> bool:
        assert self.window is not None
        window = self.window
        self._leases = [
            lease for lease in self._leases if lease.ended is None or now - lease.ended < window
        ]
        return len(self._leases) >= self.burst

    def _take(self) -> Lease | None:
        self._refill()
        now = self._clock()
        if self.window is not None and self._window_full(now):
            return None
        if self._tokens < 1 - _EPSILON:
            return None
        self._tokens = max(0.0, self._tokens - 1)
        self.granted += 1
        lease = Lease()
        if self.window is not None:
            self._leases.append(lease)
        return lease

    def _wait_time(self) -> float | None:
        """How long until `_take` can succeed; None when only a release can free the window."""
        token_wait = max(0.0, (1 - self._tokens) / self.rate)
        window_wait = 0.0
        if self.window is not None and len(self._leases) >= self.burst:
            ended = [lease.ended for lease in self._leases if lease.ended is not None]
            if not ended:
                return None
            window_wait = min(ended) + self.window - self._clock()
        return max(MIN_SLEEP, token_wait, window_wait)

    def release(self, lease: Lease | None) -> None:
        """The call's response is back: its window place frees `window` seconds from now."""
        if lease is None or lease.ended is not None:
            return
        lease.ended = self._clock()
        if self._released is not None:
            self._released.set()

    def try_acquire(self) -> bool:
        """Take a token now if one is free and nobody is queued ahead (released at once)."""
        if self._queue:
            return False
        lease = self._take()
        self.release(lease)
        return lease is not None

    async def acquire(self) -> Lease:
        """Wait for a token (and a window place); `release` the lease when the call is done."""
        if not self._queue:
            lease = self._take()
            if lease is not None:
                return lease
        turn = _Turn()
        self._queue.append(turn)
        if len(self._queue) == 1:
            turn.event.set()
        try:
            await turn.event.wait()
            while (lease := self._take()) is None:
                wait = self._wait_time()
                if wait is None:
                    if self._released is None:
                        self._released = asyncio.Event()
                    self._released.clear()
                    await self._released.wait()
                else:
                    await self._sleep(wait)
            return lease
        finally:
            was_head = bool(self._queue) and self._queue[0] is turn
            self._queue.remove(turn)
            if was_head and self._queue:
                self._queue[0].event.set()


class RequestOrchestrator:
    """Lane slots plus the shared token bucket, for the external calls of one request."""

    def __init__(
        self,
        *,
        rate: float = GLOBAL_RATE,
        burst: int = GLOBAL_BURST,
        lanes: Mapping[str, int] | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        window: float | None = WINDOW_SECONDS,
    ) -> None:
        self.bucket = TokenBucket(rate, burst, clock=clock, sleep=sleep, window=window)
        self.lanes = {name: Lane(name, limit) for name, limit in (lanes or DEFAULT_LANES).items()}
        if DEFAULT_LANE not in self.lanes:
            self.lanes[DEFAULT_LANE] = Lane(DEFAULT_LANE, DEFAULT_LANES[DEFAULT_LANE])

    def lane(self, name: str) -> Lane:
        """The lane called `name`; unknown names (musicbrainz, ...) share `default`."""
        return self.lanes.get(name) or self.lanes[DEFAULT_LANE]

    @asynccontextmanager
    async def slot(self, lane: str, *, mark: bool = True) -> AsyncIterator[None]:
        """Hold a slot of `lane` and one token for the duration of the block.

        `mark=False` does not record the slot in the running context: for a slot held
        across a `yield` to other code (a streamed body), whose context, and the tasks it
        starts, must not count as holding one. Wrap the calls made meanwhile in `marked`."""
        held = _holding.get()
        if held is not None:
            raise NestedSlotError(
                f"a {lane!r} slot was requested while holding a {held!r} slot: hold slots "
                "only around a single HTTP call (runtime.outbound does this)"
            )
        chosen = self.lane(lane)
        await chosen.acquire()
        try:
            lease = await self.bucket.acquire()
            marker = _holding.set(chosen.name) if mark else None
            try:
                yield
            finally:
                if marker is not None:
                    _holding.reset(marker)
                self.bucket.release(lease)
        finally:
            chosen.release()

    async def execute(self, lane: str, call: Callable[[], Awaitable[T]]) -> T:
        async with self.slot(lane):
            return await call()

    async def execute_batch(
        self, lane: str, calls: Iterable[Callable[[], Awaitable[T]]]
    ) -> list[T]:
        return list(await asyncio.gather(*(self.execute(lane, call) for call in calls)))

    def stats(self) -> dict[str, Any]:
        return {
            "tokens_granted": self.bucket.granted,
            "token_waiters": self.bucket.waiting,
            "lanes": {
                name: {
                    "in_use": lane.in_use,
                    "waiting": lane.waiting,
                    "max_in_use": lane.max_in_use,
                    "limit": lane.limit,
                }
                for name, lane in self.lanes.items()
            },
        }


@contextmanager
def marked(lane: str) -> Iterator[None]:
    """Record `lane` as held by the running code for the block (see `slot(mark=False)`)."""
    marker = _holding.set(lane)
    try:
        yield
    finally:
        _holding.reset(marker)


def holding_slot() -> str | None:
    """The lane whose slot the running code holds, if any."""
    return _holding.get()


def orchestrator() -> RequestOrchestrator | None:
    """The current request's orchestrator (created on first use); None outside a request."""
    from .context import current_or_none

    ctx = current_or_none()
    if ctx is None:
        return None
    orch = ctx.state.get(ORCHESTRATOR_STATE_KEY)
    if orch is None:
        orch = RequestOrchestrator()
        ctx.state[ORCHESTRATOR_STATE_KEY] = orch
    return orch
