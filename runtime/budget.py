"""Per-invocation budgets: outbound subrequests and KV operations.

Workers cap what one invocation may do: subrequests (1,000 on the paid tier in the docs the DJ
API was built against; it budgets 950) and KV operations (1,000, whatever the plan). The
upstream tracked only *estimates* of enrichment calls; here the outbound helper records every
attempt it sends and the KV wrapper every operation, so the numbers are the real ones.

Both budgets live on the request context (`ctx.state`), created on first use: nothing is
shared between requests, nothing is created at import.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from runtime.records import record

if TYPE_CHECKING:
    from .logging import ServiceLogger

T = TypeVar("T")

SUBREQUEST_MAX = 950
"""Paid tier's 1,000 (older docs) less a margin for the platform's own overhead."""
KV_OPS_MAX = 1000
"""Workers KV: operations per invocation, on every plan."""
WARN_RATIO = 0.8

ENRICHMENT_RESERVE = 10
"""Subrequests kept back from enrichment for the calls that follow it (narrator, answer)."""
DEEZER_SHARE = 0.5
DEEZER_CALLS_PER_TRACK = 1
LASTFM_CALLS_PER_TRACK = 4
LASTFM_RESERVE = 5

SUBREQUESTS_STATE_KEY = "budget.subrequests"
KV_OPS_STATE_KEY = "budget.kv_ops"


class BudgetExceededError(RuntimeError):
    """An operation would take a budget past its limit; it was not performed."""

    def __init__(self, kind: str, limit: int, wanted: int) -> None:
        super().__init__(f"{kind} budget exhausted: {wanted} more would exceed {limit}")
        self.kind = kind
        self.limit = limit
        self.wanted = wanted


class OperationBudget:
    """A count of operations against a fixed limit; warns once when 80 % is reached."""

    kind = "operations"

    def __init__(
        self,
        limit: int,
        *,
        warn_ratio: float = WARN_RATIO,
        logger: ServiceLogger | None = None,
    ) -> None:
        if limit < 0:
            raise ValueError("a budget limit cannot be negative")
        self.limit = limit
        self.count = 0
        self.warn_ratio = warn_ratio
        self.logger = logger
        self.warned = False
        self.refused = 0

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.count)

    @property
    def percentage(self) -> float:
        return 100.0 * self.count / self.limit if self.limit else 100.0

    def can_make(self, n: int = 1) -> bool:
        return self.count + n <= self.limit

    def record(self, n: int = 1) -> bool:
        """Count `n` operations already made (or about to be); False once over the limit."""
        if n < 0:
            raise ValueError("cannot record a negative number of operations")
        self.count += n
        if not self.warned and self.limit and self.count >= self.warn_ratio * self.limit:
            self.warned = True
            if self.logger is not None:
                self.logger.warn(
                    f"{self.kind} budget at {self.percentage:.0f}%",
                    kind=self.kind,
                    used=self.count,
                    limit=self.limit,
                )
        return self.count <= self.limit

    def try_spend(self, n: int = 1) -> bool:
        """Record `n` if they fit, else record nothing and return False (no await: atomic)."""
        if not self.can_make(n):
            self.refused += n
            return False
        self.record(n)
        return True

    def spend(self, n: int = 1) -> None:
        """Like `try_spend`, raising `BudgetExceededError` when the operations do not fit."""
        if not self.try_spend(n):
            raise BudgetExceededError(self.kind, self.limit, n)

    def fit(self, items: Sequence[T], per_item: int, *, reserve: int = 0) -> list[T]:
        """The longest prefix of `items` whose cost (`per_item` each) fits, keeping `reserve`."""
        return fit_batch(items, max(0, self.remaining - reserve), per_item)

    def summary(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "used": self.count,
            "limit": self.limit,
            "remaining": self.remaining,
            "percentage": round(self.percentage, 1),
            "refused": self.refused,
        }


class SubrequestTracker(OperationBudget):
    """Outbound subrequests of one request (every attempt, retries included)."""

    kind = "subrequests"

    def __init__(
        self,
        limit: int = SUBREQUEST_MAX,
        *,
        warn_ratio: float = WARN_RATIO,
        logger: ServiceLogger | None = None,
    ) -> None:
        super().__init__(limit, warn_ratio=warn_ratio, logger=logger)

    def deezer_track_budget(self, reserve: int = ENRICHMENT_RESERVE) -> int:
        """Tracks the Deezer phase may enrich now: half of what remains after `reserve`."""
        usable = max(0, self.remaining - reserve)
        return math.floor(usable * DEEZER_SHARE) // DEEZER_CALLS_PER_TRACK

    def lastfm_track_budget(self, reserve: int = LASTFM_RESERVE) -> int:
        """Tracks the Last.fm phase may enrich now (4 calls each), run after Deezer."""
        return max(0, self.remaining - reserve) // LASTFM_CALLS_PER_TRACK

    def plan_enrichment(self, reserve: int = ENRICHMENT_RESERVE) -> EnrichmentAllocation:
        return plan_enrichment(self.remaining, reserve=reserve)


class KVOpBudget(OperationBudget):
    """KV operations (get, put, delete, list) of one invocation."""

    kind = "kv_operations"

    def __init__(
        self,
        limit: int = KV_OPS_MAX,
        *,
        warn_ratio: float = WARN_RATIO,
        logger: ServiceLogger | None = None,
    ) -> None:
        super().__init__(limit, warn_ratio=warn_ratio, logger=logger)


@record(frozen=True)
class EnrichmentAllocation:
    deezer_tracks: int
    lastfm_tracks: int

    @property
    def calls(self) -> int:
        return (
            self.deezer_tracks * DEEZER_CALLS_PER_TRACK
            + self.lastfm_tracks * LASTFM_CALLS_PER_TRACK
        )


def plan_enrichment(remaining: int, *, reserve: int = ENRICHMENT_RESERVE) -> EnrichmentAllocation:
    """Split `remaining` subrequests: Deezer half (1 call/track), Last.fm the rest (4/track)."""
    usable = max(0, remaining - reserve)
    deezer = math.floor(usable * DEEZER_SHARE) // DEEZER_CALLS_PER_TRACK
    lastfm = (usable - deezer * DEEZER_CALLS_PER_TRACK) // LASTFM_CALLS_PER_TRACK
    return EnrichmentAllocation(deezer_tracks=deezer, lastfm_tracks=lastfm)


def fit_batch(items: Sequence[T], calls: int, per_item: int) -> list[T]:
    """The first items whose total cost (`per_item` each) is at most `calls`."""
    if per_item <= 0:
        return list(items)
    return list(items[: max(0, calls) // per_item])


def _from_context(key: str, factory: type[OperationBudget]) -> Any:
    from .context import current_or_none

    ctx = current_or_none()
    if ctx is None:
        return None
    budget = ctx.state.get(key)
    if budget is None:
        logger = ctx.log.child("budget") if ctx.log is not None else None
        budget = factory(logger=logger)
        ctx.state[key] = budget
    return budget


def subrequests() -> SubrequestTracker | None:
    """The current request's subrequest tracker (created on first use); None outside one."""
    return _from_context(SUBREQUESTS_STATE_KEY, SubrequestTracker)


def kv_ops() -> KVOpBudget | None:
    """The current request's KV operation budget (created on first use); None outside one."""
    return _from_context(KV_OPS_STATE_KEY, KVOpBudget)
