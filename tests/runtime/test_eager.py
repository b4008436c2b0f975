"""runtime.eager: a coroutine run as far as it goes, then an awaitable for the rest."""

from __future__ import annotations

import asyncio
import contextvars

import pytest

from runtime import context as request_context
from runtime.context import Context, Env
from runtime.eager import Continuation, run_eagerly
from runtime.http import Request
from runtime.logging import ServiceLogger
from runtime.platform.local import LocalPlatform


async def _no_wait() -> str:
    return "done"


async def _waits(log: list[str]) -> str:
    log.append("before")
    await asyncio.sleep(0)
    log.append("after")
    return "finished"


def test_a_coroutine_that_never_waits_gives_its_result_at_once() -> None:
    assert run_eagerly(_no_wait()) == "done"


def test_an_error_before_the_first_wait_is_raised_at_once() -> None:
    async def fails() -> None:
        raise ValueError("bad input")

    with pytest.raises(ValueError, match="bad input"):
        run_eagerly(fails())


async def test_a_coroutine_that_waits_is_continued_by_awaiting_the_result() -> None:
    log: list[str] = []
    started = run_eagerly(_waits(log))
    assert isinstance(started, Continuation)
    assert log == ["before"]  # ran up to its first wait, no further
    assert await started == "finished"
    assert log == ["before", "after"]


async def test_cancelling_the_awaiting_task_cancels_the_coroutine_and_runs_its_cleanup() -> None:
    cleaned: list[str] = []
    gate = asyncio.Event()

    async def slow() -> None:
        try:
            await gate.wait()
        finally:
            cleaned.append("finally")

    started = run_eagerly(slow())

    async def wait_for_it() -> None:
        await started

    task = asyncio.ensure_future(wait_for_it())
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cleaned == ["finally"]


async def test_an_error_in_the_awaited_step_reaches_the_coroutine() -> None:
    async def reads() -> str:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        loop.call_soon(future.set_exception, ConnectionError("upstream went away"))
        try:
            await future
        except ConnectionError as exc:
            return f"handled: {exc}"
        return "not reached"

    assert await run_eagerly(reads()) == "handled: upstream went away"


async def test_a_request_sees_its_context_in_every_step_whichever_task_awaits_it() -> None:
    """The platform may await the rest in a task of its own, in a copy of the caller's context
    made after the first step: the request still sees what it bound, unbinds cleanly (a token
    reset), and nothing it bound leaks into the caller's context."""
    seen: list[object] = []
    c = Context(Request("GET", "http://x/"), Env({}), LocalPlatform(), ServiceLogger("t"))

    async def request() -> None:
        token = request_context.bind(c)
        try:
            await asyncio.sleep(0)
            seen.append(request_context.current())
            child = asyncio.ensure_future(_current_in_a_task())
            seen.append(await child)
        finally:
            request_context.unbind(token)
        seen.append(request_context.current_or_none())

    started = run_eagerly(request())
    assert request_context.current_or_none() is None  # the caller's context is untouched
    task = asyncio.get_running_loop().create_task(
        _await(started), context=contextvars.copy_context()
    )
    await task
    assert seen == [c, c, None]


async def _current_in_a_task() -> object:
    return request_context.current_or_none()


async def _await(awaitable: object) -> None:
    await awaitable  # type: ignore[misc]
