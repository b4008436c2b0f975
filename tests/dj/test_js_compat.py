from __future__ import annotations

import pytest

from dj.js_compat import fmt_num, is_finite_number, iso_from_ms, js_round, ms_from_iso


@pytest.mark.parametrize(
    ("value", "expected"), [(2.5, 3), (6.5, 7), (-2.5, -2), (6.2, 6), (4.9, 5)]
)
def test_js_round_rounds_halves_towards_positive_infinity(value: float, expected: int) -> None:
    assert js_round(value) == expected


def test_fmt_num_renders_like_a_template_literal() -> None:
    assert (fmt_num(7), fmt_num(7.0), fmt_num(128.5)) == ("7", "7", "128.5")


def test_iso_round_trip_matches_to_iso_string() -> None:
    assert iso_from_ms(0) == "1970-01-01T00:00:00.000Z"
    assert iso_from_ms(1_767_225_600_123) == "2026-01-01T00:00:00.123Z"
    assert ms_from_iso("2026-01-01T00:00:00.123Z") == 1_767_225_600_123
    assert ms_from_iso("2026-01-01T00:00:01Z") == 1_767_225_601_000


def test_is_finite_number_excludes_bools_and_nan() -> None:
    assert is_finite_number(3) and is_finite_number(2.5)
    assert not any(is_finite_number(v) for v in (True, "3", None, float("nan"), float("inf")))
