from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from dj.models.mix import (
    MixSession,
    PlayedTrack,
    Suggestion,
    VibeProfile,
    dump_stored,
    parse_stored,
)
from tests.dj.factories import SESSION_ID, played, queued, session


def _stored(**overrides: object) -> dict:
    data = json.loads(dump_stored(session()))
    data.update(overrides)
    return data


def test_vibe_profile_defaults_match_reference() -> None:
    assert VibeProfile().model_dump() == {
        "energyLevel": 5,
        "energyDirection": "steady",
        "bpmRange": {"min": 80, "max": 140},
        "era": {"start": 2000, "end": 2025},
        "genres": [],
        "mood": [],
    }


def test_session_serialises_with_camel_case_keys_and_nulls() -> None:
    data = json.loads(dump_stored(session()))
    assert set(data) == {
        "id", "userId", "createdAt", "updatedAt", "vibe", "queue", "history", "fallbackPool",
        "preferences", "conversation", "signals", "plan", "tasteModel",
    }  # fmt: skip
    assert data["preferences"] == {
        "autoFill": True, "avoidGenres": [], "bpmLock": None, "favoriteArtists": [],
    }  # fmt: skip
    assert data["plan"] is None and data["tasteModel"] is None


def test_optional_album_art_is_omitted_but_nullable_bpm_is_written() -> None:
    out = played(1).model_dump()
    assert "albumArt" not in out
    assert out["bpm"] is None and out["energy"] is None
    q = queued(1).model_dump()
    assert "albumArt" not in q and "reason" not in q and q["addedBy"] == "user"


def test_parse_stored_round_trips_a_valid_session() -> None:
    s = session(queue=[queued(1)], history=[played(1, energy=0.4, bpm=121.5)])
    parsed = parse_stored(dump_stored(s))
    assert parsed == s
    assert parse_stored(json.loads(dump_stored(s))) == s  # a dict works too


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "",
        "not json",
        "[1, 2]",
        json.dumps(_stored(id="not-a-uuid")),
        json.dumps(_stored(createdAt="yesterday")),
        json.dumps(_stored(queue=[queued(i, i).model_dump() for i in range(11)])),
        json.dumps(_stored(history=[played(i).model_dump() for i in range(21)])),
        json.dumps(_stored(fallbackPool=[f"u{i}" for i in range(11)])),
        json.dumps(_stored(vibe={"energyLevel": 11})),
        json.dumps(_stored(vibe={"energyLevel": True})),
        json.dumps(_stored(vibe={"era": {"start": 1899, "end": 2000}})),
        json.dumps(_stored(vibe={"bpmRange": {"min": 10, "max": 140}})),
        json.dumps({k: v for k, v in _stored().items() if k != "preferences"}),
        json.dumps(_stored(queue=[{**queued(1).model_dump(), "vibeScore": 101}])),
        json.dumps(_stored(queue=[{**queued(1).model_dump(), "addedBy": "robot"}])),
        json.dumps(_stored(history=[{**played(1).model_dump(), "playedAt": "today"}])),
        json.dumps(_stored(history=[{**played(1).model_dump(), "albumArt": "not a url"}])),
        json.dumps(
            _stored(
                signals=[
                    {
                        "trackId": "x",
                        "type": "loved",
                        "listenDuration": 1,
                        "trackDuration": 2,
                        "timestamp": 3,
                    }
                ]
            )
        ),
        json.dumps(_stored(tasteModel={"artistAffinities": {"A": 1.5}})),
    ],
)
def test_parse_stored_returns_none_for_invalid_values(raw: str | None) -> None:
    assert parse_stored(raw) is None


def test_parse_stored_ignores_unknown_keys_and_fills_defaults() -> None:
    data = _stored(extra="x")
    for key in (
        "queue",
        "history",
        "signals",
        "conversation",
        "fallbackPool",
        "plan",
        "tasteModel",
    ):
        del data[key]
    parsed = parse_stored(json.dumps(data))
    assert parsed is not None and parsed.queue == [] and parsed.taste_model is None
    assert "extra" not in parsed.model_dump()


@pytest.mark.parametrize("bpm", [0, -5, 19.9, 220.1, 500])
def test_out_of_range_played_bpm_becomes_none_instead_of_failing(bpm: float) -> None:
    # reference §12.10: Deezer's BPM 0 used to make the whole transition save throw
    s = _stored(history=[{**played(1).model_dump(), "bpm": bpm}])
    parsed = parse_stored(json.dumps(s))
    assert parsed is not None
    assert parsed.history[0].bpm is None


@pytest.mark.parametrize("bpm", [20, 120.5, 220])
def test_in_range_played_bpm_is_kept(bpm: float) -> None:
    track = PlayedTrack.model_validate({**played(1).model_dump(), "bpm": bpm})
    assert track.bpm == bpm


def test_non_numeric_bpm_is_still_invalid() -> None:
    with pytest.raises(ValidationError):
        PlayedTrack.model_validate({**played(1).model_dump(), "bpm": "120"})


def test_suggestion_bpm_zero_is_normalised() -> None:
    s = Suggestion(
        track_id="t", track_uri="u", name="n", artist="a", bpm=0, reason="r", vibe_score=40
    )
    assert s.bpm is None


def test_dump_stored_rejects_a_session_over_its_caps() -> None:
    over = session().model_copy(update={"queue": [queued(i, i) for i in range(11)]})
    with pytest.raises(ValidationError):
        dump_stored(over)


def test_integer_energy_stays_integer_in_json() -> None:
    s = MixSession.model_validate(_stored(vibe={"energyLevel": 7}))
    assert '"energyLevel":7,' in s.model_dump_json()
    assert s.id == SESSION_ID
