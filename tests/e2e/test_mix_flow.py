"""A whole mix against the fakes, and the steer stream's exact event sequence, on the host."""

from __future__ import annotations

import json
import time
from typing import Any

from fakes.anthropic import Reply, text, thinking
from tests.e2e.conftest import DJ, auth


def claude_tracks(dj: DJ, indexes: list[int]) -> Reply:
    cat = dj.fakes.spotify.catalog
    tracks = [
        {
            "artist": cat.artists[cat.tracks[i].artist_ids[0]].name,
            "name": cat.tracks[i].name,
            "reason": f"pick {i}",
        }
        for i in indexes
    ]
    return Reply([text(json.dumps({"tracks": tracks}))])


def events_of(body: str) -> list[tuple[str, Any]]:
    out = []
    for block in body.split("\n\n"):
        if not block.strip():
            continue
        assert block.startswith("data: "), block
        obj = json.loads(block[len("data: ") :])
        assert list(obj) == ["data", "type"]
        out.append((obj["type"], obj["data"]))
    return out


def wait_for(predicate: Any, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def test_a_whole_mix_start_suggest_play_steer_save_end(fresh: DJ) -> None:
    dj = fresh
    h = auth(dj)
    cat = dj.fakes.spotify.catalog
    spotify = dj.fakes.spotify
    spotify.start_playback(track_ids=[cat.tracks[60].id])

    # start: seeded, auto-filled to five, each addition mirrored to Spotify's queue
    dj.fakes.anthropic.script(claude_tracks(dj, [0, 1, 2, 3, 4, 5, 6, 7]))
    session = dj.http.post("/api/mix/start", headers=h, json={}).json()["session"]
    queue = session["queue"]
    assert len(queue) == 5
    assert [c.q("uri") for c in spotify.calls_to("queue_add")] == [t["trackUri"] for t in queue]

    # suggestions: read only
    dj.fakes.anthropic.script(claude_tracks(dj, [8, 9, 10]))
    suggested = dj.http.get("/api/mix/suggestions?count=3", headers=h).json()["suggestions"]
    assert len(suggested) == 3
    assert dj.http.get("/api/mix/queue", headers=h).json()["queue"] == queue

    # the first queued track plays: history, then a background refill back to five
    first = queue[0]
    spotify.reset_calls()
    dj.fakes.anthropic.script(claude_tracks(dj, [20, 21, 22, 23]))
    played = dj.http.post(
        "/api/mix/playback/track-played",
        headers=h,
        json={"trackId": first["trackId"], "trackUri": first["trackUri"]},
    )
    body = played.json()
    assert body["movedToHistory"] is True
    assert body["session"]["history"][0]["trackUri"] == first["trackUri"]
    assert len(body["session"]["queue"]) == 4
    refilled = wait_for(
        lambda: (
            (q := dj.http.get("/api/mix/queue", headers=h).json()["queue"]) and len(q) == 5 and q
        )
    )
    assert refilled[-1]["addedBy"] == "ai"
    assert first["trackUri"] not in {t["trackUri"] for t in refilled}

    # steer: preset, queue rebuilt, vibe stored
    steered = dj.http.post("/api/mix/vibe/steer", headers=h, json={"direction": "chill out"})
    assert steered.status_code == 200
    assert steered.json()["vibe"]["energyDirection"] == "winding_down"
    assert dj.http.get("/api/mix/vibe", headers=h).json()["vibe"] == steered.json()["vibe"]

    # save: history (oldest first) then the queue
    saved = dj.http.post("/api/mix/save", headers=h, json={"name": "Flow"}).json()
    current = dj.http.get("/api/mix/current", headers=h).json()["session"]
    expected = [t["trackUri"] for t in reversed(current["history"])] + [
        t["trackUri"] for t in current["queue"]
    ]
    playlist = spotify.playlists[saved["playlistId"]]
    assert [f"spotify:track:{e.track_id}" for e in playlist.entries] == expected
    assert saved["trackCount"] == len(expected)

    # end
    ended = dj.http.delete("/api/mix/end", headers=h)
    assert ended.status_code == 200
    assert ended.json()["tracksPlayed"] == 1
    assert dj.http.get("/api/mix/current", headers=h).json() == {"session": None}


def test_steer_stream_sends_the_exact_event_sequence(fresh: DJ) -> None:
    dj = fresh
    h = auth(dj)
    dj.fakes.spotify.start_playback(track_ids=[dj.fakes.spotify.catalog.tracks[60].id])
    dj.http.post(
        "/api/mix/start",
        headers=h,
        json={"preferences": {"autoFill": True}, "seedPlaylistId": "none"},
    )
    long_thought = "The listener wants it darker. " * 30
    dj.fakes.anthropic.script(
        Reply(
            [
                thinking(long_thought),
                thinking("Short second thought."),
                text(
                    '{"energyLevel": 3, "energyDirection": "winding_down", '
                    '"genres": ["ambient", "trip hop"]}'
                ),
            ]
        ),
        "Dimming the lights a little.",
        "Pulling moody records from the crates.",
        claude_tracks(dj, [30, 31, 32, 33, 34, 35, 36, 37]),
    )
    r = dj.http.post("/api/mix/vibe/steer-stream", headers=h, json={"direction": "darker"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    events = events_of(r.text)
    types = [t for t, _ in events]
    assert types == [
        "ack",
        "progress",
        "thinking",
        "thinking",
        "vibe_update",
        "progress",
        "progress",
        *["queue_update"] * 5,
        "progress",
        "suggestions",
        "done",
    ]
    data = [d for _, d in events]
    assert data[0] == {"direction": "darker", "message": 'Got it! Steering towards "darker"...'}
    assert data[1]["stage"] == "analyzing"
    assert data[2]["preview"] == long_thought[:500] + "..."
    assert data[3]["preview"] == "Short second thought."
    assert data[4]["changes"] == [
        "Energy: 5/10 → 3/10",
        "Direction: steady → winding_down",
        "Genres: ambient, trip hop",
    ]
    assert data[5] == {"message": "Dimming the lights a little.", "stage": "adjusting"}
    assert data[6] == {"message": "Pulling moody records from the crates.", "stage": "building"}
    assert [d["queueSize"] for d in data[7:12]] == [1, 2, 3, 4, 5]
    assert data[12] == {"message": "Starting your new mix...", "stage": "playing"}
    assert data[13] == {"count": 5}
    done = data[14]
    assert done["message"] == "Vibes adjusted! 5 new tracks in your queue."
    assert done["vibe"]["energyLevel"] == 3
    assert [t["trackUri"] for t in done["queue"]] == [d["track"]["trackUri"] for d in data[7:12]]
    # saved, and playback restarted with the new queue
    stored = dj.http.get("/api/mix/current", headers=h).json()["session"]
    assert stored["vibe"] == done["vibe"] and stored["queue"] == done["queue"]
    (play,) = dj.fakes.spotify.calls_to("play")
    assert json.loads(play.body)["uris"] == [t["trackUri"] for t in done["queue"]]
    models = [req["model"] for req in dj.fakes.anthropic.requests[-4:]]
    assert models == [
        "claude-sonnet-4-6",
        "claude-haiku-4-5",
        "claude-haiku-4-5",
        "claude-sonnet-4-6",
    ]
    interpret = dj.fakes.anthropic.requests[-4]
    assert interpret["thinking"]["budget_tokens"] < interpret["max_tokens"]


def test_steer_stream_without_a_device_skips_the_playing_progress(fresh: DJ) -> None:
    dj = fresh
    h = auth(dj)
    dj.http.post("/api/mix/start", headers=h, json={"preferences": {"autoFill": False}})
    dj.fakes.anthropic.script(
        '{"energyLevel": 8}',
        "Line one.",
        "Line two.",
        claude_tracks(dj, [40, 41, 42, 43, 44, 45, 46, 47]),
    )
    events = events_of(
        dj.http.post("/api/mix/vibe/steer-stream", headers=h, json={"direction": "lift it"}).text
    )
    types = [t for t, _ in events]
    assert types == [
        "ack",
        "progress",
        "vibe_update",
        "progress",
        "progress",
        "suggestions",
        "done",
    ]  # autoFill off: the vibe changes, the queue stays empty
    assert events[-1][1]["message"] == "Vibes adjusted! 0 new tracks in your queue."
    stored = dj.http.get("/api/mix/vibe", headers=h).json()["vibe"]
    assert stored["energyLevel"] == 8  # saved although no tracks were added (§12.6)


def test_steer_stream_reports_a_failed_interpretation_as_error_without_done(fresh: DJ) -> None:
    dj = fresh
    h = auth(dj)
    dj.http.post("/api/mix/start", headers=h, json={"preferences": {"autoFill": False}})
    before = dj.http.get("/api/mix/vibe", headers=h).json()
    dj.fakes.anthropic.script(Reply(status=400, error_type="invalid_request_error"))
    events = events_of(
        dj.http.post("/api/mix/vibe/steer-stream", headers=h, json={"direction": "x"}).text
    )
    assert [t for t, _ in events] == ["ack", "progress", "error"]
    assert events[-1][1] == {"message": "Could not work out how to steer the mix"}
    assert dj.http.get("/api/mix/vibe", headers=h).json() == before


def test_steer_stream_pre_checks_answer_json(fresh: DJ) -> None:
    dj = fresh
    r = dj.http.post("/api/mix/vibe/steer-stream", headers=auth(dj), json={"direction": ""})
    assert r.status_code == 400 and r.json() == {"error": "Invalid request"}
    r = dj.http.post("/api/mix/vibe/steer-stream", headers=auth(dj), json={"direction": "x"})
    assert r.status_code == 404 and r.json() == {"error": "No active session"}


def test_secrets_stay_out_of_the_logs(fresh: DJ) -> None:
    dj = fresh
    since = len(dj.logs())
    token = dj.fakes.spotify.issue_token()
    dj.http.post(
        "/api/mix/start",
        headers={"Authorization": f"Bearer {token}"},
        json={"preferences": {"autoFill": False}},
    )
    dj.fakes.anthropic.script('{"energyLevel": 4}')
    dj.http.post(
        "/api/mix/vibe/steer",
        headers={"Authorization": f"Bearer {token}"},
        json={"direction": "calm but curious"},
    )
    text_logs = "\n".join(dj.logs(since))
    assert token not in text_logs
    assert dj.fakes.anthropic.api_keys.isdisjoint({w for w in text_logs.split()})
    assert "fake-anthropic-api-key" not in text_logs


def test_offline_demo_mix_works_with_the_fakes_default_claude(fresh: DJ) -> None:
    """No scripted replies: what a newcomer running `python3 tasks.py dev` gets."""
    dj = fresh
    h = auth(dj)
    session = dj.http.post("/api/mix/start", headers=h, json={}).json()["session"]
    ai_added = [t for t in session["queue"] if t["addedBy"] == "ai"]
    assert len(session["queue"]) == 5 and ai_added
    prompts = [str(r["messages"]) for r in dj.fakes.anthropic.requests]
    assert any('"tracks"' in p for p in prompts), "auto-fill asked Claude for tracks"

    r = dj.http.post(
        "/api/mix/vibe/steer-stream",
        headers=h,
        json={"direction": "something to dance to at sunrise"},
    )
    events = events_of(r.text)
    kinds = [k for k, _ in events]
    assert kinds[0] == "ack" and kinds[-1] == "done"
    vibe = dict(events)["vibe_update"]["vibe"]
    assert vibe["energyLevel"] == 8 and vibe["energyDirection"] == "building"
    lines = [d["message"] for k, d in events if k == "progress"]
    assert "Shaping the mix around your request" in lines
