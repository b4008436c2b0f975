"""SSE wire format: the DJ API framings, multi-line data, comments, field injection."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, Field

from runtime.sse import HEARTBEAT, encode_comment, encode_event, encode_typed


def test_chat_framing_is_data_only_json_with_data_before_type() -> None:
    assert encode_typed("content", "Hi") == b'data: {"data":"Hi","type":"content"}\n\n'


def test_done_event_carries_a_null_payload() -> None:
    assert encode_typed("done") == b'data: {"data":null,"type":"done"}\n\n'


def test_payload_keys_keep_their_order_and_unicode_is_not_escaped() -> None:
    frame = encode_typed("log", {"level": "info", "message": "café"})
    assert frame == 'data: {"data":{"level":"info","message":"café"},"type":"log"}\n\n'.encode()


def test_named_framing_sends_event_line_then_json_data_line() -> None:
    frame = encode_typed("tick", {"p": 1, "ts": 2}, framing="named")
    assert frame == b'event: tick\ndata: {"p":1,"ts":2}\n\n'


def test_named_framing_puts_the_id_line_between_event_and_data() -> None:
    frame = encode_typed("track", {"seq": 3}, framing="named", id="42")
    assert frame == b'event: track\nid: 42\ndata: {"seq":3}\n\n'


def test_multiline_text_becomes_one_data_line_per_line_whatever_the_line_ending() -> None:
    frame = encode_event("one\ntwo\r\nthree\rfour")
    assert frame == b"data: one\ndata: two\ndata: three\ndata: four\n\n"


def test_text_keeps_leading_spaces_and_empty_lines() -> None:
    assert encode_event("  indented\n\nlast") == b"data:   indented\ndata: \ndata: last\n\n"


def test_json_text_with_newlines_inside_strings_stays_on_one_line() -> None:
    frame = encode_typed("content", "line 1\nline 2")
    assert frame.count(b"\n") == 2
    assert b'"line 1\\nline 2"' in frame


def test_retry_field_is_written_as_an_integer() -> None:
    assert encode_event("x", retry=3000) == b"retry: 3000\ndata: x\n\n"


@pytest.mark.parametrize("bad", ["a\nb", "a\rb", "a\r\nb", "\n"])
def test_cr_or_lf_in_an_event_name_is_rejected(bad: str) -> None:
    with pytest.raises(ValueError, match="event name"):
        encode_event("x", event=bad)


@pytest.mark.parametrize("bad", ["1\n", "1\rdata: forged", "a\r\nb"])
def test_cr_or_lf_in_an_id_is_rejected(bad: str) -> None:
    with pytest.raises(ValueError, match="id"):
        encode_event("x", id=bad)


def test_typed_event_with_a_forged_type_is_rejected_in_named_framing() -> None:
    with pytest.raises(ValueError):
        encode_typed("tick\ndata: forged", framing="named")


def test_comment_of_several_lines_prefixes_each_line() -> None:
    assert encode_comment("a\nb") == b": a\n: b\n\n"


def test_heartbeat_is_a_comment() -> None:
    assert encode_comment("heartbeat") == HEARTBEAT == b": heartbeat\n\n"


class Track(BaseModel):
    album_name: str = Field(alias="albumName")


def test_pydantic_payloads_are_serialised_by_alias() -> None:
    frame = encode_typed("track", Track(albumName="Discovery"), framing="named")
    assert frame == b'event: track\ndata: {"albumName":"Discovery"}\n\n'
