"""Spotify audio features (energy, danceability, valence) for the analysis, when Spotify has them.

`GET /v1/audio-features?ids=` takes up to 100 ids and answers `{"audio_features": [...]}`,
one object (or `null` for an unknown id) per id, values 0-1. Spotify stopped serving it to
apps created after 2024-11-27 (HTTP 403); older apps with extended access still get data.
So the section is optional: `fetch_audio_features` never raises, and a refusal or failure
becomes a sentence saying why (`AudioFeaturesReport.unavailable`) instead of numbers.

Calls go through `dj.spotify.SpotifyClient` (service `spotify`: its lane, the request's
budgets, retries and circuit breaker). Nothing is cached: a 100-track analysis costs one call.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from runtime.records import field, record

from .common import to_number

if TYPE_CHECKING:
    from dj.spotify import SpotifyClient

BATCH = 100
FEATURES = ("energy", "danceability", "valence")

REFUSED = (
    "Spotify refused audio features (403): apps created after 27 November 2024 no longer "
    "get energy, danceability or valence."
)
MISSING = "Spotify's audio features endpoint is not available to this app (404)."
EMPTY = "Spotify has no audio features for these tracks."
NOT_ASKED = "Audio features were not requested: no subrequests were left."


@record
class AudioFeaturesReport:
    """Energy, danceability and valence by track id, or why there are none."""

    values: dict[str, dict[str, float]] = field(default_factory=dict)
    unavailable: str | None = None
    calls: int = 0


def calls_needed(track_count: int) -> int:
    """Spotify calls for `track_count` tracks (one per 100)."""
    return math.ceil(track_count / BATCH)


def parse_features(body: Any) -> dict[str, dict[str, float]]:
    """The usable entries of an `/audio-features` answer: id -> the three values in 0-1.

    Lenient: `null` entries, entries without an id and values that are missing or out of
    range are skipped one by one, so one odd entry costs only itself.
    """
    items = body.get("audio_features") if isinstance(body, dict) else None
    out: dict[str, dict[str, float]] = {}
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            continue
        values: dict[str, float] = {}
        for name in FEATURES:
            number = to_number(item.get(name))
            if number is not None and 0.0 <= number <= 1.0:
                values[name] = float(number)
        if len(values) == len(FEATURES):
            out[item["id"]] = values
    return out


def failure_reason(status: int | None, error: str | None) -> str:
    """A sentence for a user: why the audio features are missing."""
    if error == "http_status" and status == 403:
        return REFUSED
    if error == "http_status" and status == 404:
        return MISSING
    if error == "http_status" and status == 429:
        return "Spotify's rate limit stopped the audio features request (429)."
    if error == "http_status":
        return f"Spotify's audio features request failed (HTTP {status})."
    if error == "timeout":
        return "Spotify did not send the audio features in time."
    if error == "budget_exhausted":
        return NOT_ASKED
    if error in ("invalid_json", "invalid_response"):
        return "Spotify's audio features answer was not in the expected shape."
    return "Spotify could not be reached for audio features."


async def fetch_audio_features(
    client: SpotifyClient, track_ids: Sequence[str]
) -> AudioFeaturesReport:
    """One call per 100 ids; the first failure ends it with a reason (never raises)."""
    report = AudioFeaturesReport()
    ids = list(dict.fromkeys(track_ids))
    for start in range(0, len(ids), BATCH):
        result = await client.audio_features(ids[start : start + BATCH])
        report.calls += 1
        if not result.ok:
            report.values.clear()
            report.unavailable = failure_reason(result.status, result.error)
            return report
        try:
            body = result.json()
        except ValueError:
            report.values.clear()
            report.unavailable = failure_reason(result.status, "invalid_json")
            return report
        report.values.update(parse_features(body))
    if ids and not report.values:
        report.unavailable = EMPTY
    return report
