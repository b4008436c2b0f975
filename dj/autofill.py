"""The pure part of queue auto-fill (reference §7.2).

The route asks the SuggestionEngine for ``suggestion_request_count(session)`` candidates (with
its own timeout), then calls ``apply_auto_fill``; it mirrors each added track to Spotify's
queue and saves. The steer-stream rebuild is the same with an emptied queue.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from dj.models.mix import MAX_QUEUE, MixSession, QueuedTrack, Suggestion

TARGET_QUEUE_SIZE = 5
EXTRA_CANDIDATES = 3


def auto_fill_enabled(session: MixSession) -> bool:
    return session.preferences.auto_fill


def tracks_needed(session: MixSession, target: int = TARGET_QUEUE_SIZE) -> int:
    """``5 - len(queue)`` (never below 0); 0 when auto-fill is switched off."""
    if not auto_fill_enabled(session):
        return 0
    return max(0, min(target, MAX_QUEUE) - len(session.queue))


def suggestion_request_count(session: MixSession, target: int = TARGET_QUEUE_SIZE) -> int:
    """How many suggestions to request: need + 3, or 0 when nothing is needed."""
    need = tracks_needed(session, target)
    return need + EXTRA_CANDIDATES if need > 0 else 0


def _known_uris(session: MixSession) -> set[str]:
    return {t.track_uri for t in session.history} | {t.track_uri for t in session.queue}


def pick_auto_fill(
    session: MixSession,
    candidates: Iterable[Suggestion],
    target: int = TARGET_QUEUE_SIZE,
) -> list[QueuedTrack]:
    """Up to ``tracks_needed`` new QueuedTracks (``addedBy: "ai"``), in candidate order.

    Candidates whose URI is already in the history or queue, or repeats an earlier candidate,
    are skipped. Positions continue after the current queue.
    """
    need = tracks_needed(session, target)
    seen = _known_uris(session)
    picked: list[QueuedTrack] = []
    for suggestion in candidates:
        if len(picked) >= need:
            break
        if suggestion.track_uri in seen:
            continue
        seen.add(suggestion.track_uri)
        picked.append(
            QueuedTrack(
                track_id=suggestion.track_id,
                track_uri=suggestion.track_uri,
                name=suggestion.name,
                artist=suggestion.artist,
                album_art=suggestion.album_art,
                position=len(session.queue) + len(picked),
                added_by="ai",
                reason=suggestion.reason,
                vibe_score=suggestion.vibe_score,
            )
        )
    return picked


def apply_auto_fill(
    session: MixSession,
    candidates: Iterable[Suggestion],
    target: int = TARGET_QUEUE_SIZE,
) -> tuple[MixSession, list[QueuedTrack]]:
    """The session with the picked tracks appended, and the tracks that were added."""
    picked = pick_auto_fill(session, candidates, target)
    new = session.model_copy(deep=True)
    new.queue = [*new.queue, *(t.model_copy(deep=True) for t in picked)]
    return new, picked


def fallback_uris(session: MixSession, need: int) -> list[str]:
    """Up to ``need`` fallback-pool URIs not already played or queued, in pool order.

    Upstream's fallback branch was unreachable (§12.9); this gives routes the pure part of it.
    """
    known = _known_uris(session)
    out: list[str] = []
    for uri in session.fallback_pool:
        if len(out) >= need:
            break
        if uri not in known and uri not in out:
            out.append(uri)
    return out


def remaining_fallback_pool(session: MixSession, used: Sequence[str]) -> MixSession:
    """The session with ``used`` URIs removed from its fallback pool."""
    taken = set(used)
    return session.model_copy(
        update={"fallback_pool": [u for u in session.fallback_pool if u not in taken]}, deep=True
    )
