"""Token bucket, lanes and the orchestrator, on a virtual-time event loop.

The loop's clock only moves when every task is waiting for a timer, the way `Date.now()`
only moves across I/O on Workers; a state where nothing can ever run again (a deadlock)
raises instead of hanging the test run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest

from runtime import ratelimit
from runtime.context import Context, Env, bind, unbind
from runtime.http import Request
from runtime.logging import ServiceLogger
from runtime.platform.local import LocalPlatform
from runtime.ratelimit import Lane, NestedSlotError, RequestOrchestrator, TokenBucket
from tests.support.virtual_time import DeadlockError, VirtualTimeLoop, run_virtual

T = TypeVar("T")


def make_orchestrator(loop: VirtualTimeLoop, **kwargs: Any) -> RequestOrchestrator:
    return RequestOrchestrator(clock=loop.time, **kwargs)


# -- token bucket --------------------------------------------------------------------------


def test_burst_of_40_is_granted_at_once_and_the_41st_waits_a_fortieth_of_a_second() -> None:
    async def main(loop: VirtualTimeLoop) -> list[float]:
        bucket = TokenBucket(40, 40, clock=loop.time)
        times = []
        for _ in range(41):
            await bucket.acquire()
            times.append(loop.time())
        return times

    times = run_virtual(main)
    assert times[:40] == [0.0] * 40
    assert times[40] == pytest.approx(1 / 40)


def test_refill_grants_forty_per_second_after_the_burst() -> None:
    async def main(loop: VirtualTimeLoop) -> list[float]:
        bucket = TokenBucket(40, 40, clock=loop.time)
        grants: list[float] = []

        async def one() -> None:
            await bucket.acquire()
            grants.append(loop.time())

        await asyncio.gather(*(one() for _ in range(200)))
        return grants

    grants = run_virtual(main)
    assert grants[-1] == pytest.approx((200 - 40) / 40)  # 4 s after the burst
    # In steady state no 1-second window holds more than 40 grants (plus float slack).
    steady = [t for t in grants if t >= 1.0]
    worst = max(sum(1 for t in steady if start <= t < start + 1.0) for start in steady)
    assert worst <= 41
    # Over any window at all the bucket allows at most burst + rate.
    overall = max(sum(1 for t in grants if start <= t < start + 1.0) for start in grants)
    assert overall <= 80


def test_window_counts_calls_until_a_second_after_their_response() -> None:
    async def main(loop: VirtualTimeLoop) -> tuple[list[float], list[float]]:
        bucket = TokenBucket(40, 40, clock=loop.time, window=1.0)
        arrivals: list[float] = []
        ends: list[float] = []

        async def call(i: int) -> None:
            lease = await bucket.acquire()
            # the upstream sees the call after a set-up delay of up to 0.45 s, then answers
            # 50 ms later: the stragglers of one burst must not share a second with the next
            delay = (i % 10) * 0.05
            await asyncio.sleep(delay)
            arrivals.append(loop.time())
            await asyncio.sleep(0.05)
            bucket.release(lease)
            ends.append(loop.time())

        await asyncio.gather(*(call(i) for i in range(200)))
        return arrivals, ends

    arrivals, ends = run_virtual(main)
    worst = max(sum(1 for t in arrivals if start <= t < start + 1.0) for start in arrivals)
    assert worst == 40
    # five rounds of 40, each place reused a second after its previous call's response:
    # more than four seconds, at most four seconds plus five of the slowest calls
    assert 4.0 < max(ends) <= 4 * 1.0 + 5 * 0.5 + 0.01


def test_a_grant_waits_for_a_release_when_every_window_place_is_in_flight() -> None:
    async def main(loop: VirtualTimeLoop) -> float:
        bucket = TokenBucket(40, 2, clock=loop.time, window=1.0)
        first = await bucket.acquire()
        await bucket.acquire()

        async def finish_later() -> None:
            await asyncio.sleep(3.0)  # a slow upstream
            bucket.release(first)

        finisher = asyncio.create_task(finish_later())
        await bucket.acquire()
        await finisher
        return loop.time()

    # the third call may start one second after the first one's response, not before
    assert run_virtual(main) == pytest.approx(4.0)


def test_orchestrator_applies_the_window_guard_by_default() -> None:
    assert RequestOrchestrator().bucket.window == ratelimit.WINDOW_SECONDS


def test_idle_time_refills_only_up_to_the_burst() -> None:
    async def main(loop: VirtualTimeLoop) -> tuple[float, float]:
        bucket = TokenBucket(40, 40, clock=loop.time)
        for _ in range(40):
            await bucket.acquire()
        await asyncio.sleep(10)  # idle: 400 tokens' worth of time, capped at 40
        start = loop.time()
        for _ in range(40):
            await bucket.acquire()
        burst_done = loop.time() - start
        await bucket.acquire()
        return burst_done, loop.time() - start

    burst_done, after_41 = run_virtual(main)
    assert burst_done == 0.0
    assert after_41 == pytest.approx(1 / 40)


def test_waiting_uses_one_sleep_per_missing_token_not_a_busy_loop() -> None:
    async def main(loop: VirtualTimeLoop) -> list[float]:
        sleeps: list[float] = []

        async def counting_sleep(delay: float) -> None:
            sleeps.append(delay)
            await asyncio.sleep(delay)

        bucket = TokenBucket(40, 40, clock=loop.time, sleep=counting_sleep)
        await asyncio.gather(*(bucket.acquire() for _ in range(80)))
        return sleeps

    sleeps = run_virtual(main)
    assert len(sleeps) == 40
    assert all(delay == pytest.approx(1 / 40) for delay in sleeps)


def test_bucket_reads_no_clock_until_first_acquire() -> None:
    reads: list[int] = []

    def clock() -> float:
        reads.append(1)
        return 0.0

    bucket = TokenBucket(40, 40, clock=clock)
    assert reads == []
    assert bucket.try_acquire()
    assert reads  # read when a token is taken, never before


def test_waiters_get_tokens_in_arrival_order() -> None:
    async def main(loop: VirtualTimeLoop) -> list[int]:
        bucket = TokenBucket(10, 1, clock=loop.time)
        await bucket.acquire()
        order: list[int] = []

        async def one(i: int) -> None:
            await bucket.acquire()
            order.append(i)

        tasks = []
        for i in range(6):
            tasks.append(asyncio.create_task(one(i)))
            await asyncio.sleep(0)
        await asyncio.gather(*tasks)
        return order

    assert run_virtual(main) == [0, 1, 2, 3, 4, 5]


def test_a_cancelled_token_waiter_leaves_the_queue_and_wastes_no_token() -> None:
    async def main(loop: VirtualTimeLoop) -> tuple[float, int]:
        bucket = TokenBucket(10, 1, clock=loop.time)
        await bucket.acquire()  # empty now: next token at t=0.1
        head = asyncio.create_task(bucket.acquire())
        second = asyncio.create_task(bucket.acquire())
        await asyncio.sleep(0.05)
        head.cancel()
        with pytest.raises(asyncio.CancelledError):
            await head
        await second
        return loop.time(), bucket.waiting

    granted_at, waiting = run_virtual(main)
    assert granted_at == pytest.approx(0.1)  # the cancelled head's token went to the next
    assert waiting == 0


# -- lanes ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lane", "cap"), [("anthropic", 2), ("spotify", 5), ("lastfm", 10), ("deezer", 10)]
)
def test_lane_never_runs_more_than_its_cap(lane: str, cap: int) -> None:
    async def main(loop: VirtualTimeLoop) -> tuple[int, int]:
        orch = make_orchestrator(loop)
        running = 0
        peak = 0

        async def call() -> None:
            nonlocal running, peak
            running += 1
            peak = max(peak, running)
            await asyncio.sleep(0.5)
            running -= 1

        await orch.execute_batch(lane, [call] * 30)
        return peak, orch.lane(lane).in_use

    peak, in_use = run_virtual(main)
    assert peak == cap
    assert in_use == 0


def test_unknown_services_share_the_default_lane_of_three() -> None:
    async def main(loop: VirtualTimeLoop) -> int:
        orch = make_orchestrator(loop)
        assert orch.lane("musicbrainz") is orch.lane("default")
        running = peak = 0

        async def call() -> None:
            nonlocal running, peak
            running += 1
            peak = max(peak, running)
            await asyncio.sleep(0.1)
            running -= 1

        await orch.execute_batch("musicbrainz", [call] * 12)
        return peak

    assert run_virtual(main) == 3


def test_lane_serves_waiters_first_in_first_out() -> None:
    async def main(loop: VirtualTimeLoop) -> list[int]:
        orch = make_orchestrator(loop, lanes={"solo": 1})
        order: list[int] = []

        async def call(i: int) -> None:
            async with orch.slot("solo"):
                order.append(i)
                await asyncio.sleep(0.01)

        tasks = []
        for i in range(8):
            tasks.append(asyncio.create_task(call(i)))
            await asyncio.sleep(0)
        await asyncio.gather(*tasks)
        return order

    assert run_virtual(main) == list(range(8))


def test_slot_is_released_when_the_call_raises() -> None:
    async def main(loop: VirtualTimeLoop) -> tuple[int, int]:
        orch = make_orchestrator(loop, lanes={"solo": 1})

        async def boom() -> None:
            raise ValueError("upstream exploded")

        async def fine() -> int:
            return 7

        with pytest.raises(ValueError):
            await orch.execute("solo", boom)
        value = await orch.execute("solo", fine)
        return value, orch.lane("solo").in_use

    assert run_virtual(main) == (7, 0)


def test_cancelling_holders_and_waiters_leaves_no_slot_or_token_held() -> None:
    async def main(loop: VirtualTimeLoop) -> dict[str, Any]:
        orch = make_orchestrator(loop, rate=10, burst=2, lanes={"x": 2, "default": 3})

        async def call() -> None:
            async with orch.slot("x"):
                await asyncio.sleep(100)

        tasks = [asyncio.create_task(call()) for _ in range(6)]
        await asyncio.sleep(0.01)
        # Two hold slots (burst 2 let them in), four wait for a slot.
        assert orch.lane("x").in_use == 2
        assert orch.lane("x").waiting == 4
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        stats = orch.stats()
        # Everything is usable again: two fresh calls get slots once tokens refill.
        done: list[float] = []

        async def quick() -> None:
            async with orch.slot("x"):
                done.append(loop.time())

        await asyncio.gather(quick(), quick())
        return {"stats": stats, "done": done}

    result = run_virtual(main)
    lane = result["stats"]["lanes"]["x"]
    assert lane["in_use"] == 0
    assert lane["waiting"] == 0
    assert result["stats"]["token_waiters"] == 0
    assert len(result["done"]) == 2


def test_cancelling_a_task_waiting_for_a_token_releases_its_lane_slot() -> None:
    async def main(loop: VirtualTimeLoop) -> tuple[int, int]:
        orch = make_orchestrator(loop, rate=1, burst=1, lanes={"x": 5, "default": 3})
        await orch.bucket.acquire()  # drain: the next token is 1 s away

        async def call() -> None:
            async with orch.slot("x"):
                pass

        task = asyncio.create_task(call())
        await asyncio.sleep(0.1)
        assert orch.lane("x").in_use == 1  # slot taken, waiting for a token
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return orch.lane("x").in_use, orch.bucket.waiting

    assert run_virtual(main) == (0, 0)


def test_slot_handed_to_a_waiter_cancelled_at_that_moment_passes_to_the_next() -> None:
    async def main(loop: VirtualTimeLoop) -> tuple[list[str], int]:
        lane = Lane("solo", 1)
        await lane.acquire()
        got: list[str] = []

        async def waiter(name: str) -> None:
            await lane.acquire()
            got.append(name)
            lane.release()

        first = asyncio.create_task(waiter("first"))
        second = asyncio.create_task(waiter("second"))
        await asyncio.sleep(0)
        lane.release()  # hands the slot to `first`...
        first.cancel()  # ...which is cancelled before it runs
        await asyncio.gather(first, second, return_exceptions=True)
        return got, lane.in_use

    got, in_use = run_virtual(main)
    assert got == ["second"]
    assert in_use == 0


def test_taking_a_slot_inside_a_slot_fails_fast_instead_of_deadlocking() -> None:
    async def main(loop: VirtualTimeLoop) -> int:
        orch = make_orchestrator(loop, lanes={"lastfm": 1, "default": 3})
        async with orch.slot("lastfm"):
            assert ratelimit.holding_slot() == "lastfm"
            with pytest.raises(NestedSlotError):
                async with orch.slot("lastfm"):
                    pass
        assert ratelimit.holding_slot() is None
        return orch.lane("lastfm").in_use

    assert run_virtual(main) == 0


def test_virtual_loop_reports_a_real_deadlock() -> None:
    async def main(loop: VirtualTimeLoop) -> None:
        lane = Lane("solo", 1)
        await lane.acquire()
        await lane.acquire()  # never released: blocks forever

    with pytest.raises(DeadlockError):
        run_virtual(main)


# -- per-request orchestrator --------------------------------------------------------------


def _context() -> Context:
    return Context(
        Request("GET", "https://dj.example/api/x"),
        Env({}),
        LocalPlatform(),
        ServiceLogger("test", sink=lambda line: None),
    )


def test_each_request_gets_its_own_orchestrator_and_none_exists_outside_one() -> None:
    assert ratelimit.orchestrator() is None
    first, second = _context(), _context()
    token = bind(first)
    try:
        a1 = ratelimit.orchestrator()
        a2 = ratelimit.orchestrator()
    finally:
        unbind(token)
    token = bind(second)
    try:
        b = ratelimit.orchestrator()
    finally:
        unbind(token)
    assert a1 is a2
    assert a1 is not None and b is not None and a1 is not b
    assert first.state[ratelimit.ORCHESTRATOR_STATE_KEY] is a1


async def test_orchestrator_works_on_the_real_event_loop() -> None:
    orch = RequestOrchestrator()

    async def call() -> int:
        await asyncio.sleep(0)
        return 1

    calls: list[Callable[[], Awaitable[int]]] = [call] * 12
    assert sum(await orch.execute_batch("spotify", calls)) == 12
    assert orch.lane("spotify").max_in_use <= 5
