"""The player stream engine without I/O: parsing, diffing, seq numbering, errors, transitions."""

from __future__ import annotations

from typing import Any

import pytest

from dj.mix_rules import classify_signal
from dj.player_stream import (
    AUTH_EXPIRED_MESSAGE,
    CONNECTED_MESSAGE,
    TOO_MANY_ERRORS_MESSAGE,
    Allowance,
    DeltaEngine,
    InvalidPlayback,
    Snapshot,
    parse_playback,
)

T0 = 1_767_225_600_000


def item(n: int, *, duration: int = 200_000, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"track{n}",
        "uri": f"spotify:track:track{n}",
        "name": f"Song {n}",
        "duration_ms": duration,
        "explicit": False,
        "is_local": False,
        "artists": [{"name": f"Artist {n}"}, {"name": "Guest"}],
        "album": {"name": f"Album {n}", "images": [{"url": f"https://img/{n}"}]},
        "external_ids": {"isrc": f"ISRC{n:04d}"},
        **extra,
    }


def device(n: int = 1, volume: int | None = 50, kind: str = "Computer") -> dict[str, Any]:
    return {
        "id": f"dev{n}",
        "name": f"Device {n}",
        "type": kind,
        "volume_percent": volume,
        "supports_volume": volume is not None,
        "is_active": True,
        "is_private_session": False,
        "is_restricted": False,
    }


def state(
    n: int | None = 1,
    *,
    playing: bool = True,
    progress: int = 1000,
    dev: dict[str, Any] | None = None,
    shuffle: bool = False,
    repeat: str = "off",
    context: str | None = "spotify:playlist:p1",
) -> dict[str, Any]:
    return {
        "device": dev or device(),
        "is_playing": playing,
        "progress_ms": progress,
        "item": item(n) if n is not None else None,
        "shuffle_state": shuffle,
        "repeat_state": repeat,
        "currently_playing_type": "track" if n is not None else "unknown",
        "context": (
            {"uri": context, "href": "https://api/playlists/p1", "type": context.split(":")[1]}
            if context
            else None
        ),
    }


def snap(data: dict[str, Any] | None, at: int = 0) -> Snapshot:
    return parse_playback(data, T0 + at)


def names(events: list[Any]) -> list[str]:
    return [e.name for e in events]


# -- parsing -------------------------------------------------------------------------------------


def test_parse_maps_spotify_fields_to_the_client_track_shape() -> None:
    s = snap(state(3))
    assert s.track is not None
    assert s.track.payload() == {
        "albumArt": "https://img/3",
        "albumName": "Album 3",
        "artist": "Artist 3, Guest",
        "duration": 200_000,
        "explicit": False,
        "id": "track3",
        "isLocal": False,
        "name": "Song 3",
        "popularity": 0,
        "previewUrl": None,
        "uri": "spotify:track:track3",
    }
    assert s.track.isrc == "ISRC0003"
    assert s.track.first_artist == "Artist 3"


def test_parse_normalises_device_context_and_enums() -> None:
    data = state(1, dev=device(kind="Smartwatch"), repeat="weird")
    data["context"]["type"] = "radio"
    data["currently_playing_type"] = "podcast"
    s = snap(data)
    assert s.device.type == "unknown"
    assert s.repeat == "off"
    assert s.playing_type == "unknown"
    assert s.context is not None and s.context.payload() == {
        "href": "https://api/playlists/p1",
        "name": None,
        "type": "playlist",
        "uri": "spotify:playlist:p1",
    }
    assert snap(state(1, dev=device(kind="Speaker"))).device.type == "speaker"


def test_a_204_becomes_the_idle_state_with_no_active_device() -> None:
    s = snap(None, at=5)
    assert s.track is None and s.is_playing is False and s.timestamp == T0 + 5
    assert s.device.payload() == {
        "id": None,
        "isPrivateSession": False,
        "isRestricted": False,
        "name": "No active device",
        "supportsVolume": False,
        "type": "unknown",
        "volumePercent": None,
    }


def test_a_state_without_device_names_it_unknown() -> None:
    data = state(1)
    del data["device"]
    assert snap(data).device.name == "Unknown"


def test_a_non_object_answer_is_invalid() -> None:
    with pytest.raises(InvalidPlayback):
        parse_playback([1, 2], T0)


# -- the event sequence --------------------------------------------------------------------------


def test_first_poll_sends_init_with_seq_0_and_no_tick() -> None:
    engine = DeltaEngine(opened_ms=T0)
    seen = engine.observe(snap(state(1)))
    assert names(seen.events) == ["init"]
    init = seen.events[0].data
    assert init["seq"] == 0
    assert list(init) == [
        "context",
        "device",
        "isPlaying",
        "modes",
        "playingType",
        "progress",
        "seq",
        "timestamp",
        "track",
    ]
    assert init["modes"] == {"repeat": "off", "shuffle": False}
    assert init["track"]["id"] == "track1"


def test_unchanged_playing_state_sends_only_ticks_without_seq() -> None:
    engine = DeltaEngine(opened_ms=T0)
    engine.observe(snap(state(1)))
    seen = engine.observe(snap(state(1, progress=2000), at=1000))
    assert [(e.name, e.data) for e in seen.events] == [("tick", {"p": 2000, "ts": T0 + 1000})]
    assert engine.seq == 1


def test_paused_and_unchanged_sends_nothing() -> None:
    engine = DeltaEngine(opened_ms=T0)
    engine.observe(snap(state(1, playing=False)))
    assert engine.observe(snap(state(1, playing=False), at=1000)).events == []


def test_each_change_gets_its_event_in_protocol_order_with_increasing_seq() -> None:
    engine = DeltaEngine(opened_ms=T0)
    engine.observe(snap(state(1)))
    changed = state(
        2, playing=False, dev=device(2, volume=30), shuffle=True, context="spotify:album:a9"
    )
    seen = engine.observe(snap(changed, at=1000))
    assert names(seen.events) == ["track", "state", "device", "modes", "context"]
    assert [e.data["seq"] for e in seen.events] == [1, 2, 3, 4, 5]
    assert seen.events[1].data == {"isPlaying": False, "seq": 2}
    assert seen.events[2].data["name"] == "Device 2" and seen.events[2].data["volumePercent"] == 30
    assert seen.events[3].data == {"repeat": "off", "shuffle": True, "seq": 4}
    assert seen.events[4].data["context"]["type"] == "album"


def test_volume_alone_sends_volume_but_a_device_switch_does_not() -> None:
    engine = DeltaEngine(opened_ms=T0)
    engine.observe(snap(state(1)))
    seen = engine.observe(snap(state(1, dev=device(1, volume=80)), at=1000))
    assert [(e.name, e.data) for e in seen.events if e.name != "tick"] == [
        ("volume", {"percent": 80, "seq": 1})
    ]
    seen = engine.observe(snap(state(1, dev=device(2, volume=10)), at=2000))
    assert names(seen.events) == ["device", "tick"]


def test_a_volume_that_disappears_is_sent_as_0() -> None:
    engine = DeltaEngine(opened_ms=T0)
    engine.observe(snap(state(1)))
    seen = engine.observe(snap(state(1, dev=device(1, volume=None)), at=1000))
    assert seen.events[0].data == {"percent": 0, "seq": 1}


def test_context_to_none_sends_context_null() -> None:
    engine = DeltaEngine(opened_ms=T0)
    engine.observe(snap(state(1)))
    seen = engine.observe(snap(state(1, context=None), at=1000))
    assert seen.events[0].data == {"context": None, "seq": 1}


def test_going_idle_sends_idle_once_and_coming_back_sends_init() -> None:
    engine = DeltaEngine(opened_ms=T0)
    engine.observe(snap(state(1)))
    assert [(e.name, e.data) for e in engine.observe(snap(None, 1000)).events] == [
        ("idle", {"seq": 1})
    ]
    assert engine.observe(snap(None, 2000)).events == []
    back = engine.observe(snap(state(4), 3000))
    assert names(back.events) == ["init"]
    assert back.events[0].data["seq"] == 2 and back.events[0].data["track"]["id"] == "track4"
    assert back.transition is None


def test_a_stream_that_starts_idle_sends_an_idle_init() -> None:
    engine = DeltaEngine(opened_ms=T0)
    seen = engine.observe(snap(None))
    assert names(seen.events) == ["init"]
    assert seen.events[0].data["track"] is None
    assert seen.events[0].data["device"]["name"] == "No active device"


def test_two_local_files_without_ids_are_told_apart_by_uri() -> None:
    engine = DeltaEngine(opened_ms=T0)
    a, b = state(1), state(1)
    a["item"].update(id=None, uri="spotify:local:a", is_local=True)
    b["item"].update(id=None, uri="spotify:local:b", is_local=True)
    engine.observe(snap(a))
    assert names(engine.observe(snap(b, 1000)).events)[0] == "track"


# -- errors ---------------------------------------------------------------------------------------


def test_five_consecutive_errors_count_down_then_close() -> None:
    engine = DeltaEngine(opened_ms=T0)
    out = [engine.failure("Spotify API error: 500") for _ in range(5)]
    assert [e.data["retriesRemaining"] for e, _ in out] == [4, 3, 2, 1, 0]
    assert [fatal for _, fatal in out] == [False, False, False, False, True]
    assert out[0][0].data["message"] == "Spotify API error: 500"
    assert out[4][0].data["message"] == TOO_MANY_ERRORS_MESSAGE
    assert all("seq" not in e.data for e, _ in out)


def test_a_successful_poll_resets_the_error_count() -> None:
    engine = DeltaEngine(opened_ms=T0)
    for _ in range(4):
        engine.failure("x")
    engine.observe(snap(state(1)))
    event, fatal = engine.failure("x")
    assert event.data["retriesRemaining"] == 4 and not fatal


def test_fixed_events_have_the_reference_payloads() -> None:
    assert DeltaEngine.connected(1000).data == {
        "message": CONNECTED_MESSAGE,
        "pollingInterval": 1000,
    }
    assert DeltaEngine.auth_expired().data == {"message": AUTH_EXPIRED_MESSAGE}
    assert DeltaEngine.reconnect().data == {"message": "Stream lifetime exceeded"}


def test_queue_low_takes_the_next_seq() -> None:
    engine = DeltaEngine(opened_ms=T0)
    engine.observe(snap(state(1)))
    assert engine.queue_low(2).data == {"depth": 2, "seq": 1}
    assert engine.observe(snap(state(2), 1000)).events[0].data["seq"] == 2


def test_a_queue_check_is_due_every_tenth_active_poll() -> None:
    engine = DeltaEngine(opened_ms=T0)
    engine.observe(snap(state(1)))
    due = [engine.observe(snap(state(1), i * 1000)).check_queue for i in range(1, 31)]
    assert [i + 1 for i, d in enumerate(due) if d] == [10, 20, 30]


# -- transitions over a timeline -----------------------------------------------------------------


def run_timeline(steps: list[tuple[int, dict[str, Any] | None]]) -> list[Any]:
    """(ms since the stream opened, state) polls -> the transitions reported."""
    engine = DeltaEngine(opened_ms=T0)
    found = []
    for at, data in steps:
        seen = engine.observe(snap(data, at))
        if seen.transition is not None:
            found.append(seen.transition)
    return found


def test_signals_over_a_timeline_completed_skipped_partial() -> None:
    # track1 (200 s) from the stream's start to 170 s: 85 % -> completed;
    # track2 heard 10 s -> skipped; track3 heard 60 s of 200 -> partial.
    found = run_timeline(
        [
            (0, state(1)),
            (170_000, state(2)),
            (180_000, state(3)),
            (240_000, state(4)),
        ]
    )
    assert [(t.track.id, t.listen_ms) for t in found] == [
        ("track1", 170_000),
        ("track2", 10_000),
        ("track3", 60_000),
    ]
    kinds = [classify_signal(t.listen_ms, t.track.duration) for t in found]
    assert kinds == ["completed", "skipped", "partial"]


def test_the_first_track_is_measured_from_the_stream_opening() -> None:
    engine = DeltaEngine(opened_ms=T0 - 5000)
    engine.observe(snap(state(1)))
    seen = engine.observe(snap(state(2), 20_000))
    assert seen.transition is not None and seen.transition.listen_ms == 25_000


def test_idle_in_between_restarts_the_clock_and_reports_no_transition() -> None:
    found = run_timeline([(0, state(1)), (50_000, None), (100_000, state(2)), (110_000, state(3))])
    assert [(t.track.id, t.listen_ms) for t in found] == [("track2", 10_000)]


# -- the allowance ------------------------------------------------------------------------------


class Count:
    def __init__(self, remaining: int) -> None:
        self.remaining = remaining


def test_allowance_keeps_the_remaining_polls_reserved() -> None:
    allowance = Allowance(Count(310), Count(100))
    allowance.polls_left = 300
    allowance.queue_checks_left = 31
    assert allowance.allows(subrequests=10, kv_ops=6)
    assert not allowance.allows(subrequests=11)
    assert not allowance.allows(kv_ops=70)
    assert allowance.refused == 2
    assert allowance.can_poll()
    assert not Allowance(Count(0)).can_poll()
