"""Run a coroutine as far as it goes without waiting: its result, or an awaitable for the rest.

A Workers entrypoint method may return a value or an awaitable. Started eagerly, a request that
never waits for I/O returns its response at once and leaves no coroutine for the platform to
wrap in a task and drive.

Every step runs in one copy of the caller's context, made when the coroutine starts, as an
asyncio task's steps do: what the request binds in context variables is seen by all of its
steps, and by tasks it starts, whichever task awaits the rest, and it never leaks into the
caller's context.
"""

from __future__ import annotations

import contextvars
from collections.abc import Coroutine, Generator
from typing import Any


def run_eagerly(coro: Coroutine[Any, Any, Any]) -> Any:
    """Step `coro` until it first waits. Its result if it finished (an exception it raised
    propagates from here), else an awaitable that continues it where it stopped."""
    context = contextvars.copy_context()
    try:
        first = context.run(coro.send, None)
    except StopIteration as done:
        return done.value
    return Continuation(coro, first, context)


class Continuation:
    """The rest of a started coroutine, awaitable once (what `yield from` would do)."""

    __slots__ = ("_context", "_coro", "_first")

    def __init__(
        self, coro: Coroutine[Any, Any, Any], first: Any, context: contextvars.Context
    ) -> None:
        self._coro = coro
        self._first = first
        self._context = context

    def __await__(self) -> Generator[Any, Any, Any]:
        coro, run, pending = self._coro, self._context.run, self._first
        self._first = None
        while True:
            try:
                value = yield pending
            except GeneratorExit:
                run(coro.close)
                raise
            except BaseException as exc:  # cancellation, or an error for the awaited step
                try:
                    pending = run(coro.throw, exc)
                except StopIteration as done:
                    return done.value
                continue
            try:
                pending = run(coro.send, value)
            except StopIteration as done:
                return done.value
