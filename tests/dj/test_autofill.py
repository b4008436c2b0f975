from __future__ import annotations

from dj.autofill import (
    apply_auto_fill,
    fallback_uris,
    pick_auto_fill,
    remaining_fallback_pool,
    suggestion_request_count,
    tracks_needed,
)
from dj.mix_rules import add_to_history, add_to_queue
from dj.models.mix import SessionPreferences
from tests.dj.factories import played, queued, session, suggestion


def _with_queue(n: int):
    s = session()
    for i in range(n):
        s = add_to_queue(s, queued(i))
    return s


def test_need_is_five_minus_queue_and_request_adds_three() -> None:
    assert (tracks_needed(session()), suggestion_request_count(session())) == (5, 8)
    assert (tracks_needed(_with_queue(2)), suggestion_request_count(_with_queue(2))) == (3, 6)
    assert (tracks_needed(_with_queue(5)), suggestion_request_count(_with_queue(5))) == (0, 0)
    assert tracks_needed(_with_queue(7)) == 0


def test_auto_fill_off_needs_nothing() -> None:
    s = session(preferences=SessionPreferences(auto_fill=False))
    assert tracks_needed(s) == 0 and suggestion_request_count(s) == 0
    assert pick_auto_fill(s, [suggestion("a")]) == []


def test_picks_dedup_against_history_queue_and_each_other() -> None:
    s = add_to_history(_with_queue(2), played("h"))
    candidates = [
        suggestion("ph"),  # spotify:track:ph is in history
        suggestion("q1"),  # spotify:track:q1 is in queue
        suggestion("a", 90),
        suggestion("a", 10),  # repeat of an earlier candidate
        suggestion("b"),
        suggestion("c"),
        suggestion("d"),  # beyond need (3)
    ]
    new, added = apply_auto_fill(s, candidates)
    assert [t.track_id for t in added] == ["a", "b", "c"]
    assert all(t.added_by == "ai" for t in added)
    assert added[0].vibe_score == 90 and added[0].reason == "fits"
    assert added[0].album_art == "https://i.scdn.co/image/abc"
    assert [t.position for t in new.queue] == [0, 1, 2, 3, 4]
    assert len(s.queue) == 2  # input untouched


def test_fewer_candidates_than_needed() -> None:
    new, added = apply_auto_fill(session(), [suggestion("a")])
    assert len(added) == 1 and len(new.queue) == 1 and new.queue[0].position == 0


def test_fallback_uris_skip_known_tracks() -> None:
    s = add_to_history(_with_queue(1), played("h"))
    s = s.model_copy(
        update={"fallback_pool": ["spotify:track:q0", "spotify:track:ph", "u1", "u2", "u3"]}
    )
    assert fallback_uris(s, 2) == ["u1", "u2"]
    assert remaining_fallback_pool(s, ["u1", "u2"]).fallback_pool == [
        "spotify:track:q0", "spotify:track:ph", "u3",
    ]  # fmt: skip
