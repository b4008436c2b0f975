"""The upstream SSE parser: bytes split anywhere give the same events and the same message."""

from __future__ import annotations

import json
import random

import pytest

from dj.anthropic_sse import (
    ContentBlockDelta,
    ErrorEvent,
    MessageAssembler,
    MessageStart,
    Ping,
    ServerEvent,
    SSEDecoder,
    StreamFailed,
    StreamReader,
    TextPiece,
    ThinkingPiece,
    ToolCall,
    Unknown,
    parse_event,
)


def sse(event: str, data: dict) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


def answer(*, tool_input: dict | None = None, text: str = "Héllo wörld 🎧 – done") -> bytes:
    """A realistic stream: thinking, text, a tool call whose JSON comes in pieces."""
    raw = json.dumps(tool_input or {"query": "ça va", "limit": 5})
    parts = [raw[: len(raw) // 3], raw[len(raw) // 3 : 2 * len(raw) // 3], raw[2 * len(raw) // 3 :]]
    events = [
        sse(
            "message_start",
            {"type": "message_start", "message": {"id": "m1", "usage": {"input_tokens": 9}}},
        ),
        sse(
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "thinking", "thinking": "", "signature": ""},
            },
        ),
        sse("ping", {"type": "ping"}),
        sse(
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "thinking_delta", "thinking": "Let me see"},
            },
        ),
        sse(
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "signature_delta", "signature": "sig=="},
            },
        ),
        sse("content_block_stop", {"type": "content_block_stop", "index": 0}),
        sse(
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 1,
                "content_block": {"type": "text", "text": ""},
            },
        ),
        sse(
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 1,
                "delta": {"type": "text_delta", "text": text[:7]},
            },
        ),
        sse(
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 1,
                "delta": {"type": "text_delta", "text": text[7:]},
            },
        ),
        sse("content_block_stop", {"type": "content_block_stop", "index": 1}),
        sse(
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 2,
                "content_block": {
                    "type": "tool_use",
                    "id": "toolu_1",
                    "name": "search_spotify_tracks",
                    "input": {},
                },
            },
        ),
        sse(
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 2,
                "delta": {"type": "input_json_delta", "partial_json": ""},
            },
        ),
        *[
            sse(
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": 2,
                    "delta": {"type": "input_json_delta", "partial_json": p},
                },
            )
            for p in parts
        ],
        sse("content_block_stop", {"type": "content_block_stop", "index": 2}),
        sse(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "tool_use"},
                "usage": {"output_tokens": 42},
            },
        ),
        sse("message_stop", {"type": "message_stop"}),
    ]
    return b"".join(events)


def run(chunks: list[bytes]) -> tuple[StreamReader, list]:
    reader = StreamReader()
    pieces = []
    for chunk in chunks:
        pieces.extend(reader.feed(chunk))
    pieces.extend(reader.end())
    return reader, pieces


def test_a_whole_answer_assembles_text_thinking_and_the_tool_input() -> None:
    reader, pieces = run([answer()])
    message = reader.message
    assert message.text == "Héllo wörld 🎧 – done"
    assert [p.text for p in pieces if isinstance(p, TextPiece)] == ["Héllo w", "örld 🎧 – done"]
    assert [p.thinking for p in pieces if isinstance(p, ThinkingPiece)] == ["Let me see"]
    assert message.tool_calls == [
        ToolCall(
            "toolu_1",
            "search_spotify_tracks",
            {"query": "ça va", "limit": 5},
            json.dumps({"query": "ça va", "limit": 5}),
        )
    ]
    assert message.stop_reason == "tool_use"
    assert message.usage == {"input_tokens": 9, "output_tokens": 42}
    assert message.content() == [
        {"type": "thinking", "thinking": "Let me see", "signature": "sig=="},
        {"type": "text", "text": "Héllo wörld 🎧 – done"},
        {
            "type": "tool_use",
            "id": "toolu_1",
            "name": "search_spotify_tracks",
            "input": {"query": "ça va", "limit": 5},
        },
    ]


def test_every_split_point_gives_the_same_result() -> None:
    data = answer()
    whole, _ = run([data])
    for cut in range(1, len(data)):
        reader, pieces = run([data[:cut], data[cut:]])
        assert reader.message.content() == whole.message.content(), cut
        assert "".join(p.text for p in pieces if isinstance(p, TextPiece)) == whole.message.text


def test_byte_by_byte_and_random_chunks_give_the_same_result() -> None:
    data = answer()
    whole, _ = run([data])
    one_by_one, _ = run([data[i : i + 1] for i in range(len(data))])
    assert one_by_one.message.content() == whole.message.content()
    rng = random.Random(7)
    for _ in range(50):
        cuts = sorted(rng.sample(range(1, len(data)), 12))
        chunks = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
        reader, _ = run(chunks)
        assert reader.message.content() == whole.message.content()


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_line_endings_lf_crlf_and_cr_split_between_chunks(newline: str) -> None:
    text = answer().decode().replace("\n", newline)
    data = text.encode()
    whole, _ = run([data])
    assert whole.message.text == "Héllo wörld 🎧 – done"
    for cut in range(1, len(data)):  # includes every cut between \r and \n
        reader, _ = run([data[:cut], data[cut:]])
        assert reader.message.content() == whole.message.content(), (newline, cut)


def test_decoder_follows_the_sse_field_rules() -> None:
    decoder = SSEDecoder()
    events = decoder.feed(
        b"\xef\xbb\xbf: a comment\n"
        b"event:first\ndata:no space\ndata:  two spaces\nid: 7\nretry: 10\n\n"
        b"data: only data\n\n"
        b"event: empty\n\n"
        b"event: last\ndata: never terminated"
    )
    assert events == [
        ServerEvent("first", "no space\n two spaces"),
        ServerEvent("message", "only data"),
    ]
    assert decoder.end() == []  # an event without its blank line is not dispatched


def test_unknown_and_odd_events_never_raise() -> None:
    assert isinstance(parse_event(ServerEvent("future_event", '{"type":"future_event"}')), Unknown)
    assert isinstance(parse_event(ServerEvent("message", "not json")), Unknown)
    assert isinstance(parse_event(ServerEvent("ping", '{"type":"ping"}')), Ping)
    error = parse_event(ServerEvent("error", "{oops"))
    assert isinstance(error, ErrorEvent) and error.type == "invalid_stream"
    delta = parse_event(
        ServerEvent("content_block_delta", '{"type":"content_block_delta","index":"x"}')
    )
    assert delta == ContentBlockDelta(0, {})


def test_an_error_event_mid_stream_fails_after_the_text_that_came_before_it() -> None:
    data = answer()[
        : answer().index(
            b'event: content_block_start\ndata: {"type": "content_block_start", "index": 2'
        )
    ]
    error = sse(
        "error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    )
    reader = StreamReader()
    pieces = reader.feed(data + error + answer())  # one chunk: text, then the error, then more
    assert "".join(p.text for p in pieces if isinstance(p, TextPiece)) == "Héllo wörld 🎧 – done"
    assert reader.failure is not None
    assert reader.failure.kind == "overloaded_error" and reader.failure.message == "Overloaded"
    assert reader.feed(answer()) == []  # nothing after the error is read
    assert reader.message.tool_calls == []
    with pytest.raises(StreamFailed):
        reader.raise_failure()


def test_an_answer_cut_before_message_stop_is_incomplete() -> None:
    data = answer()
    cut = data[: data.index(b"event: message_stop")]
    reader = StreamReader()
    reader.feed(cut)
    reader.end()
    with pytest.raises(StreamFailed) as failed:
        reader.raise_failure()
    assert failed.value.kind == "incomplete_stream"
    assert reader.message.tool_calls[0].input == {"query": "ça va", "limit": 5}


def test_tool_input_that_is_not_json_or_not_an_object_is_flagged_not_raised() -> None:
    asm = MessageAssembler()
    asm.feed(MessageStart({}))
    for index, raw in enumerate(['{"query": "x"', "[1, 2]", ""]):
        asm.feed(
            parse_event(
                ServerEvent(
                    "content_block_start",
                    json.dumps(
                        {
                            "type": "content_block_start",
                            "index": index,
                            "content_block": {
                                "type": "tool_use",
                                "id": f"t{index}",
                                "name": "n",
                                "input": {},
                            },
                        }
                    ),
                )
            )
        )
        asm.feed(
            parse_event(
                ServerEvent(
                    "content_block_delta",
                    json.dumps(
                        {
                            "type": "content_block_delta",
                            "index": index,
                            "delta": {"type": "input_json_delta", "partial_json": raw},
                        }
                    ),
                )
            )
        )
        asm.feed(
            parse_event(
                ServerEvent(
                    "content_block_stop", json.dumps({"type": "content_block_stop", "index": index})
                )
            )
        )
    bad_json, not_object, empty = asm.tool_calls
    assert bad_json.input == {} and "not valid JSON" in (bad_json.input_error or "")
    assert not_object.input == {} and "not a JSON object" in (not_object.input_error or "")
    assert empty.input == {} and empty.input_error is None
