"""MixSessionService rules as pure functions (reference §7.1, §2.3 track transitions).

Every function takes a MixSession and returns a *new* one; the argument is never mutated.
Routes load a session with ``dj.models.mix.parse_stored``, apply rules, then ``touch`` and
``dump_stored`` it.

Deliberate differences from upstream (see docs/dj-differences.md):
- ``add_to_queue`` honours ``position`` (§12.13; upstream always appended).
- ``blend_vibes(..., replace_bpm=True)`` / ``apply_user_vibe_update`` let PUT /api/mix/vibe narrow
  the BPM range (§12.7); track-driven updates still only widen it.
- ``recent_tracks``/``last_played`` return the newest tracks (§12.5).
- ``update_vibe_from_track`` compares the new track with the two tracks played *before* it
  (upstream ran after inserting the track, so the new track was counted twice).
"""

from collections.abc import Sequence
from typing import Annotated

from pydantic import Field

from dj.js_compat import clamp, iso_from_ms, js_round, ms_from_iso
from dj.models.mix import (
    BPM_MAX,
    BPM_MIN,
    ENERGY_MAX,
    ENERGY_MIN,
    MAX_HISTORY,
    MAX_QUEUE,
    MAX_SIGNALS,
    MAX_SKIP_PATTERNS,
    BpmRange,
    CamelModel,
    EnergyDirection,
    EraRange,
    ListenerSignal,
    MixSession,
    PlayedTrack,
    QueuedTrack,
    SessionPreferences,
    TasteModel,
    VibeProfile,
)
from runtime.records import record

DEFAULT_BLEND_WEIGHT = 0.3
USER_UPDATE_WEIGHT = 1.0
MAX_BLENDED_TAGS = 5
COMPLETED_AFFINITY_STEP = 0.1
SKIPPED_AFFINITY_STEP = -0.2
COMPLETED_RATIO = 0.8
SKIP_LISTEN_MS = 30_000
SKIPS_BEFORE_REPLAN = 3
DIRECTION_THRESHOLD = 0.1
USER_TRACK_VIBE_SCORE = 50
USER_TRACK_REASON = "Manually added"


class QueueFullError(ValueError):
    """The queue already holds MAX_QUEUE tracks (route: 400 ``Queue is full (max 10 tracks)``)."""

    def __init__(self) -> None:
        super().__init__(f"Queue is full (max {MAX_QUEUE} tracks)")


class InvalidPositionError(ValueError):
    """A queue position is out of range (routes: 400 ``Invalid position(s)``)."""


# ----------------------------------------------------------------------------- sessions


def create_session(
    *,
    session_id: str,
    user_id: str,
    now_ms: int,
    preferences: SessionPreferences | None = None,
) -> MixSession:
    """A fresh session: default vibe, empty queue/history/signals, createdAt == updatedAt."""
    stamp = iso_from_ms(now_ms)
    return MixSession(
        id=session_id,
        user_id=user_id,
        created_at=stamp,
        updated_at=stamp,
        vibe=VibeProfile(),
        preferences=(preferences.model_copy(deep=True) if preferences else SessionPreferences()),
    )


def touch(session: MixSession, now_ms: int) -> MixSession:
    """Stamp ``updatedAt`` (upstream ``updateSession`` does this before every save)."""
    return session.model_copy(update={"updated_at": iso_from_ms(now_ms)}, deep=True)


@record(frozen=True)
class EndStats:
    tracks_played: int
    session_duration: int  # whole seconds since createdAt, never negative

    def as_json(self) -> dict[str, int]:
        return {"tracksPlayed": self.tracks_played, "sessionDuration": self.session_duration}


def end_stats(session: MixSession, now_ms: int) -> EndStats:
    """``tracksPlayed`` = history length, ``sessionDuration`` = floor(seconds since createdAt)."""
    elapsed_ms = now_ms - ms_from_iso(session.created_at)
    return EndStats(tracks_played=len(session.history), session_duration=max(0, elapsed_ms // 1000))


# ----------------------------------------------------------------------------- queue


def _reindexed(queue: Sequence[QueuedTrack]) -> list[QueuedTrack]:
    return [track.model_copy(update={"position": index}) for index, track in enumerate(queue)]


def add_to_queue(
    session: MixSession, track: QueuedTrack, position: int | None = None
) -> MixSession:
    """Insert ``track`` at ``position`` (end when None or past the end), then re-index 0..n-1.

    Raises QueueFullError at MAX_QUEUE tracks and InvalidPositionError for a negative position.
    """
    if len(session.queue) >= MAX_QUEUE:
        raise QueueFullError()
    if position is not None and position < 0:
        raise InvalidPositionError("Invalid position")
    new = session.model_copy(deep=True)
    index = len(new.queue) if position is None else min(position, len(new.queue))
    new.queue.insert(index, track.model_copy(deep=True))
    new.queue = _reindexed(new.queue)
    return new


def remove_from_queue(session: MixSession, position: int) -> MixSession:
    """Drop the track at ``position`` and re-index; InvalidPositionError when out of range."""
    if not 0 <= position < len(session.queue):
        raise InvalidPositionError("Invalid position")
    new = session.model_copy(deep=True)
    del new.queue[position]
    new.queue = _reindexed(new.queue)
    return new


def reorder_queue(session: MixSession, from_position: int, to_position: int) -> MixSession:
    """Move one track; both positions must be in range (InvalidPositionError otherwise)."""
    size = len(session.queue)
    if not (0 <= from_position < size and 0 <= to_position < size):
        raise InvalidPositionError("Invalid positions")
    new = session.model_copy(deep=True)
    moved = new.queue.pop(from_position)
    new.queue.insert(to_position, moved)
    new.queue = _reindexed(new.queue)
    return new


def clear_queue(session: MixSession) -> MixSession:
    return session.model_copy(update={"queue": []}, deep=True)


def find_in_queue(
    session: MixSession, *, track_id: str | None = None, track_uri: str | None = None
) -> QueuedTrack | None:
    """First queued track whose id or URI matches (how track-played and transitions look it up)."""
    for track in session.queue:
        if (track_id is not None and track.track_id == track_id) or (
            track_uri is not None and track.track_uri == track_uri
        ):
            return track
    return None


def user_queued_track(
    *,
    track_id: str,
    track_uri: str,
    name: str,
    artist: str,
    album_art: str | None = None,
) -> QueuedTrack:
    """The QueuedTrack POST /api/mix/queue/add builds (vibeScore 50, ``Manually added``)."""
    return QueuedTrack(
        track_id=track_id,
        track_uri=track_uri,
        name=name,
        artist=artist,
        album_art=album_art,
        position=0,
        added_by="user",
        reason=USER_TRACK_REASON,
        vibe_score=USER_TRACK_VIBE_SCORE,
    )


# ----------------------------------------------------------------------------- history


def played_from_queued(
    queued: QueuedTrack,
    *,
    played_at_ms: int,
    bpm: float | None = None,
    energy: float | None = None,
) -> PlayedTrack:
    """A PlayedTrack for a queued track that just played (BPM out of 20..220 becomes None)."""
    return PlayedTrack.model_validate(
        {
            "trackId": queued.track_id,
            "trackUri": queued.track_uri,
            "name": queued.name,
            "artist": queued.artist,
            "albumArt": queued.album_art,
            "playedAt": iso_from_ms(played_at_ms),
            "bpm": bpm,
            "energy": energy,
        }
    )


def add_to_history(session: MixSession, track: PlayedTrack) -> MixSession:
    """Prepend (history is newest first) and keep the newest MAX_HISTORY entries."""
    new = session.model_copy(deep=True)
    new.history = [track.model_copy(deep=True), *new.history][:MAX_HISTORY]
    return new


def recent_tracks(session: MixSession, n: int = 5) -> list[PlayedTrack]:
    """The ``n`` most recently played tracks, newest first (fix for §12.5)."""
    return [t.model_copy(deep=True) for t in session.history[: max(0, n)]]


def last_played(session: MixSession) -> PlayedTrack | None:
    """The most recently played track (``history[0]``), or None."""
    return session.history[0].model_copy(deep=True) if session.history else None


def detect_energy_direction(
    track: PlayedTrack, previous_history: Sequence[PlayedTrack]
) -> EnergyDirection:
    """Trend over the new track and the two played before it (newest first).

    Needs two earlier tracks and three known energies; otherwise ``steady`` (as upstream).
    newest - oldest > 0.1 -> building, < -0.1 -> winding_down, else steady.
    """
    if len(previous_history) < 2:
        return "steady"
    energies = [t.energy for t in (track, previous_history[0], previous_history[1])]
    known = [e for e in energies if e is not None]
    if len(known) < 3:
        return "steady"
    diff = known[0] - known[-1]
    if diff > DIRECTION_THRESHOLD:
        return "building"
    if diff < -DIRECTION_THRESHOLD:
        return "winding_down"
    return "steady"


def update_vibe_from_track(
    vibe: VibeProfile, track: PlayedTrack, previous_history: Sequence[PlayedTrack]
) -> VibeProfile:
    """The vibe after ``track`` played; ``previous_history`` must not yet contain ``track``.

    energy: if known, round(0.7*current + 0.3*round(energy*10)) clamped 1..10.
    direction: ``detect_energy_direction`` (always replaced, as upstream).
    bpmRange: widened to include the track's BPM clamped to 20..220 (never narrowed).
    """
    new = vibe.model_copy(deep=True)
    if track.energy is not None:
        track_level = js_round(track.energy * 10)
        new.energy_level = int(
            clamp(js_round(vibe.energy_level * 0.7 + track_level * 0.3), ENERGY_MIN, ENERGY_MAX)
        )
    new.energy_direction = detect_energy_direction(track, previous_history)
    if track.bpm is not None:
        bpm = clamp(track.bpm, BPM_MIN, BPM_MAX)
        new.bpm_range = BpmRange(
            min=max(BPM_MIN, min(vibe.bpm_range.min, bpm)),
            max=min(BPM_MAX, max(vibe.bpm_range.max, bpm)),
        )
    return new


def record_played_track(session: MixSession, track: PlayedTrack) -> MixSession:
    """add_to_history + update_vibe_from_track, in the order that counts each track once."""
    vibe = update_vibe_from_track(session.vibe, track, session.history)
    new = add_to_history(session, track)
    new.vibe = vibe
    return new


# ----------------------------------------------------------------------------- vibe blending


class VibeUpdate(CamelModel):
    """A partial vibe (PUT /api/mix/vibe body and track-driven blends); unset fields stay."""

    energy_level: Annotated[float, Field(ge=ENERGY_MIN, le=ENERGY_MAX)] | None = None
    energy_direction: EnergyDirection | None = None
    bpm_range: BpmRange | None = None
    era: EraRange | None = None
    genres: list[str] | None = None
    mood: list[str] | None = None


def _union_capped(current: Sequence[str], extra: Sequence[str]) -> list[str]:
    return list(dict.fromkeys([*current, *extra]))[:MAX_BLENDED_TAGS]


def blend_vibes(
    current: VibeProfile,
    update: VibeUpdate,
    weight: float = DEFAULT_BLEND_WEIGHT,
    *,
    replace_bpm: bool = False,
) -> VibeProfile:
    """Blend a partial vibe into ``current``.

    energy = round(cur*(1-w) + new*w) clamped 1..10; direction replaced; moods/genres
    union-deduplicated (order kept) and capped at 5; era = widest union.
    bpmRange: with ``replace_bpm`` the given range replaces the current one (bounds ordered and
    clamped to 20..220) — for explicit user requests; otherwise the widest union clamped to
    20..220 (upstream behaviour, kept for track-driven updates; §12.7).
    """
    new = current.model_copy(deep=True)
    if update.energy_level is not None:
        mixed = current.energy_level * (1 - weight) + update.energy_level * weight
        new.energy_level = int(clamp(js_round(mixed), ENERGY_MIN, ENERGY_MAX))
    if update.energy_direction is not None:
        new.energy_direction = update.energy_direction
    if update.mood is not None:
        new.mood = _union_capped(current.mood, update.mood)
    if update.genres is not None:
        new.genres = _union_capped(current.genres, update.genres)
    if update.bpm_range is not None:
        given = update.bpm_range
        if replace_bpm:
            low, high = sorted((given.min, given.max))
            new.bpm_range = BpmRange(
                min=clamp(low, BPM_MIN, BPM_MAX), max=clamp(high, BPM_MIN, BPM_MAX)
            )
        else:
            new.bpm_range = BpmRange(
                min=max(BPM_MIN, min(current.bpm_range.min, given.min)),
                max=min(BPM_MAX, max(current.bpm_range.max, given.max)),
            )
    if update.era is not None:
        new.era = EraRange(
            start=min(current.era.start, update.era.start),
            end=max(current.era.end, update.era.end),
        )
    return new


def apply_user_vibe_update(current: VibeProfile, update: VibeUpdate) -> VibeProfile:
    """PUT /api/mix/vibe: weight 1.0 (energy and direction replaced) and BPM range replaced."""
    return blend_vibes(current, update, USER_UPDATE_WEIGHT, replace_bpm=True)


# ----------------------------------------------------------------------------- signals & taste

TransitionSignal = str  # "completed" | "skipped" | "partial"


def classify_signal(listen_ms: float, duration_ms: float) -> TransitionSignal:
    """completed if listen/duration >= 0.8, else skipped if listen < 30 s, else partial.

    A track with unknown duration (<= 0) is always ``partial``. The ratio is checked first, so a
    20-second track heard to the end is ``completed``, not ``skipped``.
    """
    if duration_ms <= 0:
        return "partial"
    if listen_ms / duration_ms >= COMPLETED_RATIO:
        return "completed"
    if listen_ms < SKIP_LISTEN_MS:
        return "skipped"
    return "partial"


def make_signal(
    *, track_id: str, listen_ms: float, duration_ms: float, now_ms: int
) -> ListenerSignal:
    """The ListenerSignal a track transition records (durations floored at 0 for the schema)."""
    return ListenerSignal(
        track_id=track_id,
        type=classify_signal(listen_ms, duration_ms),  # type: ignore[arg-type]
        listen_duration=max(0, listen_ms),
        track_duration=max(0, duration_ms),
        timestamp=now_ms,
    )


def add_signal(session: MixSession, signal: ListenerSignal) -> MixSession:
    """Append and keep the newest MAX_SIGNALS (signals are oldest first)."""
    new = session.model_copy(deep=True)
    new.signals = [*new.signals, signal.model_copy(deep=True)][-MAX_SIGNALS:]
    return new


def consecutive_skips(signals: Sequence[ListenerSignal]) -> int:
    """How many of the latest signals in a row are ``skipped``."""
    count = 0
    for signal in reversed(signals):
        if signal.type != "skipped":
            break
        count += 1
    return count


def apply_skip_rule(session: MixSession) -> tuple[MixSession, bool]:
    """Clear the queue when the last >= 3 signals are skips and it is non-empty.

    Returns the (possibly new) session and whether the queue was cleared.
    """
    if consecutive_skips(session.signals) >= SKIPS_BEFORE_REPLAN and session.queue:
        return clear_queue(session), True
    return session, False


def new_taste_model(now_ms: int) -> TasteModel:
    return TasteModel(updated_at=now_ms)


def update_taste_from_signal(
    session: MixSession, signal_type: str, artist: str, now_ms: int
) -> MixSession:
    """completed +0.1 / skipped -0.2 on ``artistAffinities[artist]`` (clamped to -1..1).

    A skipped artist is appended to ``skipPatterns`` once, keeping the last 20. Other signal types
    change nothing, but a missing taste model is still created (as upstream). Per the transition
    rule, callers skip this entirely for a ``partial`` signal when there is no taste model yet
    (see ``wants_taste_update``).
    """
    new = session.model_copy(deep=True)
    if new.taste_model is None:
        new.taste_model = new_taste_model(now_ms)
    if signal_type == "completed":
        step = COMPLETED_AFFINITY_STEP
    elif signal_type == "skipped":
        step = SKIPPED_AFFINITY_STEP
    else:
        return new
    taste = new.taste_model
    current = taste.artist_affinities.get(artist, 0)
    taste.artist_affinities[artist] = clamp(current + step, -1, 1)
    if signal_type == "skipped" and artist not in taste.skip_patterns:
        taste.skip_patterns = [*taste.skip_patterns, artist][-MAX_SKIP_PATTERNS:]
    taste.updated_at = now_ms
    return new


def wants_taste_update(session: MixSession, signal_type: str) -> bool:
    """Transition rule: update taste when a model exists or the signal is not ``partial``."""
    return session.taste_model is not None or signal_type != "partial"
