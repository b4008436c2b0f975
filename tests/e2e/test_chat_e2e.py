"""Chat end to end: the DJ API built by djbuild, on Pyodide under the local host, against the
fake Anthropic and Spotify over real HTTP. Event sequences are compared without `log` events
(those mirror every log line, so their number varies)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx

from fakes.anthropic import Reply, text, thinking, tool_use
from fakes.catalog import PLAYLIST_100
from fakes.spotify import DEV_TOKEN
from tests.e2e.conftest import DJ

URL = "/api/chat-stream/message"
AUTH = {"Authorization": f"Bearer {DEV_TOKEN}"}
ANALYZING = "Analyzing your request..."
NARRATION = "Warming up the decks..."
FIRST = [
    ("thinking", NARRATION),
    ("thinking", ANALYZING),
]


def events_of(raw: str) -> list[tuple[str, Any]]:
    out = []
    for block in raw.split("\n\n"):
        for line in block.split("\n"):
            if line.startswith("data: "):
                obj = json.loads(line[6:])
                out.append((obj["type"], obj["data"]))
    return out


def visible(events: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """Events without `log` and with `debug` payloads reduced to their type."""
    return [(k, None if k == "debug" else d) for k, d in events if k != "log"]


def clear_script(dj: DJ) -> None:
    dj.fakes.anthropic.clear_script()


def post(dj: DJ, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    return dj.http.post(URL, json=body, headers=AUTH if headers is None else headers)


def test_a_full_conversation_with_a_tool_streams_the_exact_sequence(dj: DJ) -> None:
    clear_script(dj)
    since = len(dj.logs())
    dj.fakes.anthropic.script(
        Reply([text(NARRATION)]),
        Reply(
            [
                thinking("plan"),
                text("Let me search."),
                tool_use("search_spotify_tracks", {"query": "disco", "limit": 2}),
            ],
            chunk=64,
        ),
        Reply([text("Here are two disco tracks.")], chunk=64),
    )
    r = post(dj, {"message": "Some disco please", "mode": "create"})
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/event-stream"
    assert r.headers["cache-control"] == "no-cache, no-transform"
    events = events_of(r.text)
    seq = visible(events)
    start = {"tool": "search_spotify_tracks", "args": {"query": "disco", "limit": 2}}
    assert seq == [
        ("debug", None),
        ("debug", None),
        FIRST[0],
        ("debug", None),
        FIRST[1],
        ("content", "Let me search."),
        ("thinking", "Using Spotify tools..."),
        ("tool_start", start),
        ("tool_end", {"tool": "search_spotify_tracks", "result": "Found 2 tracks"}),
        ("thinking", "Preparing response..."),
        ("content", "Here are two disco tracks."),
        ("done", None),
    ]
    assert any(k == "log" for k, _ in events)
    sent = dj.fakes.anthropic.requests
    assert [q["model"] for q in sent] == [
        "claude-haiku-4-5",
        "claude-sonnet-4-6",
        "claude-sonnet-4-6",
    ]
    result = sent[2]["messages"][2]["content"][0]
    assert [t["name"] for t in json.loads(result["content"])]
    assert DEV_TOKEN not in r.text and "fake-anthropic-api-key" not in r.text
    worker_logs = "\n".join(dj.logs(since))
    assert "anthropic" in worker_logs
    assert DEV_TOKEN not in worker_logs and "fake-anthropic-api-key" not in worker_logs


def test_text_only_error_mid_stream_and_overloaded_each_end_with_done(dj: DJ) -> None:
    clear_script(dj)
    dj.fakes.anthropic.script(Reply([text(NARRATION)]), Reply([text("Just words.")], chunk=64))
    seq = visible(events_of(post(dj, {"message": "hi"}).text))
    assert seq == [
        ("debug", None),
        ("debug", None),
        FIRST[0],
        ("debug", None),
        FIRST[1],
        ("content", "Just words."),
        ("done", None),
    ]

    dj.fakes.anthropic.script(
        Reply([text(NARRATION)]), Reply([text("abcdefgh")], chunk=4, error_after=1)
    )
    seq = visible(events_of(post(dj, {"message": "hi"}).text))
    assert seq[-3:] == [
        ("content", "abcd"),
        ("error", "Claude API failed: Overloaded"),
        ("done", None),
    ]

    dj.fakes.anthropic.script(Reply([text(NARRATION)]), *[Reply.overloaded()] * 3)
    seq = visible(events_of(post(dj, {"message": "hi"}).text))
    assert seq[-2:] == [("error", "Claude API failed: Overloaded"), ("done", None)]
    assert "content" not in [k for k, _ in seq]


def test_validation_and_auth_problems_are_reported_in_the_stream(dj: DJ) -> None:
    clear_script(dj)
    r = dj.http.post(URL, content=b"{not json", headers=AUTH)
    assert r.status_code == 400 and r.text == "Invalid JSON"

    long = "z" * 2001
    r = post(dj, {"message": long})
    seq = visible(events_of(r.text))
    assert [k for k, _ in seq] == ["debug", "error", "done"]
    assert json.loads(seq[1][1])[0]["path"] == ["message"]
    assert long not in r.text

    r = post(dj, {"message": "hi"}, headers={})
    seq = visible(events_of(r.text))
    assert seq[-2:] == [
        ("error", "Unauthorized - Missing or invalid Authorization header"),
        ("done", None),
    ]
    assert dj.fakes.anthropic.calls_to("messages") == []


def test_the_turn_limit_holds_on_the_worker(dj: DJ) -> None:
    clear_script(dj)
    dj.fakes.anthropic.script(
        Reply([text(NARRATION)]),
        *[Reply([tool_use("get_queue", {})], json_pieces=1) for _ in range(2)],
        *[
            Reply([tool_use("search_spotify_tracks", {"query": f"q{i}", "limit": 1})])
            for i in range(4)
        ],
        Reply([text("All done.")]),
    )
    seq = visible(events_of(post(dj, {"message": "go"}).text))
    assert sum(1 for k, _ in seq if k == "tool_start") == 5
    assert ("thinking", "Preparing final response...") in seq
    assert seq[-2:] == [("content", "All done."), ("done", None)]
    assert dj.fakes.anthropic.pending == 0


async def test_a_client_disconnect_stops_anthropic_and_spotify_calls(dj: DJ) -> None:
    clear_script(dj)
    dj.fakes.anthropic.script(
        Reply([text(NARRATION)]),
        Reply(
            [
                text("Looking now, one moment please. " * 4),
                tool_use("search_spotify_tracks", {"query": "slow"}),
            ],
            chunk=8,
            event_delay=0.05,
        ),
        Reply([text("never requested")]),
    )
    async with httpx.AsyncClient(base_url=dj.url, timeout=20) as client:
        async with client.stream("POST", URL, json={"message": "hi"}, headers=AUTH) as r:
            buffer = b""
            async for chunk in r.aiter_raw():
                buffer += chunk
                if b'"type":"content"' in buffer:
                    break
        closed_at = time.time()
    await asyncio.sleep(2.0)
    messages = dj.fakes.anthropic.calls_to("messages")
    assert len(messages) == 2  # narrator + the first turn; no follow-up after the disconnect
    assert dj.fakes.spotify.calls_to("search") == []
    assert dj.fakes.anthropic.pending == 1
    assert closed_at > 0


async def test_heartbeats_keep_a_slow_answer_alive(dj: DJ) -> None:
    clear_script(dj)
    dj.fakes.anthropic.script(
        Reply([text(NARRATION)]), Reply([text("slow " * 8)], chunk=5, event_delay=0.25)
    )
    async with httpx.AsyncClient(base_url=dj.url, timeout=20) as client:
        r = await client.post(URL, json={"message": "hi"}, headers=AUTH)
    assert r.text.count(": heartbeat") >= 2
    assert events_of(r.text)[-1] == ("done", None)


async def test_analysis_progress_reaches_the_client_while_the_tool_runs(dj: DJ) -> None:
    clear_script(dj)
    playlist = dj.fakes.spotify.catalog.playlist_by_name(PLAYLIST_100)
    main = [
        Reply([tool_use("analyze_playlist", {})]),
        Reply([text("Your playlist is analysed.")], chunk=64),
    ]
    original = dj.fakes.anthropic.responder

    def responder(body: dict[str, Any]) -> Reply:
        if body.get("max_tokens") == 100:  # the narrator
            # a slow narrator keeps the analysis running for a while even when every track is
            # already cached, so "arrived while the tool ran" can be told from "arrived at the end"
            time.sleep(0.6)
            return Reply([text("Narrated step.")])
        return main.pop(0)

    dj.fakes.anthropic.responder = responder
    arrivals: list[tuple[float, str, Any]] = []
    body = {"message": f"[Playlist ID: {playlist.id}] Analyze it"}
    try:
        async with httpx.AsyncClient(base_url=dj.url, timeout=60) as client:
            async with client.stream("POST", URL, json=body, headers=AUTH) as r:
                buffer = b""
                async for chunk in r.aiter_raw():
                    buffer += chunk
                    while b"\n\n" in buffer:
                        block, _, buffer = buffer.partition(b"\n\n")
                        if block.startswith(b"data: "):
                            obj = json.loads(block[6:])
                            arrivals.append((time.time(), obj["type"], obj["data"]))
    finally:
        dj.fakes.anthropic.responder = original
    seq = [(k, d) for _, k, d in arrivals if k not in ("log", "debug")]
    start = seq.index(
        ("tool_start", {"tool": "analyze_playlist", "args": {"playlist_id": playlist.id}})
    )
    end = next(i for i, (k, _) in enumerate(seq) if k == "tool_end")
    progress = [d for k, d in seq[start:end] if k == "thinking"]
    assert progress[0].startswith('Analyzing "')
    assert any(line.startswith("Checking Deezer") for line in progress)
    assert "Narrated step." in progress
    assert seq[end][1]["result"].startswith("Analyzed 100 tracks")
    assert seq[-2:] == [("content", "Your playlist is analysed."), ("done", None)]
    first_progress = next(t for t, k, d in arrivals if k == "thinking" and d == progress[0])
    tool_end_at = next(t for t, k, _ in arrivals if k == "tool_end")
    assert tool_end_at - first_progress > 0.5  # it arrived while the analysis was running


def test_the_offline_demo_chats_with_the_fakes_default_responder(dj: DJ) -> None:
    clear_script(dj)
    r = post(dj, {"message": "what is playing right now?", "mode": "dj"})
    seq = visible(events_of(r.text))
    assert [d["tool"] for k, d in seq if k == "tool_start"] == ["get_now_playing"]
    answer = "".join(d for k, d in seq if k == "content")
    assert "offline demo" in answer
    assert "Let me check that for you.\n\n" in answer
    assert "Nothing is playing right now." in answer or 'Now playing: "' in answer
    assert "{" not in answer
    assert seq[-1] == ("done", None)
