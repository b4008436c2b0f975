"""An event loop whose clock moves only when every task waits for a timer.

That is how `Date.now()` behaves on Workers (time advances across I/O, not during work), and it
makes timing tests exact and instant. A state where nothing can ever run again (a deadlock)
raises `DeadlockError` instead of hanging the test run.
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class DeadlockError(RuntimeError):
    pass


class _VirtualSelector(selectors.SelectSelector):
    def __init__(self, loop: VirtualTimeLoop) -> None:
        super().__init__()
        self._loop = loop

    def select(self, timeout: float | None = None) -> list[Any]:
        if timeout is None:
            raise DeadlockError("every task is blocked and no timer is armed")
        if timeout > 0:
            self._loop.now += timeout
        return []


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    def __init__(self) -> None:
        self.now = 0.0
        super().__init__(selector=_VirtualSelector(self))

    def time(self) -> float:
        return self.now


def run_virtual(factory: Callable[[VirtualTimeLoop], Coroutine[Any, Any, T]]) -> T:
    loop = VirtualTimeLoop()
    try:
        return loop.run_until_complete(factory(loop))
    finally:
        loop.close()
