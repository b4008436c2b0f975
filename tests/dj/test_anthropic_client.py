"""The Anthropic client and the runtime's streaming outbound call, on in-memory streams."""

from __future__ import annotations

import asyncio
import json
from contextlib import aclosing
from typing import Any

import pytest

from dj.anthropic import (
    DEFAULT_FAST_MODEL,
    DEFAULT_MODEL,
    AnthropicClient,
    AnthropicError,
    AnthropicSettings,
    build_request,
    first_json_object,
    thinking_config,
)
from dj.anthropic_sse import TextPiece, ToolCall
from runtime.budget import SubrequestTracker
from runtime.context import Context, Env
from runtime.http import Headers, Request
from runtime.logging import ServiceLogger
from runtime.outbound import OutboundClient, StreamReadError
from runtime.platform.local import LocalPlatform
from runtime.ratelimit import RequestOrchestrator
from runtime.testing import MemoryStream, MemoryStreamTransport

KEY = "sk-ant-test-secret-key"


def sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


def text_answer(words: list[str]) -> list[bytes]:
    chunks = [
        sse("message_start", {"type": "message_start", "message": {"usage": {}}}),
        sse(
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
        ),
    ]
    chunks += [
        sse(
            "content_block_delta",
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": w}},
        )
        for w in words
    ]
    chunks += [
        sse("content_block_stop", {"type": "content_block_stop", "index": 0}),
        sse(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn"},
                "usage": {"output_tokens": 3},
            },
        ),
        sse("message_stop", {"type": "message_stop"}),
    ]
    return chunks


def overloaded() -> MemoryStream:
    body = json.dumps(
        {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    )
    return MemoryStream(529, [body.encode()])


def make(
    transport: MemoryStreamTransport,
    lines: list[str] | None = None,
    tracker: SubrequestTracker | None = None,
) -> tuple[AnthropicClient, OutboundClient]:
    async def no_sleep(_: float) -> None:
        return None

    http = OutboundClient(
        transport,
        orchestrator=RequestOrchestrator(),
        subrequests=tracker,
        logger=ServiceLogger(
            "outbound", sink=(lines.append if lines is not None else lambda _: None)
        ),
        sleep=no_sleep,
        jitter=lambda: 0.0,
    )
    settings = AnthropicSettings(KEY, "https://api.anthropic.test")
    return AnthropicClient(settings, http), http


async def collect(client: AnthropicClient, body: dict[str, Any]) -> list[Any]:
    return [piece async for piece in client.stream(body)]


def test_thinking_budget_rules_follow_the_api() -> None:
    assert thinking_config(5000, 10000) == {"type": "enabled", "budget_tokens": 5000}
    with pytest.raises(ValueError):
        thinking_config(1023, 10000)
    with pytest.raises(ValueError):
        thinking_config(2000, 2000)  # upstream's SuggestionEngine bug (§12.1)
    with pytest.raises(ValueError):
        build_request(
            model="m", max_tokens=10000, messages=[], thinking_budget=5000, temperature=0.7
        )


def test_requests_cache_the_system_prompt_and_use_dateless_models() -> None:
    body = build_request(
        model=DEFAULT_MODEL,
        max_tokens=100,
        system="be brief",
        messages=[{"role": "user", "content": "hi"}],
        temperature=0.7,
    )
    assert body["system"] == [
        {"type": "text", "text": "be brief", "cache_control": {"type": "ephemeral"}}
    ]
    assert DEFAULT_MODEL == "claude-sonnet-4-6" and DEFAULT_FAST_MODEL == "claude-haiku-4-5"
    assert "stream" not in body and "thinking" not in body


def test_settings_come_from_vars_with_defaults() -> None:
    def ctx(env: dict[str, str]) -> Context:
        return Context(
            Request("POST", "http://x/", Headers()),
            Env(env),
            LocalPlatform(),
            ServiceLogger("t", sink=lambda _: None),
        )

    default = AnthropicSettings.from_context(ctx({"ANTHROPIC_API_KEY": " k "}))
    assert (default.api_key, default.model, default.fast_model) == (
        "k",
        DEFAULT_MODEL,
        DEFAULT_FAST_MODEL,
    )
    assert default.base_url == "https://api.anthropic.com"
    custom = AnthropicSettings.from_context(
        ctx(
            {
                "ANTHROPIC_MODEL": "claude-opus-4-6",
                "ANTHROPIC_FAST_MODEL": "claude-haiku-4-5-20251001",
                "ANTHROPIC_API_BASE": "http://127.0.0.1:9/",
            }
        )
    )
    assert (custom.model, custom.fast_model) == ("claude-opus-4-6", "claude-haiku-4-5-20251001")
    assert custom.base_url == "http://127.0.0.1:9" and not custom.configured


async def test_a_stream_yields_text_as_it_arrives_and_sends_key_and_version() -> None:
    transport = MemoryStreamTransport(MemoryStream(200, text_answer(["Hel", "lo"])))
    client, _ = make(transport)
    pieces = await collect(client, {"model": DEFAULT_MODEL, "max_tokens": 10, "messages": []})
    assert [p.text for p in pieces if isinstance(p, TextPiece)] == ["Hel", "lo"]
    request = transport.requests[0]
    assert request.method == "POST" and request.url == "https://api.anthropic.test/v1/messages"
    assert (
        request.headers["x-api-key"] == KEY and request.headers["anthropic-version"] == "2023-06-01"
    )
    assert json.loads(request.body or b"")["stream"] is True
    assert transport.opened[0].closed


async def test_overloaded_is_retried_before_any_byte_then_succeeds() -> None:
    transport = MemoryStreamTransport(overloaded(), MemoryStream(200, text_answer(["ok"])))
    tracker = SubrequestTracker(limit=10, logger=ServiceLogger("b", sink=lambda _: None))
    client, _ = make(transport, tracker=tracker)
    pieces = await collect(client, {"messages": []})
    assert [p.text for p in pieces] == ["ok"]
    assert len(transport.requests) == 2 and tracker.count == 2


async def test_overloaded_three_times_raises_with_the_api_message() -> None:
    transport = MemoryStreamTransport(overloaded(), overloaded(), overloaded())
    client, _ = make(transport)
    with pytest.raises(AnthropicError) as failed:
        await collect(client, {"messages": []})
    assert (failed.value.kind, failed.value.message, failed.value.status) == (
        "overloaded_error",
        "Overloaded",
        529,
    )
    assert len(transport.requests) == 3


async def test_a_dropped_connection_mid_stream_raises_and_the_body_is_closed() -> None:
    stream = MemoryStream(200, text_answer(["a", "b", "c"]), fail_after=3)
    transport = MemoryStreamTransport(stream)
    lines: list[str] = []
    client, _ = make(transport, lines)
    got: list[Any] = []
    with pytest.raises(AnthropicError) as failed:
        async for piece in client.stream({"messages": []}):
            got.append(piece)
    assert failed.value.kind == "network"
    assert [p.text for p in got] == ["a"]
    assert stream.closed
    assert any('"anthropic stream network"' in line for line in lines)
    assert all(KEY not in line for line in lines)


async def test_a_stalled_stream_times_out_per_chunk() -> None:
    transport = MemoryStreamTransport(MemoryStream(200, text_answer(["x"]), delay=0.2))
    client, http = make(transport)
    with pytest.raises(StreamReadError) as failed:
        async with http.stream(
            service="anthropic", url="https://a.test/v1/messages", json={}, read_timeout=0.05
        ) as result:
            assert result.ok
            async for _ in result.iter_bytes():
                pass
    assert failed.value.error == "read_timeout"
    assert http.orchestrator.lane("anthropic").in_use == 0
    del client


async def test_the_lane_slot_is_held_while_streaming_and_freed_after() -> None:
    transport = MemoryStreamTransport(
        *[MemoryStream(200, text_answer(["x"] * 5), delay=0.01) for _ in range(3)]
    )
    client, http = make(transport)
    lane = http.orchestrator.lane("anthropic")
    peak = 0

    async def one() -> None:
        nonlocal peak
        async for _ in client.stream({"messages": []}):
            peak = max(peak, lane.in_use)

    await asyncio.gather(one(), one(), one())
    assert peak == 2  # the anthropic lane has two slots: the third stream waited
    assert lane.in_use == 0


async def test_leaving_early_aborts_the_request() -> None:
    stream = MemoryStream(200, text_answer(["a", "b", "c", "d"]))
    client, http = make(MemoryStreamTransport(stream))
    async with aclosing(client.stream({"messages": []})) as pieces:
        async for _piece in pieces:
            break
    assert stream.closed and stream.aborted
    assert http.orchestrator.lane("anthropic").in_use == 0


async def test_no_stream_is_opened_without_budget() -> None:
    tracker = SubrequestTracker(limit=0, logger=ServiceLogger("b", sink=lambda _: None))
    transport = MemoryStreamTransport(MemoryStream(200, text_answer(["a"])))
    client, _ = make(transport, tracker=tracker)
    with pytest.raises(AnthropicError) as failed:
        await collect(client, {"messages": []})
    assert failed.value.kind == "budget_exhausted" and transport.requests == []


async def test_tool_calls_come_out_complete() -> None:
    raw = json.dumps({"query": "x"})
    chunks = [
        sse("message_start", {"type": "message_start", "message": {}}),
        sse(
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "tool_use", "id": "t", "name": "n", "input": {}},
            },
        ),
        sse(
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "input_json_delta", "partial_json": raw[:4]},
            },
        ),
        sse(
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "input_json_delta", "partial_json": raw[4:]},
            },
        ),
        sse("content_block_stop", {"type": "content_block_stop", "index": 0}),
        sse("message_stop", {"type": "message_stop"}),
    ]
    client, _ = make(MemoryStreamTransport(MemoryStream(200, chunks)))
    pieces = await collect(client, {"messages": []})
    assert pieces == [ToolCall("t", "n", {"query": "x"}, raw)]


def test_first_json_object_skips_prose_and_broken_braces() -> None:
    assert first_json_object('Sure! {bad} then {"a": {"b": 1}} and {"c": 2}') == {"a": {"b": 1}}
    assert first_json_object("no json") is None
