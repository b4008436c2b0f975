"""Small builders shared by the dj domain tests."""

from __future__ import annotations

from dj.mix_rules import create_session
from dj.models.mix import MixSession, PlayedTrack, QueuedTrack, Suggestion

SESSION_ID = "123e4567-e89b-42d3-a456-426614174000"
T0_MS = 1_767_225_600_000  # 2026-01-01T00:00:00.000Z


def session(**changes: object) -> MixSession:
    base = create_session(session_id=SESSION_ID, user_id="user-1", now_ms=T0_MS)
    return base.model_copy(update=changes, deep=True) if changes else base


def queued(n: int | str, position: int = 0, added_by: str = "user") -> QueuedTrack:
    return QueuedTrack(
        track_id=f"q{n}",
        track_uri=f"spotify:track:q{n}",
        name=f"Queued {n}",
        artist=f"Artist {n}",
        position=position,
        added_by=added_by,  # type: ignore[arg-type]
        vibe_score=50,
    )


def played(n: int | str, energy: float | None = None, bpm: float | None = None) -> PlayedTrack:
    return PlayedTrack(
        track_id=f"p{n}",
        track_uri=f"spotify:track:p{n}",
        name=f"Played {n}",
        artist=f"Artist {n}",
        played_at="2026-01-01T00:10:00.000Z",
        bpm=bpm,
        energy=energy,
    )


def suggestion(uri_suffix: str, score: int = 80) -> Suggestion:
    return Suggestion(
        track_id=uri_suffix,
        track_uri=f"spotify:track:{uri_suffix}",
        name=f"Song {uri_suffix}",
        artist=f"Band {uri_suffix}",
        album_art="https://i.scdn.co/image/abc",
        bpm=None,
        reason="fits",
        vibe_score=score,
    )
