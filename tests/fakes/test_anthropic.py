from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from fakes.anthropic import DEFAULT_API_KEY, FakeAnthropic, Reply, text, thinking, tool_use

from .helpers import parse_sse

HEADERS = {"x-api-key": DEFAULT_API_KEY, "anthropic-version": "2023-06-01"}
SYSTEM = [{"type": "text", "text": "You are a DJ. " * 400, "cache_control": {"type": "ephemeral"}}]
TOOLS = [
    {
        "name": "search_spotify_tracks",
        "description": "Search",
        "input_schema": {
            "type": "object",
            "properties": {"query": {"type": "string"}},
            "required": ["query"],
        },
    }
]


def _body(**kw: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": "claude-sonnet-4-6",
        "max_tokens": 1000,
        "messages": [{"role": "user", "content": "Play something"}],
    }
    body.update(kw)
    return body


def _post(
    fake: FakeAnthropic,
    client: httpx.Client,
    body: dict[str, Any],
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    return client.post(
        f"{fake.base_url}/v1/messages", json=body, headers=HEADERS if headers is None else headers
    )


def test_stream_follows_the_real_event_sequence(
    anthropic: FakeAnthropic, client: httpx.Client
) -> None:
    anthropic.script(
        Reply(
            [
                thinking("Hmm, upbeat."),
                text("Try this one."),
                tool_use("search_spotify_tracks", {"query": "disco", "limit": 5}),
            ]
        )
    )
    r = _post(
        anthropic,
        client,
        _body(
            stream=True,
            max_tokens=10000,
            temperature=1.0,
            thinking={"type": "enabled", "budget_tokens": 5000},
            tools=TOOLS,
        ),
    )
    assert r.headers["content-type"].startswith("text/event-stream")
    events = parse_sse(r.text)
    names = [e for e, _ in events]
    assert names[0] == "message_start" and names[1] == "content_block_start"
    assert names[2] == "ping"
    assert names[-2:] == ["message_delta", "message_stop"]
    assert all(data["type"] == name for name, data in events)
    starts = [d["content_block"]["type"] for n, d in events if n == "content_block_start"]
    assert starts == ["thinking", "text", "tool_use"]
    deltas = [d["delta"] for n, d in events if n == "content_block_delta"]
    kinds = {d["type"] for d in deltas}
    assert kinds == {"thinking_delta", "signature_delta", "text_delta", "input_json_delta"}
    pieces = [d["partial_json"] for d in deltas if d["type"] == "input_json_delta"]
    assert len(pieces) >= 3 and pieces[0] == ""
    with pytest.raises(json.JSONDecodeError):
        json.loads(pieces[1])
    assert json.loads("".join(pieces)) == {"query": "disco", "limit": 5}
    assert "".join(d.get("text", "") for d in deltas) == "Try this one."
    final = events[-2][1]
    assert final["delta"]["stop_reason"] == "tool_use"
    assert events[0][1]["message"]["model"] == "claude-sonnet-4-6"


def test_mid_stream_overloaded_error_event_ends_the_stream(
    anthropic: FakeAnthropic, client: httpx.Client
) -> None:
    anthropic.script(Reply([text("a long answer " * 10)], error_after=2))
    events = parse_sse(_post(anthropic, client, _body(stream=True)).text)
    assert events[-1] == (
        "error",
        {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
    )
    assert "message_stop" not in [n for n, _ in events]
    assert sum(1 for n, _ in events if n == "content_block_delta") == 2


def test_dropped_stream_raises_on_the_client(
    anthropic: FakeAnthropic, client: httpx.Client
) -> None:
    anthropic.script(Reply([text("x" * 200)], drop_after=3))
    with pytest.raises(httpx.TransportError):
        _post(anthropic, client, _body(stream=True))


def test_scripted_turns_are_consumed_in_order_then_default_responder(
    anthropic: FakeAnthropic, client: httpx.Client
) -> None:
    call = tool_use("search_spotify_tracks", {"query": "jazz"}, id="toolu_1")
    anthropic.script(Reply([call]), "Here you go.")
    first = _post(anthropic, client, _body(tools=TOOLS)).json()
    assert first["stop_reason"] == "tool_use"
    assert first["content"] == [
        {
            "type": "tool_use",
            "id": "toolu_1",
            "name": "search_spotify_tracks",
            "input": {"query": "jazz"},
        }
    ]
    follow = _body(
        tools=TOOLS,
        messages=[
            {"role": "user", "content": "Play jazz"},
            {"role": "assistant", "content": first["content"]},
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "[]"}],
            },
        ],
    )
    second = _post(anthropic, client, follow).json()
    assert second["content"] == [{"type": "text", "text": "Here you go."}]
    assert second["stop_reason"] == "end_turn"
    assert anthropic.pending == 0
    third = _post(anthropic, client, _body(tools=TOOLS)).json()
    assert third["content"][-1]["name"] == "search_spotify_tracks"
    firsts = [r["messages"][0]["content"] for r in anthropic.requests]
    assert firsts == ["Play something", "Play jazz", "Play something"]


@pytest.mark.parametrize(
    ("change", "status", "fragment"),
    [
        (
            {"thinking": {"type": "enabled", "budget_tokens": 2000}, "max_tokens": 2000},
            400,
            "`max_tokens` must be greater than `thinking.budget_tokens`",
        ),
        (
            {"thinking": {"type": "enabled", "budget_tokens": 500}},
            400,
            "greater than or equal to 1024",
        ),
        (
            {
                "thinking": {"type": "enabled", "budget_tokens": 1024},
                "temperature": 0.7,
                "max_tokens": 4000,
            },
            400,
            "`temperature` may only be set to 1",
        ),
        ({"model": "claude-sonnet-4-6-20260219"}, 404, "model: claude-sonnet-4-6-20260219"),
        (
            {"model": "claude-opus-4-7", "thinking": {"type": "enabled", "budget_tokens": 2000}},
            400,
            "thinking.type.enabled is not supported",
        ),
        ({"max_tokens": 70000}, 400, "maximum allowed number of output tokens"),
        ({"messages": []}, 400, "at least one message"),
    ],
)
def test_invalid_requests_are_rejected_like_the_api(
    anthropic: FakeAnthropic,
    client: httpx.Client,
    change: dict[str, Any],
    status: int,
    fragment: str,
) -> None:
    r = _post(anthropic, client, _body(**change))
    assert r.status_code == status
    err = r.json()
    assert err["type"] == "error" and fragment in err["error"]["message"]
    assert err["error"]["type"] == ("not_found_error" if status == 404 else "invalid_request_error")


def test_missing_headers(anthropic: FakeAnthropic, client: httpx.Client) -> None:
    no_key = _post(anthropic, client, _body(), {"anthropic-version": "2023-06-01"})
    assert no_key.status_code == 401
    assert no_key.json()["error"] == {
        "type": "authentication_error",
        "message": "x-api-key header is required",
    }
    no_version = _post(anthropic, client, _body(), {"x-api-key": DEFAULT_API_KEY})
    assert no_version.status_code == 400
    assert "anthropic-version" in no_version.json()["error"]["message"]


def test_tool_use_without_a_following_tool_result_is_rejected(
    anthropic: FakeAnthropic, client: httpx.Client
) -> None:
    body = _body(
        tools=TOOLS,
        messages=[
            {"role": "user", "content": "hi"},
            {
                "role": "assistant",
                "content": [
                    {
                        "type": "tool_use",
                        "id": "toolu_9",
                        "name": "search_spotify_tracks",
                        "input": {},
                    }
                ],
            },
            {"role": "user", "content": "and?"},
        ],
    )
    r = _post(anthropic, client, body)
    assert r.status_code == 400 and "toolu_9" in r.json()["error"]["message"]


def test_overloaded_529_then_success(anthropic: FakeAnthropic, client: httpx.Client) -> None:
    anthropic.script(Reply.overloaded(), "ok")
    r = _post(anthropic, client, _body())
    assert r.status_code == 529
    assert r.json()["error"]["type"] == "overloaded_error"
    assert _post(anthropic, client, _body()).json()["content"][0]["text"] == "ok"


def test_prompt_cache_is_created_then_read(anthropic: FakeAnthropic, client: httpx.Client) -> None:
    first = _post(anthropic, client, _body(system=SYSTEM)).json()["usage"]
    second = _post(anthropic, client, _body(system=SYSTEM)).json()["usage"]
    assert first["cache_creation_input_tokens"] > 1024 and first["cache_read_input_tokens"] == 0
    assert second["cache_read_input_tokens"] == first["cache_creation_input_tokens"]
    small = _post(
        anthropic,
        client,
        _body(system=[{"type": "text", "text": "short", "cache_control": {"type": "ephemeral"}}]),
    )
    assert small.json()["usage"]["cache_creation_input_tokens"] == 0


def test_max_tokens_truncates_text(anthropic: FakeAnthropic, client: httpx.Client) -> None:
    anthropic.script("word " * 400)
    body = _post(anthropic, client, _body(max_tokens=20)).json()
    assert body["stop_reason"] == "max_tokens" and len(body["content"][0]["text"]) <= 80


def test_thinking_blocks_are_dropped_when_thinking_is_off(
    anthropic: FakeAnthropic, client: httpx.Client
) -> None:
    anthropic.script(Reply([thinking("secret"), text("hi")]))
    body = _post(anthropic, client, _body()).json()
    assert [c["type"] for c in body["content"]] == ["text"]


def test_tool_results_are_described_in_sentences_not_json() -> None:
    from fakes.anthropic import describe_tool_result

    tracks = [
        {"name": "Blue in Green", "artists": [{"name": "Miles Davis"}]},
        {"name": "So What", "artists": ["Miles Davis"]},
        {"name": "Naima", "artists": [{"name": "John Coltrane"}]},
        {"name": "Footprints", "artists": [{"name": "Wayne Shorter"}]},
    ]
    assert describe_tool_result(json.dumps(tracks)) == (
        'I found 4 tracks: "Blue in Green" by Miles Davis, "So What" by Miles Davis, '
        '"Naima" by John Coltrane and 1 more.'
    )
    assert describe_tool_result("[]") == "I could not find any matching tracks."
    analysis = {
        "playlist_name": "Late Night",
        "total_tracks": 100,
        "metadata_analysis": {"top_genres": [{"genre": "jazz"}, {"genre": "soul"}]},
        "deezer_analysis": {"bpm": {"avg": 101.6}},
    }
    assert describe_tool_result(json.dumps(analysis)) == (
        '"Late Night" has 100 tracks. Its main genres are jazz, soul. '
        "The average tempo is about 102 BPM."
    )
    assert describe_tool_result('{"is_playing": false, "message": "x"}') == (
        "Nothing is playing right now."
    )
    assert describe_tool_result('{"error": "Spotify said no"}') == (
        "That did not work: Spotify said no."
    )
