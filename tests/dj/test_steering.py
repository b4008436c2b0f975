from __future__ import annotations

import pytest

from dj.models.mix import VibeProfile
from dj.steering import (
    PRESETS,
    VibeAdjustment,
    adjustment_from_mapping,
    apply_adjustment,
    apply_stream_adjustment,
    build_steering_prompt,
    extract_json_object,
    match_preset,
    parse_claude_adjustment,
    steer_with_preset,
    steering_changes,
    stream_changes,
)

DEFAULT = VibeProfile()


# ----------------------------------------------------------------------------- matching


@pytest.mark.parametrize(
    ("direction", "key"),
    [
        ("more energy", "more energy"),
        ("  More ENERGY ", "more energy"),  # exact after lower/trim
        ("let's go party mode tonight", "party mode"),  # key inside the request
        ("80s", "80s vibes"),  # request inside a key
        ("chill", "chill out"),  # first key in table order wins
        ("pump", "pump it up"),
    ],
)
def test_preset_matching(direction: str, key: str) -> None:
    found = match_preset(direction)
    assert found is not None and found[0] == key and found[1] is PRESETS[key]


@pytest.mark.parametrize("direction", ["jazz for a rainy sunday", "   ", ""])
def test_preset_no_match(direction: str) -> None:
    assert match_preset(direction) is None
    assert steer_with_preset(DEFAULT, direction) is None


def test_preset_table_has_fourteen_entries() -> None:
    assert len(PRESETS) == 14
    # presets only use relative energy; absolute energy is reserved for Claude's answers
    assert all(p.energy_level is None for p in PRESETS.values())


# ----------------------------------------------------------------------------- relative vs absolute


def test_preset_energy_is_relative() -> None:
    vibe = VibeProfile(energy_level=6)
    assert apply_adjustment(vibe, PRESETS["more energy"]).energy_level == 8
    assert apply_adjustment(vibe, PRESETS["chill out"]).energy_level == 4
    assert apply_adjustment(VibeProfile(energy_level=9), PRESETS["party mode"]).energy_level == 10
    assert apply_adjustment(VibeProfile(energy_level=2), PRESETS["slow it down"]).energy_level == 1


def test_claude_energy_is_absolute() -> None:
    # upstream treated 7 as "+7" (6 + 7 -> clamped 10), §12.8
    vibe = VibeProfile(energy_level=6)
    adj = parse_claude_adjustment('{"energyLevel": 7}')
    assert adj.energy_level == 7 and adj.energy_delta is None
    assert apply_adjustment(vibe, adj).energy_level == 7
    assert apply_adjustment(vibe, parse_claude_adjustment('{"energyLevel": 2}')).energy_level == 2


def test_absolute_energy_rounds_half_up() -> None:
    assert apply_adjustment(DEFAULT, VibeAdjustment(energy_level=6.5)).energy_level == 7


# ----------------------------------------------------------------------------- apply + changes


def test_preset_replaces_era_and_merges_genres() -> None:
    vibe = VibeProfile(genres=["synthpop", "disco"])
    out = apply_adjustment(vibe, PRESETS["80s vibes"])
    assert (out.era.start, out.era.end) == (1980, 1989)
    assert out.genres == ["synthpop", "disco", "new wave"]
    assert steering_changes(vibe, out) == ["Era: 2000-2025 → 1980-1989", "Added genres: new wave"]


def test_preset_replaces_bpm_range_even_when_narrower() -> None:
    new, changes = steer_with_preset(DEFAULT, "slow it down")
    assert (new.bpm_range.min, new.bpm_range.max) == (60, 100)
    assert changes == ["Energy: 5/10 → 3/10", "BPM: 80-140 → 60-100"]


def test_party_mode_changes_strings() -> None:
    _, changes = steer_with_preset(DEFAULT, "party mode")
    assert changes == [
        "Energy: 5/10 → 8/10",
        "Direction: steady → building",
        "Added moods: upbeat, energetic",
    ]


def test_merge_is_uncapped_and_deduplicated() -> None:
    vibe = VibeProfile(mood=["a", "b", "c", "d", "e"])
    out = apply_adjustment(vibe, VibeAdjustment(mood=("e", "f", "g")))
    assert out.mood == ["a", "b", "c", "d", "e", "f", "g"]


def test_no_changes_for_empty_adjustment() -> None:
    out = apply_adjustment(DEFAULT, VibeAdjustment())
    assert out == DEFAULT and steering_changes(DEFAULT, out) == []
    assert VibeAdjustment().is_empty() and not PRESETS["go retro"].is_empty()


def test_apply_does_not_mutate_input() -> None:
    vibe = VibeProfile(genres=["rock"])
    apply_adjustment(vibe, PRESETS["indie mood"])
    assert vibe.genres == ["rock"]


# ----------------------------------------------------------------------------- Claude JSON


def test_parse_tolerates_markdown_fences_and_drops_invalid_fields() -> None:
    text = (
        "Here you go:\n```json\n"
        '{"energyLevel": 3, "energyDirection": "sideways", '
        '"era": {"start": 1980, "end": "1989"}, "bpmRange": {"min": 90, "max": 110}, '
        '"genres": ["house", 5, " ", "house"], "mood": "happy"}\n```'
    )
    adj = parse_claude_adjustment(text)
    assert adj.energy_level == 3
    assert adj.energy_direction is None  # not one of the three
    assert adj.era is None  # end is a string
    assert adj.bpm_range == (90, 110)
    assert adj.genres == ("house",)  # non-strings, blanks and repeats dropped
    assert adj.mood is None  # not a list


def test_parse_takes_first_object_even_with_trailing_braces() -> None:
    adj = parse_claude_adjustment('Sure! {"energyDirection": "building"} and also {oops}')
    assert adj.energy_direction == "building"


def test_parse_without_json_gives_empty_adjustment() -> None:
    assert parse_claude_adjustment("I can't help with that").is_empty()
    assert parse_claude_adjustment("{not json at all}").is_empty()
    assert extract_json_object("[1, 2]") is None


@pytest.mark.parametrize(
    "data",
    [
        {"energyLevel": 0},
        {"energyLevel": 11},
        {"energyLevel": -2},
        {"energyLevel": True},
        {"energyLevel": "7"},
        {"era": {"start": 1999, "end": 1990}},
        {"era": {"start": 1800, "end": 1850}},
        {"era": {"start": 1980.5, "end": 1990}},
        {"bpmRange": {"min": 10, "max": 100}},
        {"bpmRange": {"min": 130, "max": 120}},
        {"bpmRange": [100, 120]},
        {"genres": "house"},
    ],
)
def test_invalid_fields_are_dropped(data: dict) -> None:
    assert adjustment_from_mapping(data).is_empty()


def test_valid_fields_survive_next_to_invalid_ones() -> None:
    adj = adjustment_from_mapping(
        {"energyLevel": 42, "era": {"start": 1990.0, "end": 1999}, "energyDirection": "steady"}
    )
    assert adj.energy_level is None and adj.era == (1990, 1999) and adj.energy_direction == "steady"


def test_claude_era_and_bpm_replace() -> None:
    adj = parse_claude_adjustment(
        '{"era": {"start": 1970, "end": 1979}, "bpmRange": {"min": 100, "max": 115}}'
    )
    out = apply_adjustment(DEFAULT, adj)
    assert steering_changes(DEFAULT, out) == ["Era: 2000-2025 → 1970-1979", "BPM: 80-140 → 100-115"]


# ----------------------------------------------------------------------------- stream variant


def test_stream_adjustment_replaces_genres_and_mood() -> None:
    vibe = VibeProfile(genres=["rock"], mood=["angry"])
    adj = parse_claude_adjustment(
        '{"energyLevel": 7.6, "genres": ["house", "deep house"], "mood": []}'
    )
    out = apply_stream_adjustment(vibe, adj)
    assert out.energy_level == 8
    assert out.genres == ["house", "deep house"]
    assert out.mood == ["angry"]  # empty list leaves mood alone
    assert stream_changes(vibe, out) == ["Energy: 5/10 → 8/10", "Genres: house, deep house"]


def test_stream_changes_mood_string() -> None:
    vibe = VibeProfile(mood=["dark"])
    out = apply_stream_adjustment(vibe, VibeAdjustment(mood=("groovy", "uplifting")))
    assert stream_changes(vibe, out) == ["Mood: groovy, uplifting"]


def test_stream_energy_is_absolute_too() -> None:
    out = apply_stream_adjustment(
        VibeProfile(energy_level=6), parse_claude_adjustment('{"energyLevel": 3}')
    )
    assert out.energy_level == 3


# ----------------------------------------------------------------------------- prompt


def test_prompt_asks_for_absolute_energy_and_describes_vibe() -> None:
    prompt = build_steering_prompt(VibeProfile(genres=["house"]), "darker please")
    assert '"darker please"' in prompt
    assert "not a change" in prompt and "1 to 10" in prompt
    assert "Genres: house" in prompt and "BPM range: 80-140" in prompt
