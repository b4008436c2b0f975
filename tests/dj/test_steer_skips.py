"""A steer's own restart of playback is not the listener's skip (the three-skips rule).

The steer stream plays its new queue; the player stream then sees the old track give way to
the new one. Counted as a skip, that change (after two real skips) cleared the queue the steer
had just built.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from dj.mix_rules import add_signal, make_signal
from dj.models.mix import MixSession
from dj.player_stream import Transition
from dj.player_transitions import (
    STEER_WINDOW_MS,
    TransitionHandler,
    apply_transition,
    steer_marker,
)
from fakes import FakeSuite, start_all
from runtime import records
from runtime.kv import KVStore, MixSessionStore
from tests.dj.factories import T0_MS, queued, session
from tests.dj.test_mix_service import KEY, make
from tests.dj.test_player_stream_transitions import finished, stream_track

NOW = T0_MS + 3_600_000


def two_skips_then(s: MixSession) -> MixSession:
    for n, at in ((1, NOW - 60_000), (2, NOW - 40_000)):
        s = add_signal(
            s, make_signal(track_id=f"x{n}", listen_ms=1_000, duration_ms=200_000, now_ms=at)
        )
    return s


def steered(*ns: int, at: int = NOW - 2_000) -> MixSession:
    """Two skips, then a steer that queued `ns` and started playing the first."""
    s = two_skips_then(session(queue=[queued(n, position=i) for i, n in enumerate(ns)]))
    return add_signal(s, steer_marker(f"q{ns[0]}", at))


def test_the_change_a_steer_started_is_not_a_skip_and_keeps_the_queue() -> None:
    out = apply_transition(
        steered(5, 6), finished(9), listen_ms=2_000, now_ms=NOW, next_track_id="q5"
    )
    assert out.signal is not None and out.signal.type == "steer"
    assert not out.queue_cleared
    assert [t.track_id for t in out.session.queue] == ["q5", "q6"]
    assert out.session.taste_model is None  # the listener did not judge the cut track


def test_without_the_marker_the_same_change_is_the_third_skip() -> None:
    s = two_skips_then(session(queue=[queued(5, position=0), queued(6, position=1)]))
    out = apply_transition(s, finished(9), listen_ms=2_000, now_ms=NOW, next_track_id="q5")
    assert out.signal is not None and out.signal.type == "skipped" and out.queue_cleared


def test_a_steer_also_restarts_the_skip_count() -> None:
    s = apply_transition(
        steered(5, 6, 7), finished(9), listen_ms=2_000, now_ms=NOW, next_track_id="q5"
    ).session
    # the listener skips two of the new tracks: two skips, not four
    for n, at in ((5, NOW + 5_000), (6, NOW + 10_000)):
        out = apply_transition(
            s, finished(n), listen_ms=4_000, now_ms=at, next_track_id=f"q{n + 1}"
        )
        assert out.signal is not None and out.signal.type == "skipped"
        assert not out.queue_cleared
        s = out.session
    assert [t.track_id for t in s.queue] == ["q7"]


def test_a_marker_for_another_track_or_too_old_does_not_excuse_a_skip() -> None:
    other = apply_transition(
        steered(5, 6), finished(9), listen_ms=2_000, now_ms=NOW, next_track_id="q6"
    )
    assert other.signal is not None and other.signal.type == "skipped"
    old = apply_transition(
        steered(5, 6, at=NOW - STEER_WINDOW_MS - 1),
        finished(9),
        listen_ms=2_000,
        now_ms=NOW,
        next_track_id="q5",
    )
    assert old.signal is not None and old.signal.type == "skipped"


def test_the_stream_reports_the_track_that_took_over() -> None:
    from dj.player_stream import DeltaEngine, Snapshot, idle_snapshot

    engine = DeltaEngine(opened_ms=NOW - 10_000)
    base = idle_snapshot(NOW)

    def playing(n: int, at: int) -> Snapshot:
        return Snapshot(stream_track(n), base.device, True, False, "off", "track", 0, at, None)

    engine.observe(playing(1, NOW - 5_000))
    seen = engine.observe(playing(2, NOW))
    assert seen.transition is not None
    assert seen.transition.track.id == "q1"
    assert seen.transition.next_track is not None and seen.transition.next_track.id == "q2"


# -- through the steer stream and the transition handler --------------------------------------


@pytest.fixture(scope="module")
def suite() -> Iterator[FakeSuite]:
    fakes = start_all(musicbrainz_rate=None)
    yield fakes
    fakes.stop()


async def test_after_a_steer_the_player_streams_transition_leaves_the_new_queue(
    suite: FakeSuite,
) -> None:
    h = make(suite)
    suite.spotify.start_playback([suite.spotify.catalog.tracks[40].id])
    assert (await h.post("/api/mix/start", {})).status == 200
    stored = h.stored()
    assert stored is not None
    # the listener skipped twice before steering
    for n in (1, 2):
        stored["signals"].append(
            {
                "trackId": f"x{n}",
                "type": "skipped",
                "listenDuration": 1_000,
                "trackDuration": 200_000,
                "timestamp": stored["signals"][-1]["timestamp"] + 1 if stored["signals"] else n,
            }
        )
    h.kv.data[KEY] = (json.dumps(stored), *h.kv.data[KEY][1:])

    # Claude: the new vibe, two progress lines, then the new queue's tracks
    suite.anthropic.script(
        '{"energyLevel": 8}', "Turning it up", "Finding louder tracks", h.catalog_reply(5)
    )
    r = await h.post("/api/mix/vibe/steer-stream", {"direction": "lift it up"})
    assert r.status == 200 and '"type":"done"' in r.text.replace(" ", ""), r.text
    after = MixSession.model_validate(h.stored())
    assert after.queue, r.text
    first = after.queue[0]
    assert after.signals[-1].type == "steer" and after.signals[-1].track_id == first.track_id

    # the player stream sees the old track give way to the steer's first track
    store = MixSessionStore(KVStore(h.kv, name="MIX_SESSIONS"), MixSession)

    async def user() -> str:
        return "fakeuser"

    handler = TransitionHandler(store=store, user_id=user)
    old = stream_track(40)
    new = records.replace(stream_track(0), id=first.track_id, uri=first.track_uri)
    now = after.signals[-1].timestamp + 1_500
    handler.now_ms = lambda: now
    outcome = await handler.handle(Transition(old, now - 3_000, now, next_track=new))
    assert outcome is not None and outcome.signal is not None
    assert outcome.signal.type == "steer" and not outcome.queue_cleared
    saved = await store.load("fakeuser")
    assert saved is not None and [t.track_id for t in saved.queue] == [
        t.track_id for t in after.queue
    ]
