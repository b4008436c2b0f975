from __future__ import annotations

import pytest

from dj.mix_rules import (
    InvalidPositionError,
    QueueFullError,
    VibeUpdate,
    add_signal,
    add_to_history,
    add_to_queue,
    apply_skip_rule,
    apply_user_vibe_update,
    blend_vibes,
    classify_signal,
    clear_queue,
    consecutive_skips,
    create_session,
    end_stats,
    find_in_queue,
    last_played,
    make_signal,
    played_from_queued,
    recent_tracks,
    record_played_track,
    remove_from_queue,
    reorder_queue,
    touch,
    update_taste_from_signal,
    update_vibe_from_track,
    user_queued_track,
    wants_taste_update,
)
from dj.models.mix import (
    BpmRange,
    EraRange,
    ListenerSignal,
    SessionPreferences,
    VibeProfile,
    dump_stored,
)
from tests.dj.factories import SESSION_ID, T0_MS, played, queued, session


def _ids(s) -> list[str]:
    return [t.track_id for t in s.queue]


def _positions(s) -> list[int]:
    return [t.position for t in s.queue]


def _signal(kind: str, n: int = 0) -> ListenerSignal:
    return ListenerSignal(
        track_id=f"t{n}", type=kind, listen_duration=1, track_duration=2, timestamp=n
    )


# ----------------------------------------------------------------------------- create / touch / end


def test_create_session_uses_given_id_and_clock_and_defaults() -> None:
    s = create_session(session_id=SESSION_ID, user_id="u1", now_ms=T0_MS)
    assert s.id == SESSION_ID and s.user_id == "u1"
    assert s.created_at == s.updated_at == "2026-01-01T00:00:00.000Z"
    assert s.vibe == VibeProfile()
    assert s.preferences.auto_fill is True and s.preferences.bpm_lock is None
    assert s.queue == s.history == s.signals == s.conversation == s.fallback_pool == []
    assert s.plan is None and s.taste_model is None
    dump_stored(s)  # passes schema validation


def test_create_session_keeps_given_preferences() -> None:
    prefs = SessionPreferences(auto_fill=False, favorite_artists=["Björk"])
    s = create_session(session_id=SESSION_ID, user_id="u1", now_ms=T0_MS, preferences=prefs)
    assert s.preferences.auto_fill is False and s.preferences.favorite_artists == ["Björk"]


def test_touch_stamps_updated_at_only() -> None:
    s = session()
    later = touch(s, T0_MS + 90_123)
    assert later.updated_at == "2026-01-01T00:01:30.123Z"
    assert later.created_at == s.created_at
    assert s.updated_at == "2026-01-01T00:00:00.000Z"  # input untouched


def test_end_stats_counts_history_and_floors_whole_seconds() -> None:
    s = add_to_history(add_to_history(session(), played(1)), played(2))
    stats = end_stats(s, T0_MS + 61_999)
    assert (stats.tracks_played, stats.session_duration) == (2, 61)
    assert stats.as_json() == {"tracksPlayed": 2, "sessionDuration": 61}


def test_end_stats_never_negative_on_clock_skew() -> None:
    assert end_stats(session(), T0_MS - 5_000).session_duration == 0


# ----------------------------------------------------------------------------- queue


def test_add_to_queue_appends_and_indexes() -> None:
    s = session()
    for i in range(3):
        s = add_to_queue(s, queued(i, position=7))
    assert _ids(s) == ["q0", "q1", "q2"] and _positions(s) == [0, 1, 2]


def test_add_to_queue_honours_position_and_reindexes() -> None:
    # upstream ignored `position` (§12.13)
    s = session()
    for i in range(3):
        s = add_to_queue(s, queued(i))
    s = add_to_queue(s, queued("x"), position=1)
    assert _ids(s) == ["q0", "qx", "q1", "q2"] and _positions(s) == [0, 1, 2, 3]
    s = add_to_queue(s, queued("y"), position=0)
    assert _ids(s)[0] == "qy" and _positions(s) == [0, 1, 2, 3, 4]


def test_add_to_queue_position_past_end_appends() -> None:
    s = add_to_queue(add_to_queue(session(), queued(0)), queued(1), position=99)
    assert _ids(s) == ["q0", "q1"] and _positions(s) == [0, 1]


def test_add_to_queue_rejects_negative_position() -> None:
    with pytest.raises(InvalidPositionError):
        add_to_queue(session(), queued(0), position=-1)


def test_add_to_queue_refuses_the_eleventh_track() -> None:
    s = session()
    for i in range(10):
        s = add_to_queue(s, queued(i))
    assert len(s.queue) == 10
    with pytest.raises(QueueFullError, match=r"^Queue is full \(max 10 tracks\)$"):
        add_to_queue(s, queued(10))


def test_queue_functions_do_not_mutate_their_input() -> None:
    s = add_to_queue(session(), queued(0))
    add_to_queue(s, queued(1), position=0)
    remove_from_queue(s, 0)
    clear_queue(s)
    assert _ids(s) == ["q0"]


def test_remove_from_queue_reindexes() -> None:
    s = session()
    for i in range(4):
        s = add_to_queue(s, queued(i))
    s = remove_from_queue(s, 1)
    assert _ids(s) == ["q0", "q2", "q3"] and _positions(s) == [0, 1, 2]


@pytest.mark.parametrize("position", [-1, 2, 5])
def test_remove_from_queue_bounds_checked(position: int) -> None:
    s = add_to_queue(add_to_queue(session(), queued(0)), queued(1))
    with pytest.raises(InvalidPositionError, match=r"^Invalid position$"):
        remove_from_queue(s, position)


def test_reorder_queue_moves_and_reindexes() -> None:
    s = session()
    for i in range(3):
        s = add_to_queue(s, queued(i))
    moved = reorder_queue(s, 0, 2)
    assert _ids(moved) == ["q1", "q2", "q0"] and _positions(moved) == [0, 1, 2]
    back = reorder_queue(moved, 2, 0)
    assert _ids(back) == ["q0", "q1", "q2"]
    assert _ids(reorder_queue(s, 1, 1)) == ["q0", "q1", "q2"]


@pytest.mark.parametrize(("frm", "to"), [(3, 0), (0, 3), (-1, 0)])
def test_reorder_queue_bounds_checked(frm: int, to: int) -> None:
    s = session()
    for i in range(3):
        s = add_to_queue(s, queued(i))
    with pytest.raises(InvalidPositionError, match=r"^Invalid positions$"):
        reorder_queue(s, frm, to)


def test_find_in_queue_matches_id_or_uri() -> None:
    s = add_to_queue(add_to_queue(session(), queued(0)), queued(1))
    assert find_in_queue(s, track_id="q1").track_id == "q1"
    assert find_in_queue(s, track_uri="spotify:track:q0").track_id == "q0"
    assert find_in_queue(s, track_id="nope", track_uri="nope") is None


def test_user_queued_track_has_upstream_defaults() -> None:
    t = user_queued_track(track_id="a", track_uri="spotify:track:a", name="A", artist="X")
    assert (t.added_by, t.vibe_score, t.reason) == ("user", 50, "Manually added")


# ----------------------------------------------------------------------------- history


def test_history_is_newest_first_and_capped_at_20() -> None:
    s = session()
    for i in range(25):
        s = add_to_history(s, played(i))
    assert len(s.history) == 20
    assert s.history[0].track_id == "p24"
    assert s.history[-1].track_id == "p5"  # p0..p4 fell off


def test_recent_tracks_returns_newest_n_first() -> None:
    # upstream used history.slice(-5), i.e. the oldest tracks (§12.5)
    s = session()
    for i in range(8):
        s = add_to_history(s, played(i))
    assert [t.track_id for t in recent_tracks(s, 3)] == ["p7", "p6", "p5"]
    assert len(recent_tracks(s, 50)) == 8
    assert recent_tracks(s, 0) == []
    assert last_played(s).track_id == "p7"
    assert last_played(session()) is None


def test_played_from_queued_normalises_bpm_and_stamps_time() -> None:
    t = played_from_queued(queued(3), played_at_ms=T0_MS + 1_000, bpm=0)
    assert t.track_id == "q3" and t.bpm is None and t.energy is None
    assert t.played_at == "2026-01-01T00:00:01.000Z"
    assert played_from_queued(queued(3), played_at_ms=T0_MS, bpm=128).bpm == 128


# ----------------------------------------------------------------------------- vibe from track


def test_track_energy_blends_70_30() -> None:
    # round(0.7*5 + 0.3*round(0.9*10)) = round(3.5 + 2.7) = round(6.2) = 6
    assert update_vibe_from_track(VibeProfile(), played(1, energy=0.9), []).energy_level == 6
    # round(0.45*10) = 5 (half up, as Math.round); round(0.7*6 + 0.3*5) = round(5.7) = 6
    vibe6 = VibeProfile(energy_level=6)
    assert update_vibe_from_track(vibe6, played(1, energy=0.45), []).energy_level == 6
    # round(0.7*7 + 0.3*0) = round(4.9) = 5
    vibe7 = VibeProfile(energy_level=7)
    assert update_vibe_from_track(vibe7, played(1, energy=0.0), []).energy_level == 5


def test_unknown_track_energy_keeps_level() -> None:
    vibe = VibeProfile(energy_level=8)
    assert update_vibe_from_track(vibe, played(1), []).energy_level == 8


@pytest.mark.parametrize(
    ("new", "prev0", "prev1", "expected"),
    [
        (0.8, 0.5, 0.3, "building"),  # 0.8 - 0.3 = 0.5 > 0.1
        (0.5, 0.6, 0.7, "winding_down"),  # 0.5 - 0.7 = -0.2 < -0.1
        (0.55, 0.9, 0.5, "steady"),  # 0.05 within threshold
        (0.8, None, 0.3, "steady"),  # needs three known energies
    ],
)
def test_direction_from_last_three_energies(new, prev0, prev1, expected) -> None:
    history = [played("a", energy=prev0), played("b", energy=prev1)]  # newest first
    vibe = VibeProfile(energy_direction="winding_down" if expected != "winding_down" else "steady")
    assert (
        update_vibe_from_track(vibe, played("n", energy=new), history).energy_direction == expected
    )


def test_direction_needs_two_earlier_tracks() -> None:
    out = update_vibe_from_track(
        VibeProfile(energy_direction="building"), played("n", energy=0.9), [played("a", energy=0.1)]
    )
    assert out.energy_direction == "steady"


@pytest.mark.parametrize(
    ("bpm", "expected"), [(150, (80, 150)), (60, (60, 140)), (100, (80, 140)), (None, (80, 140))]
)
def test_track_bpm_widens_range(bpm, expected) -> None:
    out = update_vibe_from_track(VibeProfile(), played(1, bpm=bpm), [])
    assert (out.bpm_range.min, out.bpm_range.max) == expected


def test_record_played_track_adds_history_and_counts_each_track_once() -> None:
    s = add_to_history(
        add_to_history(session(), played("old", energy=0.3)), played("mid", energy=0.5)
    )
    s = record_played_track(s, played("new", energy=0.8, bpm=150))
    assert [t.track_id for t in s.history] == ["pnew", "pmid", "pold"]
    assert s.vibe.energy_direction == "building"  # 0.8 vs 0.3
    assert s.vibe.bpm_range.max == 150
    assert s.vibe.energy_level == 6  # round(3.5 + 2.4) = round(5.9)


# ----------------------------------------------------------------------------- blend


def test_blend_energy_weighted_with_default_weight() -> None:
    # round(5*0.7 + 9*0.3) = round(6.2) = 6
    assert blend_vibes(VibeProfile(), VibeUpdate(energy_level=9)).energy_level == 6


def test_blend_rounds_halves_up_like_javascript() -> None:
    # 5*0.5 + 8*0.5 = 6.5 -> 7 (Python's round() would give 6)
    assert blend_vibes(VibeProfile(), VibeUpdate(energy_level=8), 0.5).energy_level == 7


def test_blend_with_weight_one_replaces_energy_and_direction() -> None:
    out = blend_vibes(VibeProfile(), VibeUpdate(energy_level=9, energy_direction="building"), 1.0)
    assert (out.energy_level, out.energy_direction) == (9, "building")


def test_blend_unions_moods_and_genres_capped_at_five() -> None:
    vibe = VibeProfile(mood=["a", "b", "c"], genres=["rock"])
    out = blend_vibes(vibe, VibeUpdate(mood=["c", "d", "e", "f"], genres=["rock", "pop"]))
    assert out.mood == ["a", "b", "c", "d", "e"]
    assert out.genres == ["rock", "pop"]
    assert vibe.mood == ["a", "b", "c"]


def test_blend_era_is_widest_union() -> None:
    out = blend_vibes(VibeProfile(), VibeUpdate(era=EraRange(start=1990, end=2010)))
    assert (out.era.start, out.era.end) == (1990, 2025)


def test_track_driven_blend_only_widens_bpm() -> None:
    out = blend_vibes(VibeProfile(), VibeUpdate(bpm_range=BpmRange(min=100, max=120)))
    assert (out.bpm_range.min, out.bpm_range.max) == (80, 140)
    wider = blend_vibes(VibeProfile(), VibeUpdate(bpm_range=BpmRange(min=70, max=170)))
    assert (wider.bpm_range.min, wider.bpm_range.max) == (70, 170)


def test_user_vibe_update_can_narrow_bpm() -> None:
    # upstream unioned, so PUT /api/mix/vibe could never narrow (§12.7)
    out = apply_user_vibe_update(
        VibeProfile(), VibeUpdate(energy_level=3, bpm_range=BpmRange(min=100, max=120))
    )
    assert (out.bpm_range.min, out.bpm_range.max) == (100, 120)
    assert out.energy_level == 3


def test_user_vibe_update_orders_reversed_bounds() -> None:
    out = apply_user_vibe_update(VibeProfile(), VibeUpdate(bpm_range=BpmRange(min=130, max=90)))
    assert (out.bpm_range.min, out.bpm_range.max) == (90, 130)


def test_vibe_update_body_parses_camel_case_and_checks_bounds() -> None:
    upd = VibeUpdate.model_validate({"energyLevel": 4, "bpmRange": {"min": 90, "max": 100}})
    assert upd.energy_level == 4 and upd.bpm_range.max == 100
    with pytest.raises(ValueError):
        VibeUpdate.model_validate({"energyLevel": 11})


# ----------------------------------------------------------------------------- signals


@pytest.mark.parametrize(
    ("listen", "duration", "expected"),
    [
        (160_000, 200_000, "completed"),  # exactly 0.8
        (20_000, 20_000, "completed"),  # short track heard to the end: ratio checked first
        (10_000, 200_000, "skipped"),
        (29_999, 200_000, "skipped"),
        (30_000, 200_000, "partial"),
        (100_000, 200_000, "partial"),
        (5_000, 0, "partial"),
        (5_000, -1, "partial"),
    ],
)
def test_classify_signal(listen: int, duration: int, expected: str) -> None:
    assert classify_signal(listen, duration) == expected


def test_make_signal_records_durations_and_time() -> None:
    sig = make_signal(track_id="t", listen_ms=12_000, duration_ms=180_000, now_ms=T0_MS)
    assert sig.type == "skipped"
    assert sig.model_dump() == {
        "trackId": "t", "type": "skipped", "listenDuration": 12_000,
        "trackDuration": 180_000, "timestamp": T0_MS,
    }  # fmt: skip


def test_signals_capped_at_50_keeping_newest() -> None:
    s = session()
    for i in range(55):
        s = add_signal(s, _signal("completed", i))
    assert len(s.signals) == 50
    assert s.signals[0].track_id == "t5" and s.signals[-1].track_id == "t54"
    dump_stored(s)


def test_consecutive_skips_counts_trailing_run() -> None:
    kinds = ["skipped", "completed", "skipped", "skipped"]
    assert consecutive_skips([_signal(k) for k in kinds]) == 2
    assert consecutive_skips([]) == 0


def test_three_trailing_skips_clear_a_non_empty_queue() -> None:
    s = add_to_queue(session(), queued(0))
    for i in range(3):
        s = add_signal(s, _signal("skipped", i))
    cleared, did = apply_skip_rule(s)
    assert did is True and cleared.queue == []
    assert len(s.queue) == 1


def test_skip_rule_needs_three_in_a_row_and_a_queue() -> None:
    s = add_to_queue(session(), queued(0))
    for kind in ["skipped", "skipped", "completed", "skipped", "skipped"]:
        s = add_signal(s, _signal(kind))
    assert apply_skip_rule(s)[1] is False
    empty = session()
    for i in range(3):
        empty = add_signal(empty, _signal("skipped", i))
    assert apply_skip_rule(empty)[1] is False


# ----------------------------------------------------------------------------- taste


def test_completed_raises_affinity_by_point_one() -> None:
    s = session()
    for _ in range(3):
        s = update_taste_from_signal(s, "completed", "Röyksopp", T0_MS)
    assert s.taste_model.artist_affinities["Röyksopp"] == pytest.approx(0.3)
    assert s.taste_model.skip_patterns == []
    assert s.taste_model.updated_at == T0_MS


def test_skipped_lowers_affinity_and_records_pattern_once() -> None:
    s = session()
    for _ in range(7):
        s = update_taste_from_signal(s, "skipped", "Nickelback", T0_MS)
    assert s.taste_model.artist_affinities["Nickelback"] == -1  # clamped
    assert s.taste_model.skip_patterns == ["Nickelback"]


def test_affinity_clamped_at_plus_one() -> None:
    s = session()
    for _ in range(12):
        s = update_taste_from_signal(s, "completed", "A", T0_MS)
    assert s.taste_model.artist_affinities["A"] == 1


def test_partial_creates_model_but_changes_nothing() -> None:
    s = update_taste_from_signal(session(), "partial", "A", T0_MS + 5)
    assert s.taste_model is not None
    assert s.taste_model.artist_affinities == {} and s.taste_model.skip_patterns == []
    assert (s.taste_model.bpm_preference, s.taste_model.energy_preference) == ((80, 140), 0.5)


def test_skip_patterns_keep_last_20() -> None:
    s = session()
    for i in range(25):
        s = update_taste_from_signal(s, "skipped", f"artist{i}", T0_MS)
    patterns = s.taste_model.skip_patterns
    assert len(patterns) == 20 and patterns[0] == "artist5" and patterns[-1] == "artist24"


def test_wants_taste_update_rule() -> None:
    assert wants_taste_update(session(), "partial") is False
    assert wants_taste_update(session(), "skipped") is True
    with_model = update_taste_from_signal(session(), "completed", "A", T0_MS)
    assert wants_taste_update(with_model, "partial") is True
