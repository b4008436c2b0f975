"""TransitionScorer (reference §7.4) and the SuggestionEngine's scoring helpers (§7.3).

All pure and deterministic. Numbers reproduce upstream, including JavaScript's rounding.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Protocol

from dj.js_compat import clamp, fmt_num, js_round
from dj.models.mix import VibeProfile
from runtime.records import field, record

BPM_TOLERANCE = 10
BPM_SIGMA = 15
ENERGY_TOLERANCE = 0.15
ENERGY_SIGMA = 0.25
ARTIST_DIVERSITY_WINDOW = 5
NEUTRAL = 0.5

WEIGHT_BPM = 0.30
WEIGHT_ENERGY = 0.25
WEIGHT_GENRE = 0.20
WEIGHT_ARTIST = 0.15
WEIGHT_ERA = 0.10

DEFAULT_TARGET_ENERGY = 0.5
NO_PREVIOUS_TRACK_TRANSITION = 50  # transition score used when nothing has been played yet
SMOOTH_TRANSITION_ABOVE = 80


def _gaussian(distance: float, sigma: float) -> float:
    return math.exp(-(distance * distance) / (2 * sigma * sigma))


# ----------------------------------------------------------------------------- TransitionScorer


def score_bpm_compatibility(from_bpm: float | None, to_bpm: float | None) -> float:
    """Unknown -> 0.5; |diff| <= 10 -> 1.0; else exp(-(|diff|-10)^2 / (2*15^2))."""
    if from_bpm is None or to_bpm is None:
        return NEUTRAL
    distance = abs(from_bpm - to_bpm)
    if distance <= BPM_TOLERANCE:
        return 1.0
    return _gaussian(distance - BPM_TOLERANCE, BPM_SIGMA)


def score_energy_flow(track_energy: float, target: float) -> float:
    """|diff| <= 0.15 -> 1.0; else exp(-(|diff|-0.15)^2 / (2*0.25^2))."""
    distance = abs(track_energy - target)
    if distance <= ENERGY_TOLERANCE:
        return 1.0
    return _gaussian(distance - ENERGY_TOLERANCE, ENERGY_SIGMA)


def score_genre_bridge(from_tags: Sequence[str], to_tags: Sequence[str]) -> float:
    """Jaccard similarity of the lower-cased tag sets; 0.5 when either side has no tags."""
    if not from_tags or not to_tags:
        return NEUTRAL
    a = {t.lower() for t in from_tags}
    b = {t.lower() for t in to_tags}
    union = a | b
    if not union:
        return NEUTRAL
    return len(a & b) / len(union)


def score_artist_diversity(artist: str, recent_artists: Sequence[str]) -> float:
    """0 when the artist (lower-cased, trimmed) is among the last 5 recent artists, else 1."""
    wanted = artist.lower().strip()
    window = list(recent_artists)[-ARTIST_DIVERSITY_WINDOW:]
    return 0.0 if any(r.lower().strip() == wanted for r in window) else 1.0


def score_era_proximity(from_year: int | None, to_year: int | None) -> float:
    """Same decade 1.0, adjacent 0.5, else max(0, 1 - 0.2*decades apart); unknown 0.5."""
    if from_year is None or to_year is None:
        return NEUTRAL
    diff = abs(math.floor(from_year / 10) - math.floor(to_year / 10))
    if diff == 0:
        return 1.0
    if diff == 1:
        return 0.5
    return max(0.0, 1.0 - diff * 0.2)


@record(frozen=True)
class TrackProfile:
    artist: str
    name: str
    energy: float
    bpm: float | None = None
    release_year: int | None = None
    tags: tuple[str, ...] = field(default_factory=tuple)


@record(frozen=True)
class TransitionScore:
    bpm_compatibility: float
    energy_flow: float
    genre_bridge: float
    artist_diversity: float
    era_proximity: float
    overall: float


def score_track_transition(
    from_track: TrackProfile,
    to_track: TrackProfile,
    target_energy: float,
    recent_artists: Sequence[str] = (),
) -> TransitionScore:
    """Composite 0.30*bpm + 0.25*energy(to vs target) + 0.20*genre + 0.15*artist + 0.10*era."""
    bpm = score_bpm_compatibility(from_track.bpm, to_track.bpm)
    energy = score_energy_flow(to_track.energy, target_energy)
    genre = score_genre_bridge(from_track.tags, to_track.tags)
    artist = score_artist_diversity(to_track.artist, recent_artists)
    era = score_era_proximity(from_track.release_year, to_track.release_year)
    overall = (
        bpm * WEIGHT_BPM
        + energy * WEIGHT_ENERGY
        + genre * WEIGHT_GENRE
        + artist * WEIGHT_ARTIST
        + era * WEIGHT_ERA
    )
    return TransitionScore(bpm, energy, genre, artist, era, overall)


# ----------------------------------------------------------------------------- SuggestionEngine


class HasBpmEnergy(Protocol):
    @property
    def bpm(self) -> float | None: ...

    @property
    def energy(self) -> float | None: ...


@record(frozen=True)
class TrackFeatures:
    """What is known about a candidate track (a Suggestion has a BPM but no energy)."""

    bpm: float | None = None
    energy: float | None = None


def score_transition(
    from_track: HasBpmEnergy,
    to_track: HasBpmEnergy,
    target_energy: float = DEFAULT_TARGET_ENERGY,
) -> int:
    """0..100 = round(100 * (0.6*bpmCompat + 0.4*energyFlow)).

    bpmCompat uses both tracks' BPM (0.5 when either is unknown). energyFlow compares the
    *destination* track's energy with ``target_energy``; an unknown energy counts as 0.5.
    Hence with unknown BPM and unknown energy at the default target the score is
    round(100*(0.6*0.5 + 0.4*1.0)) = 70 — the "unknown BPM -> 70" of the reference.
    ``from_track``'s energy is not used.
    """
    bpm = score_bpm_compatibility(from_track.bpm, to_track.bpm)
    to_energy = to_track.energy if to_track.energy is not None else DEFAULT_TARGET_ENERGY
    energy = score_energy_flow(to_energy, target_energy)
    return js_round((bpm * 0.6 + energy * 0.4) * 100)


def year_from_release_date(release_date: str | None) -> int | None:
    """Leading integer of a Spotify ``release_date`` (``1985``, ``1985-06``, ``1985-06-01``)."""
    if not release_date:
        return None
    match = re.match(r"\s*([+-]?\d+)", release_date)
    return int(match.group(1)) if match else None


def score_suggestion(
    vibe: VibeProfile,
    *,
    bpm: float | None = None,
    energy: float | None = None,
    genres: Sequence[str] = (),
    release_date: str | None = None,
) -> int:
    """How well a track fits the vibe, 0..100.

    BPM vs the vibe range midpoint: |d| <= 5 -> 30, <= 10 -> 24, <= 20 -> 15, else 6;
      unknown (None or 0) -> 15.
    Genres: 15 per genre also in the vibe (exact match), at most 45.
    Energy (0..1) vs energyLevel/10: |d| <= 0.2 -> 30, <= 0.4 -> 15, else 5; unknown -> 15.
    Era (release year): inside the vibe era 25; <= 5 years outside 15; <= 10 years 5; else 0.
      An unknown or unparsable release date scores 0 (as upstream's NaN comparisons did).
    """
    score = 0.0
    if bpm:
        midpoint = (vibe.bpm_range.min + vibe.bpm_range.max) / 2
        diff = abs(bpm - midpoint)
        if diff <= 5:
            score += 30
        elif diff <= 10:
            score += 24
        elif diff <= 20:
            score += 15
        else:
            score += 6
    else:
        score += 15

    matches = sum(1 for g in genres if g in vibe.genres)
    score += min(matches * 15, 45)

    if energy is not None:
        diff = abs(energy - vibe.energy_level / 10)
        if diff <= 0.2:
            score += 30
        elif diff <= 0.4:
            score += 15
        else:
            score += 5
    else:
        score += 15

    year = year_from_release_date(release_date)
    if year is not None:
        if vibe.era.start <= year <= vibe.era.end:
            score += 25
        else:
            off = min(abs(year - vibe.era.start), abs(year - vibe.era.end))
            if off <= 5:
                score += 15
            elif off <= 10:
                score += 5

    return int(clamp(js_round(score), 0, 100))


def combine_scores(vibe_score: float, transition_score: float) -> int:
    """Context-aware suggestions: round((vibeScore + transitionScore) / 2)."""
    return js_round((vibe_score + transition_score) / 2)


def fallback_reason(
    vibe: VibeProfile,
    *,
    bpm: float | None,
    genres: Sequence[str] = (),
    transition_score: float,
) -> str:
    """Reason text of a Last.fm-fallback suggestion (parts joined by `` • ``)."""
    reasons: list[str] = []
    if bpm:
        midpoint = (vibe.bpm_range.min + vibe.bpm_range.max) / 2
        if abs(bpm - midpoint) < 10:
            reasons.append(f"BPM {fmt_num(bpm)} matches vibe")
    matched = [g for g in genres if g in vibe.genres]
    if matched:
        reasons.append(f"Matches genres: {', '.join(matched)}")
    if transition_score > SMOOTH_TRANSITION_ABOVE:
        reasons.append("Smooth transition")
    if not reasons:
        reasons.append("Similar to recent tracks")
    return " • ".join(reasons)


# ----------------------------------------------------------------------------- descriptions


def energy_label(energy_level: float) -> str:
    if energy_level <= 3:
        return "low/chill"
    if energy_level <= 6:
        return "medium"
    return "high/intense"


def vibe_description(vibe: VibeProfile) -> str:
    """The multi-line vibe summary used in suggestion prompts."""
    lines: list[str] = []
    if vibe.genres:
        lines.append(f"Genres: {', '.join(vibe.genres)}")
    if vibe.mood:
        lines.append(f"Mood: {', '.join(vibe.mood)}")
    lines.append(
        f"Energy: {energy_label(vibe.energy_level)} "
        f"({fmt_num(vibe.energy_level)}/10, {vibe.energy_direction})"
    )
    lines.append(f"BPM range: {fmt_num(vibe.bpm_range.min)}-{fmt_num(vibe.bpm_range.max)}")
    lines.append(f"Era: {vibe.era.start}-{vibe.era.end}")
    return "\n".join(lines)


def based_on_vibe_profile(vibe: VibeProfile) -> str:
    """``basedOn.vibeProfile`` of GET /api/mix/suggestions."""
    genres = ", ".join(vibe.genres) or "any"
    return (
        f"Energy: {fmt_num(vibe.energy_level)}/10 ({vibe.energy_direction}), "
        f"BPM: {fmt_num(vibe.bpm_range.min)}-{fmt_num(vibe.bpm_range.max)}, Genres: {genres}"
    )
