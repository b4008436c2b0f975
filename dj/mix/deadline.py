"""Run an awaitable with a time limit; the timer is cleared however the awaitable ends.

Upstream's lesson (reference §10, "Timers"): a timer left armed after a race fires later in
another request's context. `with_deadline` arms one timer with `loop.call_later`, and its
`finally` cancels it whether the work finished, failed, timed out or was itself cancelled.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")

CallLater = Callable[[float, Callable[[], Any]], asyncio.TimerHandle]


class DeadlineExceeded(TimeoutError):
    """The work did not finish in time and was cancelled."""


async def with_deadline(
    work: Awaitable[T], seconds: float, *, call_later: CallLater | None = None
) -> T:
    """`await work`, cancelling it after `seconds` (then `DeadlineExceeded` is raised).

    `call_later` defaults to the running loop's; tests pass their own to watch the timer.
    """
    task: asyncio.Future[T] = asyncio.ensure_future(work)
    expired = False

    def expire() -> None:
        nonlocal expired
        if not task.done():
            expired = True
            task.cancel()

    schedule = call_later or asyncio.get_running_loop().call_later
    timer = schedule(seconds, expire)
    try:
        return await task
    except asyncio.CancelledError:
        if expired:
            raise DeadlineExceeded(f"no result within {seconds:g} s") from None
        raise
    finally:
        timer.cancel()
        if not task.done():  # we were cancelled from outside: take the work down with us
            task.cancel()
