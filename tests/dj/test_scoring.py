from __future__ import annotations

import math

import pytest

from dj.models.mix import BpmRange, EraRange, VibeProfile
from dj.scoring import (
    TrackFeatures,
    TrackProfile,
    based_on_vibe_profile,
    combine_scores,
    fallback_reason,
    score_artist_diversity,
    score_bpm_compatibility,
    score_energy_flow,
    score_era_proximity,
    score_genre_bridge,
    score_suggestion,
    score_track_transition,
    score_transition,
    vibe_description,
    year_from_release_date,
)
from tests.dj.factories import played

# ----------------------------------------------------------------------------- TransitionScorer


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (120, 120, 1.0),
        (120, 130, 1.0),  # within the 10 BPM tolerance
        (120, 135, 0.945959),  # exp(-(15-10)^2 / (2*15^2)) = exp(-25/450)
        (80, 140, 0.003866),  # exp(-(60-10)^2 / 450) = exp(-5.556)
        (None, 120, 0.5),
        (120, None, 0.5),
    ],
)
def test_bpm_compatibility(a, b, expected) -> None:
    assert score_bpm_compatibility(a, b) == pytest.approx(expected, abs=1e-6)


def test_bpm_compatibility_is_symmetric() -> None:
    assert score_bpm_compatibility(95, 140) == score_bpm_compatibility(140, 95)


@pytest.mark.parametrize(
    ("energy", "target", "expected"),
    [
        (0.5, 0.5, 1.0),
        (0.6, 0.5, 1.0),  # within 0.15
        (0.7, 0.5, 0.980199),  # exp(-(0.2-0.15)^2 / (2*0.25^2)) = exp(-0.02)
        (0.0, 1.0, 0.003088),  # exp(-(0.85)^2 / 0.125) = exp(-5.78)
    ],
)
def test_energy_flow(energy, target, expected) -> None:
    assert score_energy_flow(energy, target) == pytest.approx(expected, abs=1e-6)


def test_genre_bridge_is_case_insensitive_jaccard() -> None:
    assert score_genre_bridge(["Rock", "pop"], ["rock", "indie"]) == pytest.approx(1 / 3)
    assert score_genre_bridge(["a"], ["b"]) == 0.0
    assert score_genre_bridge(["House"], ["house"]) == 1.0
    assert score_genre_bridge([], ["rock"]) == 0.5


def test_artist_diversity_window_of_five() -> None:
    recent = ["A", "B", "C", "D", "E", "F"]
    assert score_artist_diversity("  f ", recent) == 0.0
    assert score_artist_diversity("A", recent) == 1.0  # A is sixth from the end: outside window
    assert score_artist_diversity("Z", []) == 1.0


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [(1985, 1989, 1.0), (1989, 1990, 0.5), (1960, 1995, 0.4), (1900, 2000, 0.0), (None, 1990, 0.5)],
)
def test_era_proximity(a, b, expected) -> None:
    assert score_era_proximity(a, b) == pytest.approx(expected)


def test_overall_uses_published_weights() -> None:
    a = TrackProfile(
        artist="A", name="x", energy=0.5, bpm=120, release_year=1985, tags=("rock", "pop")
    )
    b = TrackProfile(
        artist="B", name="y", energy=0.7, bpm=135, release_year=1992, tags=("Rock", "indie")
    )
    s = score_track_transition(a, b, target_energy=0.5, recent_artists=["C"])
    # 0.30*0.945959 + 0.25*0.980199 + 0.20*(1/3) + 0.15*1 + 0.10*0.5
    # = 0.283788 + 0.245050 + 0.066667 + 0.15 + 0.05 = 0.795504
    assert s.overall == pytest.approx(0.795504, abs=1e-5)
    assert (s.artist_diversity, s.era_proximity) == (1.0, 0.5)


def test_perfect_and_poor_transitions() -> None:
    a = TrackProfile(artist="A", name="x", energy=0.5, bpm=124, release_year=2012, tags=("house",))
    good = TrackProfile(
        artist="B", name="y", energy=0.55, bpm=126, release_year=2015, tags=("house",)
    )
    bad = TrackProfile(artist="A", name="z", energy=0.0, bpm=70, release_year=1950, tags=("polka",))
    assert score_track_transition(a, good, 0.5, ["A"]).overall == pytest.approx(1.0)
    assert score_track_transition(a, bad, 1.0, ["A"]).overall < 0.3


# ----------------------------------------------------------------------------- SuggestionEngine


def test_score_transition_known_bpm() -> None:
    # round(100*(0.6*0.945959 + 0.4*1.0)) = round(96.76) = 97
    assert score_transition(played(1, bpm=120), TrackFeatures(bpm=135)) == 97


def test_score_transition_unknown_bpm_and_energy_is_70() -> None:
    # bpmCompat 0.5 (unknown), energy unknown -> 0.5 = default target -> 1.0
    # round(100*(0.6*0.5 + 0.4*1.0)) = 70
    assert score_transition(played(1), TrackFeatures()) == 70
    assert score_transition(played(1, bpm=120), TrackFeatures(bpm=None)) == 70


def test_score_transition_target_energy_applies_to_destination() -> None:
    # unknown energy counts as 0.5; target 0.9 -> distance 0.4 -> exp(-(0.25)^2/0.125) = exp(-0.5)
    expected = round(100 * (0.6 * 0.5 + 0.4 * math.exp(-0.5)))  # 54.26 -> 54
    assert score_transition(played(1), TrackFeatures(), target_energy=0.9) == expected == 54
    # destination energy 0.9 at target 0.9 -> 1.0; source energy is ignored
    assert score_transition(played(1, energy=0.0), TrackFeatures(energy=0.9), 0.9) == 70


DEFAULT = VibeProfile()  # BPM midpoint 110, energy 5 -> 0.5, era 2000-2025


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        # bpm |112-110|=2 -> 30; energy |0.6-0.5|=0.1 -> 30; no genres 0; 2010 in era -> 25
        ({"bpm": 112, "energy": 0.6, "release_date": "2010-03-01"}, 85),
        # |118-110|=8 -> 24; |0.8-0.5|=0.3 -> 15; 1997 is 3 y before 2000 -> 15
        ({"bpm": 118, "energy": 0.8, "release_date": "1997-05-01"}, 54),
        # |125-110|=15 -> 15; 0.45 off -> 5; 1992 is 8 y out -> 5
        ({"bpm": 125, "energy": 0.95, "release_date": "1992"}, 25),
        # |150-110|=40 -> 6; unknown energy 15; 1980 is 20 y out -> 0
        ({"bpm": 150, "release_date": "1980-01-01"}, 21),
        # unknown BPM 15 + unknown energy 15 + unknown year 0
        ({}, 30),
        # BPM 0 counts as unknown (15), as upstream's truthiness check did
        ({"bpm": 0, "release_date": "2030"}, 45),  # 15 + 15 + 5 years after 2025 -> 15
    ],
)
def test_score_suggestion_tiers(kwargs, expected) -> None:
    assert score_suggestion(DEFAULT, **kwargs) == expected


@pytest.mark.parametrize(("bpm", "points"), [(115, 30), (120, 24), (130, 15), (131, 6)])
def test_score_suggestion_bpm_tier_boundaries(bpm: int, points: int) -> None:
    # unknown energy 15, release 2010 -> 25
    assert score_suggestion(DEFAULT, bpm=bpm, release_date="2010") == points + 15 + 25


@pytest.mark.parametrize(("year", "points"), [("1995", 15), ("1990", 5), ("1989", 0), ("2035", 5)])
def test_score_suggestion_era_tier_boundaries(year: str, points: int) -> None:
    assert score_suggestion(DEFAULT, release_date=year) == 15 + 15 + points


def test_score_suggestion_genres_15_each_capped_and_total_clamped() -> None:
    vibe = VibeProfile(genres=["house", "techno", "disco", "funk"])
    assert score_suggestion(vibe, genres=["house"]) == 15 + 15 + 15 + 0
    # 30 + 45 (4 matches capped at 3) + 30 + 25 = 130 -> clamped to 100
    full = score_suggestion(
        vibe, bpm=110, energy=0.5, genres=["house", "techno", "disco", "funk"], release_date="2010"
    )
    assert full == 100


def test_year_from_release_date_reads_leading_integer() -> None:
    assert year_from_release_date("1985-06-01") == 1985
    assert year_from_release_date("1985") == 1985
    assert year_from_release_date("") is None and year_from_release_date("n/a") is None


def test_combine_scores_rounds_half_up() -> None:
    assert combine_scores(85, 70) == 78  # 77.5 -> 78
    assert combine_scores(60, 50) == 55


def test_fallback_reasons() -> None:
    assert fallback_reason(DEFAULT, bpm=112, transition_score=85) == (
        "BPM 112 matches vibe • Smooth transition"
    )
    assert fallback_reason(DEFAULT, bpm=125, transition_score=80) == "Similar to recent tracks"
    vibe = VibeProfile(genres=["house"])
    assert fallback_reason(vibe, bpm=None, genres=["house", "pop"], transition_score=10) == (
        "Matches genres: house"
    )


# ----------------------------------------------------------------------------- descriptions


def test_vibe_description_default() -> None:
    assert (
        vibe_description(DEFAULT)
        == "Energy: medium (5/10, steady)\nBPM range: 80-140\nEra: 2000-2025"
    )


def test_vibe_description_full_and_energy_labels() -> None:
    vibe = VibeProfile(
        energy_level=3,
        energy_direction="winding_down",
        genres=["house", "techno"],
        mood=["dark"],
        bpm_range=BpmRange(min=118, max=128.5),
        era=EraRange(start=1990, end=1999),
    )
    assert vibe_description(vibe) == (
        "Genres: house, techno\nMood: dark\nEnergy: low/chill (3/10, winding_down)\n"
        "BPM range: 118-128.5\nEra: 1990-1999"
    )
    assert "high/intense (7/10" in vibe_description(VibeProfile(energy_level=7))
    assert "medium (6/10" in vibe_description(VibeProfile(energy_level=6))


def test_based_on_vibe_profile_string() -> None:
    assert based_on_vibe_profile(DEFAULT) == "Energy: 5/10 (steady), BPM: 80-140, Genres: any"
    vibe = VibeProfile(energy_level=8, energy_direction="building", genres=["house", "techno"])
    assert based_on_vibe_profile(vibe) == (
        "Energy: 8/10 (building), BPM: 80-140, Genres: house, techno"
    )
