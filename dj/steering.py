"""Vibe steering (reference §7.5): presets, Claude's JSON adjustments, change descriptions.

Energy semantics are explicit in the data (the fix for §12.8):
- ``VibeAdjustment.energy_delta`` is *relative* (the presets' own +2/-2: add to the current level);
- ``VibeAdjustment.energy_level`` is *absolute* (a value Claude returns: set the level).
Both are rounded (half up) and clamped to 1..10. Upstream had one field and guessed
"relative when -10 < value < 10", so Claude's absolute 7 was added to the current level.

Two ways of applying an adjustment:
- ``apply_adjustment`` (POST /api/mix/vibe/steer): era/bpm replaced, genres and moods merged
  (deduplicated, uncapped), change strings ``Added genres: …``/``Added moods: …``;
- ``apply_stream_adjustment`` (steer-stream): same for energy/direction/era/bpm, but non-empty
  genres/mood *replace* the current lists; change strings ``Genres: …``/``Mood: …``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from dj.js_compat import clamp, fmt_num, is_finite_number, js_round
from dj.models.mix import (
    BPM_MAX,
    BPM_MIN,
    ENERGY_MAX,
    ENERGY_MIN,
    ERA_MAX,
    ERA_MIN,
    BpmRange,
    EnergyDirection,
    EraRange,
    VibeProfile,
)
from runtime.records import record

_DIRECTIONS: tuple[EnergyDirection, ...] = ("building", "steady", "winding_down")


@record(frozen=True)
class VibeAdjustment:
    """A change to a vibe. Unset (None) fields leave the vibe alone."""

    energy_delta: int | None = None  # relative: add to the current level
    energy_level: float | None = None  # absolute: set the level
    energy_direction: EnergyDirection | None = None
    era: tuple[int, int] | None = None  # (start, end), replaces
    bpm_range: tuple[float, float] | None = None  # (min, max), replaces
    genres: tuple[str, ...] | None = None
    mood: tuple[str, ...] | None = None

    def is_empty(self) -> bool:
        return all(getattr(self, f) is None for f in self.__record_names__)


# Order matters for fuzzy matching: the first key that matches wins (upstream's order).
PRESETS: dict[str, VibeAdjustment] = {
    "80s vibes": VibeAdjustment(era=(1980, 1989), genres=("synthpop", "new wave")),
    "90s throwback": VibeAdjustment(era=(1990, 1999)),
    "chill out": VibeAdjustment(energy_delta=-2, energy_direction="winding_down"),
    "chill vibes": VibeAdjustment(
        energy_delta=-2, energy_direction="winding_down", mood=("chill", "relaxed")
    ),
    "go retro": VibeAdjustment(era=(1970, 1995)),
    "indie mood": VibeAdjustment(
        genres=("indie", "indie rock", "alternative"), mood=("introspective",)
    ),
    "late night": VibeAdjustment(
        energy_delta=-1, energy_direction="winding_down", mood=("mellow", "atmospheric")
    ),
    "modern hits": VibeAdjustment(era=(2018, 2025)),
    "more energy": VibeAdjustment(energy_delta=2, energy_direction="building"),
    "party mode": VibeAdjustment(
        energy_delta=3, energy_direction="building", mood=("upbeat", "energetic")
    ),
    "pump it up": VibeAdjustment(
        energy_delta=3, energy_direction="building", mood=("energetic", "intense")
    ),
    "slow it down": VibeAdjustment(energy_delta=-2, bpm_range=(60, 100)),
    "something fresh": VibeAdjustment(era=(2020, 2025)),
    "speed it up": VibeAdjustment(energy_delta=2, bpm_range=(120, 160)),
}


def match_preset(direction: str) -> tuple[str, VibeAdjustment] | None:
    """Exact (lower-cased, trimmed) key first, else the first key contained in the request or
    containing it. A blank request matches nothing (upstream matched the first preset)."""
    wanted = direction.lower().strip()
    if not wanted:
        return None
    if wanted in PRESETS:
        return wanted, PRESETS[wanted]
    for key, preset in PRESETS.items():
        if key in wanted or wanted in key:
            return key, preset
    return None


def _clamp_energy(value: float) -> int:
    return int(clamp(js_round(value), ENERGY_MIN, ENERGY_MAX))


def _apply_scalars(current: VibeProfile, adj: VibeAdjustment) -> VibeProfile:
    new = current.model_copy(deep=True)
    if adj.energy_level is not None:
        new.energy_level = _clamp_energy(adj.energy_level)
    elif adj.energy_delta is not None:
        new.energy_level = _clamp_energy(current.energy_level + adj.energy_delta)
    if adj.energy_direction is not None:
        new.energy_direction = adj.energy_direction
    if adj.era is not None:
        new.era = EraRange(start=adj.era[0], end=adj.era[1])
    if adj.bpm_range is not None:
        new.bpm_range = BpmRange(min=adj.bpm_range[0], max=adj.bpm_range[1])
    return new


def apply_adjustment(current: VibeProfile, adj: VibeAdjustment) -> VibeProfile:
    """Non-stream steering: scalars as documented above; genres/moods merged and deduplicated."""
    new = _apply_scalars(current, adj)
    if adj.genres:
        new.genres = list(dict.fromkeys([*current.genres, *adj.genres]))
    if adj.mood:
        new.mood = list(dict.fromkeys([*current.mood, *adj.mood]))
    return new


def apply_stream_adjustment(current: VibeProfile, adj: VibeAdjustment) -> VibeProfile:
    """Steer-stream: absolute energy; non-empty genres/mood replace the current lists."""
    new = _apply_scalars(current, adj)
    if adj.genres:
        new.genres = list(adj.genres)
    if adj.mood:
        new.mood = list(adj.mood)
    return new


def _scalar_changes(old: VibeProfile, new: VibeProfile) -> list[str]:
    changes: list[str] = []
    if new.energy_level != old.energy_level:
        changes.append(f"Energy: {fmt_num(old.energy_level)}/10 → {fmt_num(new.energy_level)}/10")
    if new.energy_direction != old.energy_direction:
        changes.append(f"Direction: {old.energy_direction} → {new.energy_direction}")
    if (new.era.start, new.era.end) != (old.era.start, old.era.end):
        changes.append(f"Era: {old.era.start}-{old.era.end} → {new.era.start}-{new.era.end}")
    if (new.bpm_range.min, new.bpm_range.max) != (old.bpm_range.min, old.bpm_range.max):
        changes.append(
            f"BPM: {fmt_num(old.bpm_range.min)}-{fmt_num(old.bpm_range.max)} → "
            f"{fmt_num(new.bpm_range.min)}-{fmt_num(new.bpm_range.max)}"
        )
    return changes


def steering_changes(old: VibeProfile, new: VibeProfile) -> list[str]:
    """``changes`` of POST /api/mix/vibe/steer."""
    changes = _scalar_changes(old, new)
    added_genres = [g for g in new.genres if g not in old.genres]
    if added_genres:
        changes.append(f"Added genres: {', '.join(added_genres)}")
    added_moods = [m for m in new.mood if m not in old.mood]
    if added_moods:
        changes.append(f"Added moods: {', '.join(added_moods)}")
    return changes


def stream_changes(old: VibeProfile, new: VibeProfile) -> list[str]:
    """``changes`` of the steer-stream ``vibe_update``/``done`` events."""
    changes = _scalar_changes(old, new)
    if new.genres != old.genres:
        changes.append(f"Genres: {', '.join(new.genres)}")
    if new.mood != old.mood:
        changes.append(f"Mood: {', '.join(new.mood)}")
    return changes


def steer_with_preset(current: VibeProfile, direction: str) -> tuple[VibeProfile, list[str]] | None:
    """Apply the matching preset; None when no preset matches (then ask Claude)."""
    found = match_preset(direction)
    if found is None:
        return None
    new = apply_adjustment(current, found[1])
    return new, steering_changes(current, new)


# ----------------------------------------------------------------------------- Claude's JSON


def extract_json_object(text: str) -> dict[str, Any] | None:
    """The first JSON object in ``text`` (markdown fences and surrounding prose tolerated).

    Tries each ``{`` in turn and decodes the first complete object starting there; None when
    there is none.
    """
    decoder = json.JSONDecoder()
    start = text.find("{")
    while start != -1:
        try:
            value, _ = decoder.raw_decode(text, start)
        except (ValueError, RecursionError):
            value = None
        if isinstance(value, dict):
            return value
        start = text.find("{", start + 1)
    return None


def _int_value(value: object) -> int | None:
    if is_finite_number(value) and float(value).is_integer():  # type: ignore[arg-type]
        return int(value)  # type: ignore[call-overload]
    return None


def _strings(value: object) -> tuple[str, ...] | None:
    if not isinstance(value, list):
        return None
    items = [v.strip() for v in value if isinstance(v, str) and v.strip()]
    return tuple(dict.fromkeys(items))


def adjustment_from_mapping(data: Mapping[str, Any]) -> VibeAdjustment:
    """Validate Claude's fields one by one; an invalid field is dropped, the rest kept.

    energyLevel: a number in 1..10, **absolute**. energyDirection: one of the three values.
    era: integer ``start``/``end`` in 1900..2100 with start <= end. bpmRange: numbers ``min``/
    ``max`` in 20..220 with min <= max. genres/mood: lists; non-string and blank items dropped.
    """
    energy: float | None = None
    raw_energy = data.get("energyLevel")
    if is_finite_number(raw_energy) and ENERGY_MIN <= raw_energy <= ENERGY_MAX:  # type: ignore[operator]
        energy = float(raw_energy)  # type: ignore[arg-type]

    direction = data.get("energyDirection")
    energy_direction = direction if direction in _DIRECTIONS else None

    era: tuple[int, int] | None = None
    raw_era = data.get("era")
    if isinstance(raw_era, Mapping):
        start, end = _int_value(raw_era.get("start")), _int_value(raw_era.get("end"))
        if start is not None and end is not None and ERA_MIN <= start <= end <= ERA_MAX:
            era = (start, end)

    bpm: tuple[float, float] | None = None
    raw_bpm = data.get("bpmRange")
    if isinstance(raw_bpm, Mapping):
        low, high = raw_bpm.get("min"), raw_bpm.get("max")
        if (
            is_finite_number(low) and is_finite_number(high) and BPM_MIN <= low <= high <= BPM_MAX  # type: ignore[operator]
        ):
            bpm = (low, high)  # type: ignore[assignment]

    return VibeAdjustment(
        energy_level=energy,
        energy_direction=energy_direction,  # type: ignore[arg-type]
        era=era,
        bpm_range=bpm,
        genres=_strings(data.get("genres")),
        mood=_strings(data.get("mood")),
    )


def parse_claude_adjustment(text: str) -> VibeAdjustment:
    """Claude's reply -> VibeAdjustment (absolute energy); empty adjustment when no JSON object."""
    data = extract_json_object(text)
    if data is None:
        return VibeAdjustment()
    return adjustment_from_mapping(data)


def build_steering_prompt(current: VibeProfile, direction: str) -> str:
    """Prompt asking Claude for a JSON delta whose energyLevel is an absolute 1-10 value.

    Our own wording; it must ask for an *absolute* level because ``parse_claude_adjustment``
    treats the value as one.
    """
    genres = ", ".join(current.genres) or "none"
    moods = ", ".join(current.mood) or "none"
    return (
        "You adjust the vibe of a live DJ mix.\n\n"
        "Current vibe:\n"
        f"- Energy level: {fmt_num(current.energy_level)} of 10 ({current.energy_direction})\n"
        f"- BPM range: {fmt_num(current.bpm_range.min)}-{fmt_num(current.bpm_range.max)}\n"
        f"- Era: {current.era.start}-{current.era.end}\n"
        f"- Genres: {genres}\n"
        f"- Moods: {moods}\n\n"
        f'The listener asks: "{direction}"\n\n'
        "Reply with one JSON object holding only the fields that should change:\n"
        '- "energyLevel": the new energy level as a whole number from 1 to 10 (the target level,'
        " not a change)\n"
        '- "energyDirection": "building", "steady" or "winding_down"\n'
        '- "bpmRange": {"min": number, "max": number} within 20-220\n'
        '- "era": {"start": year, "end": year} within 1900-2100\n'
        '- "genres": genres to add, as an array of strings\n'
        '- "mood": moods to add, as an array of strings\n\n'
        "No explanation and no markdown: the JSON object only."
    )
