"""Subrequest and KV-operation budgets, the enrichment allocation, batch shrinking."""

from __future__ import annotations

import json

import pytest

from runtime import budget
from runtime.budget import (
    BudgetExceededError,
    KVOpBudget,
    SubrequestTracker,
    fit_batch,
    plan_enrichment,
)
from runtime.context import Context, Env, bind, unbind
from runtime.http import Request
from runtime.logging import ServiceLogger
from runtime.platform.local import LocalPlatform


def test_tracker_defaults_to_950_and_counts_down() -> None:
    tracker = SubrequestTracker()
    assert tracker.limit == 950
    assert tracker.record(10) is True
    assert tracker.remaining == 940
    assert tracker.can_make(940) and not tracker.can_make(941)
    assert tracker.percentage == pytest.approx(100 * 10 / 950)


def test_record_past_the_limit_returns_false_and_remaining_stays_at_zero() -> None:
    tracker = SubrequestTracker(5)
    assert tracker.record(5) is True
    assert tracker.record(1) is False
    assert tracker.remaining == 0


def test_try_spend_refuses_without_recording() -> None:
    tracker = SubrequestTracker(3)
    assert tracker.try_spend(2)
    assert not tracker.try_spend(2)
    assert tracker.count == 2 and tracker.refused == 2
    with pytest.raises(BudgetExceededError):
        tracker.spend(2)


def test_warning_is_logged_once_when_80_percent_is_reached() -> None:
    lines: list[str] = []
    tracker = SubrequestTracker(100, logger=ServiceLogger("b", sink=lines.append))
    tracker.record(79)
    assert lines == []
    tracker.record(1)
    tracker.record(10)
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["level"] == "warn"
    assert record["fields"] == {"kind": "subrequests", "used": 80, "limit": 100}


def test_enrichment_plan_gives_deezer_half_and_lastfm_the_rest_in_four_call_units() -> None:
    plan = plan_enrichment(950)
    assert (plan.deezer_tracks, plan.lastfm_tracks) == (470, 117)
    assert plan.calls <= 950 - 10
    assert plan_enrichment(15) == budget.EnrichmentAllocation(2, 0)
    assert plan_enrichment(0) == budget.EnrichmentAllocation(0, 0)


def test_staged_budgets_follow_the_upstream_formulas() -> None:
    tracker = SubrequestTracker(950)
    assert tracker.deezer_track_budget() == 470  # floor((950 - 10) * 0.5)
    tracker.record(470)
    assert tracker.lastfm_track_budget() == 118  # floor((480 - 5) / 4)
    tracker.record(475)
    assert tracker.lastfm_track_budget() == 0


def test_batches_shrink_to_fit_the_budget() -> None:
    tracks = list(range(100))
    assert fit_batch(tracks, 41, 4) == list(range(10))
    assert fit_batch(tracks, -3, 4) == []
    tracker = SubrequestTracker(60)
    tracker.record(10)
    assert tracker.fit(tracks, 4, reserve=5) == list(range(11))  # (50 - 5) // 4


def test_kv_budget_is_one_thousand_operations() -> None:
    ops = KVOpBudget()
    assert ops.limit == 1000
    for _ in range(1000):
        ops.spend()
    with pytest.raises(BudgetExceededError, match="kv_operations"):
        ops.spend()


def test_budgets_live_on_the_request_context() -> None:
    assert budget.subrequests() is None and budget.kv_ops() is None
    lines: list[str] = []
    ctx = Context(
        Request("GET", "https://dj.example/"),
        Env({}),
        LocalPlatform(),
        ServiceLogger("api", sink=lines.append),
    )
    token = bind(ctx)
    try:
        tracker = budget.subrequests()
        assert tracker is budget.subrequests()
        kv = budget.kv_ops()
        assert isinstance(kv, KVOpBudget) and kv is budget.kv_ops()
        assert tracker is not None
        tracker.record(800)
    finally:
        unbind(token)
    assert json.loads(lines[0])["service"] == "api:budget"
    assert budget.subrequests() is None
