"""The chat route in-process on CPython, talking real HTTP to the loopback fakes.

The same app the Worker runs, with `runtime.testing.Client` and an httpx transport: exact
event sequences for each scripted Anthropic case, what the worker sent to Anthropic, and the
in-stream validation and auth errors.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from dj.chat import loop as chat_loop
from dj.chat.session import NO_API_KEY, UNAUTHORIZED
from fakes import FakeSuite, start_all
from fakes.anthropic import DEFAULT_API_KEY, Reply, default_responder, text, thinking, tool_use
from fakes.catalog import PLAYLIST_100
from fakes.spotify import DEV_TOKEN
from routes.app import app
from runtime.platform.local import LocalPlatform
from runtime.testing import Client, Result
from tests.dj.test_chat_support import (
    DEFAULT_NARRATION,
    HttpxTransport,
    chat_body,
    events_of,
    kinds,
    narration,
    without_logs,
)

FIRST = ["debug", "debug", "thinking", "debug", "thinking"]


@pytest.fixture(scope="module")
def suite() -> Iterator[FakeSuite]:
    fakes = start_all(musicbrainz_rate=None)
    yield fakes
    fakes.stop()


@pytest.fixture
def fakes(suite: FakeSuite) -> Iterator[FakeSuite]:
    suite.reset()
    suite.anthropic.clear_script()
    suite.anthropic.responder = default_responder
    yield suite
    suite.anthropic.clear_script()
    suite.anthropic.responder = default_responder


@pytest.fixture
async def client(fakes: FakeSuite) -> AsyncIterator[Client]:
    transport = HttpxTransport()
    c = Client(app, env=dict(fakes.vars, SSE_HEARTBEAT_SECONDS="0"))
    c.platform = LocalPlatform(transport=transport)
    yield c
    await transport.aclose()


async def chat(
    client: Client, body: Any = None, *, token: str | None = DEV_TOKEN, raw: bytes | None = None
) -> Result:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if raw is not None:
        return await client.post("/api/chat-stream/message", content=raw, headers=headers)
    return await client.post(
        "/api/chat-stream/message", json=body if body is not None else chat_body(), headers=headers
    )


def content_of(events: list[tuple[str, Any]]) -> str:
    return "".join(data for kind, data in events if kind == "content")


# -- the scripted cases -------------------------------------------------------------------------


async def test_text_only_answer_streams_content_and_ends_with_done(
    client: Client, fakes: FakeSuite
) -> None:
    fakes.anthropic.script(
        narration(), Reply([text("Disco it is: try Le Freak by Chic.")], chunk=8)
    )
    result = await chat(client)
    assert result.status == 200
    assert result.headers.get("content-type") == "text/event-stream"
    events = events_of(result.body)
    assert kinds(events) == [*FIRST, "content", "content", "content", "content", "content", "done"]
    visible = without_logs(events)
    assert visible[0][1]["requestId"] and visible[0][1]["buildInfo"]["version"] == "1.0.0"
    assert visible[1][1]["messageLength"] == len("Find me some upbeat disco")
    assert visible[1][1]["mode"] == "analyze"
    assert visible[2] == ("thinking", DEFAULT_NARRATION)
    assert visible[3][1] == {
        "hasPlaylistContext": False,
        "playlistId": None,
        "systemPromptLength": visible[3][1]["systemPromptLength"],
    }
    assert visible[4] == ("thinking", chat_loop.ANALYZING)
    assert content_of(events) == "Disco it is: try Le Freak by Chic."
    assert events[-1] == ("done", None)


async def test_first_call_uses_thinking_cached_system_prompt_and_all_tools(
    client: Client, fakes: FakeSuite
) -> None:
    fakes.anthropic.script(narration(), "Hello")
    await chat(client)
    narrator, first = fakes.anthropic.requests
    assert narrator["model"] == "claude-haiku-4-5" and narrator["max_tokens"] == 100
    assert first["model"] == "claude-sonnet-4-6"
    assert first["stream"] is True
    assert first["max_tokens"] == 10_000
    assert first["thinking"] == {"type": "enabled", "budget_tokens": 5_000}
    assert first["temperature"] == 1.0
    assert first["system"][0]["cache_control"] == {"type": "ephemeral"}
    names = [t["name"] for t in first["tools"]]
    assert len(names) == 14 and "get_recommendations" not in names
    assert all(t["input_schema"]["type"] == "object" for t in first["tools"])
    assert first["messages"] == [{"role": "user", "content": "Find me some upbeat disco"}]
    call = fakes.anthropic.calls_to("messages")[1]
    assert call.headers.get("x-api-key") == DEFAULT_API_KEY
    assert call.headers.get("anthropic-version") == "2023-06-01"


async def test_a_tool_call_runs_the_tool_and_sends_its_result_back(
    client: Client, fakes: FakeSuite
) -> None:
    fakes.anthropic.script(
        narration(),
        Reply(
            [
                thinking("search first"),
                text("Let me look."),
                tool_use("search_spotify_tracks", {"query": "disco", "limit": 3}, id="toolu_A"),
            ]
        ),
        Reply([text("Found some great disco.")]),
    )
    result = await chat(client)
    events = events_of(result.body)
    seq = kinds(events, skip=("log", "content"))
    assert seq == [
        *FIRST,
        "thinking",  # Using Spotify tools...
        "tool_start",
        "tool_end",
        "thinking",  # Preparing response...
        "done",
    ]
    visible = without_logs(events)
    start = next(d for k, d in visible if k == "tool_start")
    end = next(d for k, d in visible if k == "tool_end")
    assert start == {"tool": "search_spotify_tracks", "args": {"query": "disco", "limit": 3}}
    assert end["tool"] == "search_spotify_tracks" and end["result"].startswith("Found ")
    assert [d for k, d in visible if k == "thinking"][-2:] == [
        chat_loop.USING_TOOLS,
        chat_loop.PREPARING,
    ]
    assert content_of(events) == "Let me look.Found some great disco."
    second = fakes.anthropic.requests[2]
    assert "thinking" not in second and second["temperature"] == 0.7
    assert second["max_tokens"] == 5_000
    assistant, results = second["messages"][1], second["messages"][2]
    assert assistant["role"] == "assistant"
    assert [b["type"] for b in assistant["content"]] == ["thinking", "text", "tool_use"]
    assert assistant["content"][2]["input"] == {"query": "disco", "limit": 3}
    block = results["content"][0]
    assert block["type"] == "tool_result" and block["tool_use_id"] == "toolu_A"
    tracks = json.loads(block["content"])
    assert 1 <= len(tracks) <= 3 and all(t["uri"].startswith("spotify:track:") for t in tracks)
    assert fakes.spotify.calls_to("search")[0].q("limit") == "3"


async def test_several_turns_run_each_tool_in_order(client: Client, fakes: FakeSuite) -> None:
    fakes.anthropic.script(
        narration(),
        Reply([tool_use("get_now_playing", {}), tool_use("get_queue", {})]),
        Reply([text("Now a search."), tool_use("search_spotify_tracks", {"query": "funk"})]),
        Reply([text("Here you go.")]),
    )
    result = await chat(client)
    events = without_logs(events_of(result.body))
    tools = [(k, d["tool"]) for k, d in events if k in ("tool_start", "tool_end")]
    assert tools == [
        ("tool_start", "get_now_playing"),
        ("tool_end", "get_now_playing"),
        ("tool_start", "get_queue"),
        ("tool_end", "get_queue"),
        ("tool_start", "search_spotify_tracks"),
        ("tool_end", "search_spotify_tracks"),
    ]
    assert content_of(events) == "Now a search.Here you go."
    assert len(fakes.anthropic.requests) == 4
    last = fakes.anthropic.requests[3]["messages"]
    assert [m["role"] for m in last] == ["user", "assistant", "user", "assistant", "user"]
    assert len(last[2]["content"]) == 2  # both results of the first turn, in order
    assert events[-1] == ("done", None)


async def test_three_identical_tool_turns_stop_the_loop_and_ask_for_a_final_answer(
    client: Client, fakes: FakeSuite
) -> None:
    same = {"query": "same thing", "limit": 1}
    fakes.anthropic.script(
        narration(),
        Reply([tool_use("search_spotify_tracks", same)]),
        Reply([tool_use("search_spotify_tracks", same)]),
        Reply([tool_use("search_spotify_tracks", same)]),
        Reply([text("Final words.")]),
    )
    result = await chat(client)
    events = without_logs(events_of(result.body))
    thinking_lines = [d for k, d in events if k == "thinking"]
    assert chat_loop.REPETITIVE in thinking_lines
    assert thinking_lines[-1] == chat_loop.PREPARING_FINAL
    assert sum(1 for k, _ in events if k == "tool_start") == 2  # the third call never ran
    assert content_of(events) == "Final words."
    final = fakes.anthropic.requests[-1]
    assert final["messages"][-1] == {"role": "user", "content": chat_loop.FINAL_REQUEST}
    assert "thinking" not in final  # the last tool turn had no thinking block
    assert events[-1] == ("done", None)


async def test_the_loop_stops_after_five_tool_turns_then_asks_for_the_answer(
    client: Client, fakes: FakeSuite
) -> None:
    fakes.anthropic.script(
        narration(),
        *[
            Reply([tool_use("search_spotify_tracks", {"query": f"q{i}", "limit": 1})])
            for i in range(6)
        ],
        Reply([text("Done after five.")]),
    )
    result = await chat(client)
    events = without_logs(events_of(result.body))
    assert sum(1 for k, _ in events if k == "tool_start") == 5
    assert content_of(events) == "Done after five."
    assert len(fakes.anthropic.requests) == 1 + 6 + 1  # narrator, first + 5 follow-ups, final
    assert fakes.anthropic.pending == 0
    assert events[-1] == ("done", None)


async def test_an_error_event_mid_stream_in_the_first_call_is_reported_then_done(
    client: Client, fakes: FakeSuite
) -> None:
    fakes.anthropic.script(
        narration(), Reply([text("This will break off in the middle")], chunk=4, error_after=2)
    )
    result = await chat(client)
    events = without_logs(events_of(result.body))
    assert [k for k, _ in events] == [*FIRST, "content", "content", "error", "done"]
    assert events[-2] == ("error", "Claude API failed: Overloaded")


async def test_an_overloaded_answer_is_retried_and_the_chat_goes_on(
    client: Client, fakes: FakeSuite
) -> None:
    fakes.anthropic.script(narration(), Reply.overloaded(), "Back again.")
    result = await chat(client)
    events = without_logs(events_of(result.body))
    assert [k for k, _ in events] == [*FIRST, "content", "done"]
    assert content_of(events) == "Back again."
    assert len(fakes.anthropic.calls_to("messages")) == 3


async def test_overloaded_on_every_attempt_ends_with_an_error_event(
    client: Client, fakes: FakeSuite
) -> None:
    fakes.anthropic.script(narration(), Reply.overloaded(), Reply.overloaded(), Reply.overloaded())
    result = await chat(client)
    events = without_logs(events_of(result.body))
    assert [k for k, _ in events] == [*FIRST, "error", "done"]
    assert events[-2] == ("error", "Claude API failed: Overloaded")
    assert len(fakes.anthropic.calls_to("messages")) == 4  # narrator + 3 attempts


async def test_a_follow_up_that_breaks_off_without_text_goes_to_the_final_answer(
    client: Client, fakes: FakeSuite
) -> None:
    fakes.anthropic.script(
        narration(),
        Reply([text("Checking."), tool_use("get_queue", {})]),
        Reply([tool_use("get_now_playing", {})], error_after=1),
        Reply([text("Here is the summary.")]),
    )
    result = await chat(client)
    events = without_logs(events_of(result.body))
    assert [d for k, d in events if k == "thinking"][-1] == chat_loop.PREPARING_FINAL
    assert content_of(events) == "Checking.Here is the summary."
    assert events[-1] == ("done", None)


async def test_a_final_call_that_fails_apologises_naming_the_tools_that_ran(
    client: Client, fakes: FakeSuite
) -> None:
    fakes.anthropic.script(
        narration(),
        Reply([tool_use("get_queue", {})]),
        Reply([], error_after=0),  # breaks off at once: no text
        Reply(status=400, error_type="invalid_request_error", error_message="bad"),
    )
    result = await chat(client)
    events = without_logs(events_of(result.body))
    text_out = content_of(events)
    assert "get_queue" in text_out and "went wrong" in text_out
    assert events[-1] == ("done", None)


# -- tools: bad input, unknown tools, failures ----------------------------------------------------


async def test_bad_tool_input_and_unknown_tools_become_error_results_for_claude(
    client: Client, fakes: FakeSuite
) -> None:
    playlist = fakes.spotify.catalog.playlist_by_name(PLAYLIST_100)
    fakes.spotify.start_playback(context_playlist=playlist.id)
    fakes.anthropic.script(
        narration(),
        Reply(
            [
                tool_use("search_spotify_tracks", {"limit": 500}, id="toolu_bad"),
                tool_use("get_recommendations", {"seed_tracks": ["x"]}, id="toolu_gone"),
                tool_use("control_playback", {"action": "pause"}, id="toolu_ok"),
            ]
        ),
        "ok",
    )
    result = await chat(client)
    events = without_logs(events_of(result.body))
    assert [d["tool"] for k, d in events if k == "tool_start"] == ["control_playback"]
    blocks = fakes.anthropic.requests[2]["messages"][2]["content"]
    assert [b["tool_use_id"] for b in blocks] == ["toolu_bad", "toolu_gone", "toolu_ok"]
    assert blocks[0]["is_error"] is True and "query: Field required" in blocks[0]["content"]
    assert "limit" in blocks[0]["content"]
    assert blocks[1] == {
        "type": "tool_result",
        "tool_use_id": "toolu_gone",
        "content": "Error: Tool get_recommendations not found",
        "is_error": True,
    }
    assert "is_error" not in blocks[2]
    assert json.loads(blocks[2]["content"])["action"] == "pause"


async def test_a_failing_spotify_call_is_an_error_result_and_a_failed_tool_end(
    client: Client, fakes: FakeSuite
) -> None:
    fakes.spotify.inject("search", status=500, times=10)
    fakes.anthropic.script(
        narration(), Reply([tool_use("search_spotify_tracks", {"query": "x"})]), "Sorry."
    )
    result = await chat(client)
    events = without_logs(events_of(result.body))
    end = next(d for k, d in events if k == "tool_end")
    assert end["result"].startswith("Failed: Spotify search failed (500)")
    block = fakes.anthropic.requests[2]["messages"][2]["content"][0]
    assert block["is_error"] is True and block["content"].startswith("Error: Spotify search")


async def test_the_playlist_prefix_selects_the_playlist_for_the_tools(
    client: Client, fakes: FakeSuite
) -> None:
    playlist = fakes.spotify.catalog.playlist_by_name(PLAYLIST_100)
    fakes.anthropic.script(
        narration(),
        Reply([tool_use("get_playlist_tracks", {"limit": 5})]),
        "Five tracks read.",
    )
    body = chat_body(f"[Playlist ID: {playlist.id}] What is on this playlist?")
    result = await chat(client, body)
    events = without_logs(events_of(result.body))
    assert events[3][1]["playlistId"] == playlist.id and events[3][1]["hasPlaylistContext"]
    first = fakes.anthropic.requests[1]
    assert first["messages"][-1]["content"] == "What is on this playlist?"
    assert playlist.id in first["system"][0]["text"]
    start = next(d for k, d in events if k == "tool_start")
    assert start["args"] == {"playlist_id": playlist.id, "limit": 5, "offset": 0}
    block = fakes.anthropic.requests[2]["messages"][2]["content"][0]
    page = json.loads(block["content"])
    assert len(page["tracks"]) == 5 and page["total"] == 100 and page["has_more"] is True


# -- request problems, reported in the stream ----------------------------------------------------


async def test_invalid_json_is_a_400_before_any_stream(client: Client, fakes: FakeSuite) -> None:
    result = await chat(client, raw=b'{"message": ')
    assert result.status == 400
    assert result.body == b"Invalid JSON"
    assert result.headers.get("content-type", "").startswith("text/plain")
    assert fakes.anthropic.calls_to("messages") == []


@pytest.mark.parametrize(
    "body",
    [
        {"message": ""},
        {"message": "x" * 2001},
        {"message": "hi", "mode": "party"},
        {"message": "hi", "conversationHistory": [{"role": "user", "content": "a"}] * 21},
        {"message": "hi", "conversationHistory": [{"role": "system", "content": "a"}]},
        [],
    ],
)
async def test_invalid_requests_are_an_error_event_then_done_without_echoing_input(
    client: Client, fakes: FakeSuite, body: Any
) -> None:
    result = await chat(client, body)
    assert result.status == 200
    events = without_logs(events_of(result.body))
    assert [k for k, _ in events] == ["debug", "error", "done"]
    issues = json.loads(events[1][1])
    assert issues and all(i["in"] == "body" for i in issues)
    assert "x" * 100 not in result.text
    assert fakes.anthropic.calls_to("messages") == []


async def test_a_2000_character_message_is_accepted(client: Client, fakes: FakeSuite) -> None:
    fakes.anthropic.script(narration(), "Long read.")
    result = await chat(client, chat_body("y" * 2000))
    events = without_logs(events_of(result.body))
    assert "error" not in [k for k, _ in events]
    assert fakes.anthropic.requests[1]["messages"][-1]["content"] == "y" * 2000


@pytest.mark.parametrize("header", [None, "Basic abc", "Bearer", "bearer  "])
async def test_a_missing_or_malformed_bearer_is_an_error_event(
    client: Client, fakes: FakeSuite, header: str | None
) -> None:
    headers = {"Authorization": header} if header is not None else {}
    result = await client.post("/api/chat-stream/message", json=chat_body(), headers=headers)
    events = without_logs(events_of(result.body))
    assert [k for k, _ in events] == ["debug", "debug", "error", "done"]
    assert events[2] == ("error", UNAUTHORIZED)
    assert fakes.anthropic.calls_to("messages") == []


async def test_no_api_key_is_an_error_event(client: Client, fakes: FakeSuite) -> None:
    client.env = dict(client.env, ANTHROPIC_API_KEY="")
    result = await chat(client)
    events = without_logs(events_of(result.body))
    assert events[-2:] == [("error", NO_API_KEY), ("done", None)]
    assert fakes.anthropic.calls_to("messages") == []


async def test_secrets_never_reach_the_stream(client: Client, fakes: FakeSuite) -> None:
    fakes.anthropic.script(
        narration(), Reply([tool_use("get_queue", {})]), Reply.overloaded(), "fine"
    )
    result = await chat(client)
    logs = [d for k, d in events_of(result.body) if k == "log"]
    assert any("anthropic" in entry["message"] for entry in logs)  # outbound lines mirrored
    assert DEV_TOKEN not in result.text
    assert DEFAULT_API_KEY not in result.text
    assert "Traceback" not in result.text


async def test_dj_mode_puts_what_is_playing_into_the_prompt(
    client: Client, fakes: FakeSuite
) -> None:
    playlist = fakes.spotify.catalog.playlist_by_name(PLAYLIST_100)
    fakes.spotify.start_playback(context_playlist=playlist.id)
    fakes.anthropic.script(narration(), "Spinning.")
    await chat(client, chat_body("keep it going", mode="dj"))
    system = fakes.anthropic.requests[1]["system"][0]["text"]
    assert "Now playing:" in system and "Tracks in the queue:" in system


async def test_default_responder_answers_a_chat_offline(client: Client, fakes: FakeSuite) -> None:
    result = await chat(client, chat_body("search some jazz"))
    events = without_logs(events_of(result.body))
    assert [d["tool"] for k, d in events if k == "tool_start"] == ["search_spotify_tracks"]
    answer = content_of(events)
    assert "offline demo" in answer
    assert "Let me check that for you.\n\nI found " in answer  # sentences, not glued
    assert re.search(r'I found \d+ tracks?: "', answer) and '" by ' in answer
    assert "{" not in answer and "[" not in answer  # no raw tool JSON
    assert events[-1] == ("done", None)
