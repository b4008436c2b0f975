"""`with_deadline`: the result or DeadlineExceeded, and the timer cleared on every ending."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from dj.mix.deadline import DeadlineExceeded, with_deadline


class Timers:
    """A `call_later` that records each timer so a test can see it was cancelled."""

    def __init__(self) -> None:
        self.handles: list[asyncio.TimerHandle] = []

    def __call__(self, delay: float, callback: Callable[[], Any]) -> asyncio.TimerHandle:
        handle = asyncio.get_running_loop().call_later(delay, callback)
        self.handles.append(handle)
        return handle


async def test_result_comes_back_and_its_timer_is_cancelled() -> None:
    timers = Timers()

    async def quick() -> str:
        return "done"

    assert await with_deadline(quick(), 5, call_later=timers) == "done"
    assert len(timers.handles) == 1 and timers.handles[0].cancelled()


async def test_slow_work_is_cancelled_and_reported_as_deadline_exceeded() -> None:
    timers = Timers()
    cancelled = asyncio.Event()

    async def slow() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    with pytest.raises(DeadlineExceeded):
        await with_deadline(slow(), 0.01, call_later=timers)
    assert cancelled.is_set()
    assert timers.handles[0].cancelled()


async def test_failure_passes_through_and_still_clears_the_timer() -> None:
    timers = Timers()

    async def broken() -> None:
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        await with_deadline(broken(), 5, call_later=timers)
    assert timers.handles[0].cancelled()


async def test_cancelling_the_caller_cancels_the_work_and_the_timer() -> None:
    timers = Timers()
    started = asyncio.Event()
    work_cancelled = asyncio.Event()

    async def slow() -> None:
        started.set()
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            work_cancelled.set()
            raise

    outer = asyncio.ensure_future(with_deadline(slow(), 5, call_later=timers))
    await started.wait()
    outer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await outer
    assert work_cancelled.is_set()
    assert timers.handles[0].cancelled()


async def test_default_timer_uses_the_running_loop() -> None:
    async def quick() -> int:
        return 7

    assert await with_deadline(quick(), 1) == 7
