"""The stream's track transitions: the pure session update and the handler around KV."""

from __future__ import annotations

import asyncio
from typing import Any

from dj.js_compat import iso_from_ms
from dj.mix_rules import add_signal, make_signal
from dj.models.mix import MixSession, PlayedTrack
from dj.player_stream import Allowance, Track, Transition
from dj.player_transitions import (
    FinishedTrack,
    TransitionHandler,
    apply_transition,
    record_track_played,
    valid_bpm,
)
from runtime.kv import KVStore, MixSessionStore
from runtime.testing import MemoryKV
from tests.dj.factories import T0_MS, played, queued, session

NOW = T0_MS + 3_600_000


def finished(n: int | str, duration: int = 200_000) -> FinishedTrack:
    return FinishedTrack(
        track_id=f"q{n}",
        track_uri=f"spotify:track:q{n}",
        name=f"Queued {n}",
        artist=f"Artist {n}",
        album_art=None,
        duration_ms=duration,
        first_artist=f"Artist {n}",
    )


def stream_track(n: int | str, duration: int = 200_000) -> Track:
    return Track(
        id=f"q{n}",
        uri=f"spotify:track:q{n}",
        name=f"Queued {n}",
        artist=f"Artist {n}",
        album_name="",
        album_art=None,
        duration=duration,
        explicit=False,
        is_local=False,
        popularity=0,
        preview_url=None,
        first_artist=f"Artist {n}",
    )


def with_queue(*ns: int) -> MixSession:
    return session(queue=[queued(n, position=i) for i, n in enumerate(ns)])


# -- the pure update ----------------------------------------------------------------------------


def test_a_completed_queued_track_moves_to_history_with_signal_and_taste() -> None:
    out = apply_transition(with_queue(1, 2), finished(1), listen_ms=190_000, now_ms=NOW, bpm=124)
    s = out.session
    assert out.moved and out.signal is not None and out.signal.type == "completed"
    assert [t.track_id for t in s.queue] == ["q2"] and s.queue[0].position == 0
    assert s.history[0].track_id == "q1" and s.history[0].bpm == 124
    assert s.history[0].played_at == iso_from_ms(NOW)
    assert s.signals[-1].listen_duration == 190_000 and s.signals[-1].track_duration == 200_000
    assert s.taste_model is not None and s.taste_model.artist_affinities == {"Artist 1": 0.1}
    assert s.updated_at == iso_from_ms(NOW)
    assert s.vibe.bpm_range.max == 140  # 124 lies inside 80..140


def test_a_bpm_of_0_is_stored_as_null_and_the_save_still_validates() -> None:
    out = apply_transition(with_queue(1), finished(1), listen_ms=190_000, now_ms=NOW, bpm=0)
    assert out.moved and out.session.history[0].bpm is None
    MixSession.model_validate(out.session.model_dump())  # what the store's save does
    assert valid_bpm(250) is None and valid_bpm(True) is None and valid_bpm(90.5) == 90.5


def test_a_track_not_in_the_queue_only_records_a_signal() -> None:
    out = apply_transition(with_queue(2), finished(7), listen_ms=5_000, now_ms=NOW)
    assert not out.moved and out.signal is not None and out.signal.type == "skipped"
    assert out.session.history == [] and [t.track_id for t in out.session.queue] == ["q2"]
    assert out.session.taste_model is not None
    assert out.session.taste_model.skip_patterns == ["Artist 7"]


def test_a_partial_signal_without_taste_model_leaves_taste_alone() -> None:
    out = apply_transition(with_queue(), finished(3), listen_ms=60_000, now_ms=NOW)
    assert out.signal is not None and out.signal.type == "partial"
    assert out.session.taste_model is None


def test_the_third_skip_in_a_row_clears_the_queue() -> None:
    s = with_queue(5, 6)
    for n, at in ((1, NOW - 60_000), (2, NOW - 30_000)):
        s = add_signal(
            s, make_signal(track_id=f"x{n}", listen_ms=1_000, duration_ms=200_000, now_ms=at)
        )
    out = apply_transition(s, finished(9), listen_ms=2_000, now_ms=NOW)
    assert out.queue_cleared and out.session.queue == []


def test_the_same_transition_seen_twice_is_recorded_once() -> None:
    first = apply_transition(with_queue(1), finished(1), listen_ms=190_000, now_ms=NOW)
    again = apply_transition(first.session, finished(1), listen_ms=191_000, now_ms=NOW + 1_000)
    assert again.duplicate and again.session == first.session
    assert len(again.session.signals) == 1 and len(again.session.history) == 1


def test_track_played_after_the_stream_does_not_add_the_track_again() -> None:
    after_stream = apply_transition(with_queue(1), finished(1), listen_ms=190_000, now_ms=NOW)
    details = PlayedTrack.model_validate(
        {**played(1).model_dump(), "trackId": "q1", "trackUri": "spotify:track:q1"}
    )
    s, moved = record_track_played(
        after_stream.session,
        track_id="q1",
        track_uri="spotify:track:q1",
        now_ms=NOW + 2_000,
        not_queued=details,
    )
    assert not moved and len(s.history) == 1


def test_the_stream_after_track_played_does_not_move_the_track_again() -> None:
    s, moved = record_track_played(
        with_queue(1, 2), track_id="q1", track_uri="spotify:track:q1", now_ms=NOW
    )
    assert moved and [t.track_id for t in s.queue] == ["q2"]
    out = apply_transition(s, finished(1), listen_ms=190_000, now_ms=NOW + 3_000)
    assert not out.moved and len(out.session.history) == 1
    assert out.signal is not None  # the listening signal is still the stream's to record


def test_a_second_queued_copy_of_a_just_recorded_track_is_dropped_not_doubled() -> None:
    s, _ = record_track_played(
        with_queue(1, 2, 1), track_id="q1", track_uri="spotify:track:q1", now_ms=NOW
    )
    s2, moved = record_track_played(s, track_id="q1", track_uri="spotify:track:q1", now_ms=NOW)
    assert not moved and len(s2.history) == 1 and [t.track_id for t in s2.queue] == ["q2"]


def test_track_played_records_an_unqueued_track_once() -> None:
    details = played(8, bpm=None)
    s, moved = record_track_played(
        session(), track_id="p8", track_uri="spotify:track:p8", now_ms=NOW, not_queued=details
    )
    assert moved and s.history[0].track_id == "p8"


def test_a_replay_much_later_is_a_new_play() -> None:
    s, _ = record_track_played(
        with_queue(1, 2, 1), track_id="q1", track_uri="spotify:track:q1", now_ms=NOW
    )
    s2, moved = record_track_played(
        s, track_id="q1", track_uri="spotify:track:q1", now_ms=NOW + 240_000
    )
    assert moved and len(s2.history) == 2


# -- the handler ----------------------------------------------------------------------------------


def make_store(kv: MemoryKV) -> MixSessionStore[MixSession]:
    return MixSessionStore(KVStore(kv, name="MIX_SESSIONS"), MixSession)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_handler_loads_updates_and_saves_the_session_once() -> None:
    kv = MemoryKV()
    store = make_store(kv)
    lookups: list[str] = []

    async def user() -> str:
        return "user-1"

    async def bpm(track: FinishedTrack) -> float:
        lookups.append(track.track_id)
        return 0  # Deezer's "unknown"

    async def go() -> None:
        await store.save("user-1", with_queue(1, 2))
        kv.ops.clear()
        handler = TransitionHandler(store=store, user_id=user, bpm=bpm, now_ms=lambda: NOW)
        out = await handler.handle(Transition(stream_track(1), NOW - 190_000, NOW))
        assert out is not None and out.moved
        saved = await store.load("user-1")
        assert saved is not None
        assert saved.history[0].track_id == "q1" and saved.history[0].bpm is None
        assert saved.signals[-1].type == "completed"
        assert [op for op, _ in kv.ops] == ["get", "put", "get"]

    run(go())
    assert lookups == ["q1"]


def test_handler_skips_the_bpm_lookup_for_an_unqueued_track() -> None:
    kv = MemoryKV()
    store = make_store(kv)

    async def user() -> str:
        return "user-1"

    async def bpm(track: FinishedTrack) -> float:
        raise AssertionError("no lookup for a track that does not move")

    async def go() -> None:
        await store.save("user-1", with_queue(2))
        handler = TransitionHandler(store=store, user_id=user, bpm=bpm, now_ms=lambda: NOW)
        out = await handler.handle(Transition(stream_track(9), NOW - 5_000, NOW))
        assert out is not None and not out.moved and out.signal is not None

    run(go())


def test_handler_without_a_session_or_store_does_nothing() -> None:
    async def user() -> str:
        return "nobody"

    async def go() -> None:
        store = make_store(MemoryKV())
        assert (
            await TransitionHandler(store=store, user_id=user).handle(
                Transition(stream_track(1), 0, 1000)
            )
            is None
        )
        assert (
            await TransitionHandler(store=None, user_id=user).handle(
                Transition(stream_track(1), 0, 1000)
            )
            is None
        )

    run(go())


def test_handler_survives_a_failing_lookup_and_a_failing_user_call() -> None:
    kv = MemoryKV()
    store = make_store(kv)

    async def user() -> str:
        return "user-1"

    async def broken_user() -> str:
        raise RuntimeError("boom")

    async def bpm(track: FinishedTrack) -> float:
        raise RuntimeError("deezer down")

    async def go() -> None:
        await store.save("user-1", with_queue(1))
        handler = TransitionHandler(store=store, user_id=user, bpm=bpm, now_ms=lambda: NOW)
        out = await handler.handle(Transition(stream_track(1), NOW - 190_000, NOW))
        assert out is not None and out.moved and out.session.history[0].bpm is None
        failing = TransitionHandler(store=store, user_id=broken_user)
        assert await failing.handle(Transition(stream_track(2), 0, 1000)) is None

    run(go())


def test_handler_runs_transitions_one_at_a_time_so_none_is_lost() -> None:
    kv = MemoryKV()
    store = make_store(kv)

    async def user() -> str:
        await asyncio.sleep(0)
        return "user-1"

    clock = iter(range(NOW, NOW + 10**9, 20_000))

    async def go() -> None:
        await store.save("user-1", with_queue(1, 2, 3))
        handler = TransitionHandler(store=store, user_id=user, now_ms=lambda: next(clock))
        await asyncio.gather(
            *(handler.handle(Transition(stream_track(n), NOW - 190_000, NOW)) for n in (1, 2, 3))
        )
        saved = await store.load("user-1")
        assert saved is not None
        assert [t.track_id for t in saved.history] == ["q3", "q2", "q1"]
        assert saved.queue == [] and len(saved.signals) == 3

    run(go())


class Count:
    def __init__(self, remaining: int) -> None:
        self.remaining = remaining


def test_handler_skips_work_the_allowance_cannot_pay_for() -> None:
    kv = MemoryKV()
    store = make_store(kv)
    looked: list[str] = []

    async def user() -> str:
        return "user-1"

    async def bpm(track: FinishedTrack) -> float:
        looked.append(track.track_id)
        return 120

    async def go() -> None:
        await store.save("user-1", with_queue(1))
        allowance = Allowance(Count(305), None)
        allowance.polls_left = 300  # 5 spare: enough for /me, not for a BPM lookup
        handler = TransitionHandler(
            store=store, user_id=user, bpm=bpm, allowance=allowance, now_ms=lambda: NOW
        )
        out = await handler.handle(Transition(stream_track(1), NOW - 190_000, NOW))
        assert out is not None and out.moved and out.session.history[0].bpm is None
        allowance.polls_left = 304  # 1 spare: not even /me
        assert await handler.handle(Transition(stream_track(2), 0, 1)) is None
        assert handler.skipped == 1

    run(go())
    assert looked == []
