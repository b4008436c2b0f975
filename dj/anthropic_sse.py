"""Reading the Anthropic Messages API's streamed answer, incrementally and without I/O.

Three layers, each fed whatever arrives, split anywhere (inside a UTF-8 sequence, between
`\\r` and `\\n`, in the middle of a field name):

* `SSEDecoder`: bytes → `ServerEvent(event, data)`, per the server-sent events rules (LF,
  CRLF or CR line ends, `:` comments, multi-line `data`, a leading BOM, one optional space
  after the colon).
* `parse_event`: a `ServerEvent` → one of the typed events below (`message_start`,
  `content_block_start|delta|stop`, `message_delta`, `message_stop`, `ping`, `error`);
  unknown event types become `Unknown` (the API may add some), never an exception.
* `MessageAssembler`: typed events → the finished message: text and thinking pieces as they
  come, each `tool_use` input assembled from its `input_json_delta` strings (kept as a string
  until `content_block_stop`, then parsed), the stop reason and usage. An `error` event
  raises `StreamFailed`; so does an answer that ends without `message_stop`.
"""

from __future__ import annotations

import codecs
from typing import Any

from runtime import jsonsafe
from runtime.records import field, record

# -- server-sent events ---------------------------------------------------------------------


@record(frozen=True)
class ServerEvent:
    event: str
    data: str


class SSEDecoder:
    """Bytes in, complete events out; keeps partial lines and events between calls."""

    def __init__(self) -> None:
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending = ""  # text not yet ending in a line break
        self._skip_lf = False  # the previous chunk ended in CR: a leading LF belongs to it
        self._first = True
        self._event = ""
        self._data: list[str] = []
        self._has_data = False

    def feed(self, chunk: bytes) -> list[ServerEvent]:
        return self._lines(self._utf8.decode(chunk))

    def end(self) -> list[ServerEvent]:
        """Flush at the end of the body: a last event without its blank line is dropped,
        as the SSE rules say (an incomplete event is never dispatched)."""
        out = self._lines(self._utf8.decode(b"", final=True))
        self._pending = ""
        self._event, self._data, self._has_data = "", [], False
        return out

    def _lines(self, text: str) -> list[ServerEvent]:
        if self._first and text:
            self._first = False
            if text.startswith("\ufeff"):
                text = text[1:]
        if self._skip_lf and text:
            self._skip_lf = False
            if text.startswith("\n"):
                text = text[1:]
        buffer = self._pending + text
        out: list[ServerEvent] = []
        start = 0
        size = len(buffer)
        while True:
            cr = buffer.find("\r", start)
            lf = buffer.find("\n", start)
            if cr < 0 and lf < 0:
                break
            if cr < 0 or (0 <= lf < cr):
                end, nxt = lf, lf + 1
            else:
                end = cr
                if cr + 1 < size:
                    nxt = cr + 2 if buffer[cr + 1] == "\n" else cr + 1
                else:
                    nxt = cr + 1
                    self._skip_lf = True
            event = self._line(buffer[start:end])
            if event is not None:
                out.append(event)
            start = nxt
        self._pending = buffer[start:]
        return out

    def _line(self, line: str) -> ServerEvent | None:
        if not line:
            if not self._has_data:
                self._event = ""
                return None
            event = ServerEvent(self._event or "message", "\n".join(self._data))
            self._event, self._data, self._has_data = "", [], False
            return event
        if line.startswith(":"):
            return None
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
            self._has_data = True
        return None  # `id`, `retry` and unknown fields mean nothing here


# -- typed events ---------------------------------------------------------------------------


@record(frozen=True)
class MessageStart:
    message: dict[str, Any]


@record(frozen=True)
class ContentBlockStart:
    index: int
    block: dict[str, Any]


@record(frozen=True)
class ContentBlockDelta:
    index: int
    delta: dict[str, Any]


@record(frozen=True)
class ContentBlockStop:
    index: int


@record(frozen=True)
class MessageDelta:
    stop_reason: str | None
    usage: dict[str, Any]


@record(frozen=True)
class MessageStop:
    pass


@record(frozen=True)
class Ping:
    pass


@record(frozen=True)
class ErrorEvent:
    type: str
    message: str


@record(frozen=True)
class Unknown:
    event: str
    data: str


AnthropicEvent = (
    MessageStart
    | ContentBlockStart
    | ContentBlockDelta
    | ContentBlockStop
    | MessageDelta
    | MessageStop
    | Ping
    | ErrorEvent
    | Unknown
)


def parse_event(raw: ServerEvent) -> AnthropicEvent:
    """The typed form of one server-sent event (the JSON `type` field decides)."""
    try:
        data = jsonsafe.loads(raw.data) if raw.data else {}
    except ValueError:
        if raw.event == "error":
            return ErrorEvent("invalid_stream", "the error event was not JSON")
        return Unknown(raw.event, raw.data)
    if not isinstance(data, dict):
        return Unknown(raw.event, raw.data)
    kind = data.get("type") or raw.event
    if kind == "message_start":
        message = data.get("message")
        return MessageStart(message if isinstance(message, dict) else {})
    if kind == "content_block_start":
        block = data.get("content_block")
        return ContentBlockStart(_index(data), block if isinstance(block, dict) else {})
    if kind == "content_block_delta":
        delta = data.get("delta")
        return ContentBlockDelta(_index(data), delta if isinstance(delta, dict) else {})
    if kind == "content_block_stop":
        return ContentBlockStop(_index(data))
    if kind == "message_delta":
        delta = data.get("delta") if isinstance(data.get("delta"), dict) else {}
        usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
        return MessageDelta(delta.get("stop_reason"), usage)
    if kind == "message_stop":
        return MessageStop()
    if kind == "ping":
        return Ping()
    if kind == "error":
        error = data.get("error") if isinstance(data.get("error"), dict) else {}
        return ErrorEvent(str(error.get("type") or "api_error"), str(error.get("message") or ""))
    return Unknown(raw.event, raw.data)


def _index(data: dict[str, Any]) -> int:
    value = data.get("index")
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


# -- assembling the message -----------------------------------------------------------------


class StreamFailed(RuntimeError):
    """The stream reported an error (`kind` is the API's error type) or ended early."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message or kind)
        self.kind = kind
        self.message = message or kind


@record(frozen=True)
class TextPiece:
    index: int
    text: str


@record(frozen=True)
class ThinkingPiece:
    index: int
    thinking: str


@record(frozen=True)
class ToolCall:
    """A complete `tool_use` block. `input_error` is set when its JSON did not parse (or was
    not an object); `input` is then `{}`."""

    id: str
    name: str
    input: dict[str, Any]
    raw_input: str = ""
    input_error: str | None = None


@record
class _Block:
    type: str
    start: dict[str, Any]
    text: list[str] = field(default_factory=list)
    json_parts: list[str] = field(default_factory=list)
    signature: str = ""
    done: bool = False
    call: ToolCall | None = None


Piece = TextPiece | ThinkingPiece | ToolCall


class MessageAssembler:
    """Feed typed events in order; read `text`, `tool_calls`, `content`, `stop_reason`."""

    def __init__(self) -> None:
        self._blocks: dict[int, _Block] = {}
        self._order: list[int] = []
        self.message: dict[str, Any] = {}
        self.stop_reason: str | None = None
        self.usage: dict[str, Any] = {}
        self.started = False
        self.finished = False
        self.events = 0

    def feed(self, event: AnthropicEvent) -> list[Piece]:
        """Apply one event; returns what it completed or added (text, thinking, a tool call)."""
        self.events += 1
        if isinstance(event, ErrorEvent):
            raise StreamFailed(event.type, event.message)
        if isinstance(event, MessageStart):
            self.started = True
            self.message = event.message
            usage = event.message.get("usage")
            if isinstance(usage, dict):
                self.usage.update(usage)
            return []
        if isinstance(event, ContentBlockStart):
            kind = str(event.block.get("type") or "")
            if event.index not in self._blocks:
                self._order.append(event.index)
            self._blocks[event.index] = _Block(kind, dict(event.block))
            if kind == "text" and event.block.get("text"):
                text = str(event.block["text"])
                self._blocks[event.index].text.append(text)
                return [TextPiece(event.index, text)]
            return []
        if isinstance(event, ContentBlockDelta):
            return self._delta(event)
        if isinstance(event, ContentBlockStop):
            return self._stop(event.index)
        if isinstance(event, MessageDelta):
            if event.stop_reason is not None:
                self.stop_reason = event.stop_reason
            self.usage.update(event.usage)
            return []
        if isinstance(event, MessageStop):
            self.finished = True
        return []

    def _delta(self, event: ContentBlockDelta) -> list[Piece]:
        block = self._blocks.get(event.index)
        if block is None:
            return []
        kind = event.delta.get("type")
        if kind == "text_delta":
            text = str(event.delta.get("text") or "")
            if not text:
                return []
            block.text.append(text)
            return [TextPiece(event.index, text)]
        if kind == "input_json_delta":
            block.json_parts.append(str(event.delta.get("partial_json") or ""))
        elif kind == "thinking_delta":
            thinking = str(event.delta.get("thinking") or "")
            block.text.append(thinking)
            return [ThinkingPiece(event.index, thinking)] if thinking else []
        elif kind == "signature_delta":
            block.signature += str(event.delta.get("signature") or "")
        return []

    def _stop(self, index: int) -> list[Piece]:
        block = self._blocks.get(index)
        if block is None or block.done:
            return []
        block.done = True
        if block.type != "tool_use":
            return []
        raw = "".join(block.json_parts)
        error: str | None = None
        value: Any
        if raw.strip():
            try:
                value = jsonsafe.loads(raw)
            except ValueError as exc:
                value, error = {}, f"the tool input was not valid JSON ({exc.msg})"
        else:
            start_input = block.start.get("input")
            value = start_input if isinstance(start_input, dict) else {}
        if not isinstance(value, dict):
            value, error = {}, "the tool input was not a JSON object"
        call = ToolCall(
            id=str(block.start.get("id") or ""),
            name=str(block.start.get("name") or ""),
            input=value,
            raw_input=raw,
            input_error=error,
        )
        block.call = call
        return [call]

    def close(self) -> None:
        """Call at the end of the body: an answer without `message_stop` is incomplete."""
        if not self.finished:
            raise StreamFailed("incomplete_stream", "the answer ended before message_stop")

    # -- results ------------------------------------------------------------------------
    @property
    def text(self) -> str:
        return "".join(
            "".join(self._blocks[i].text) for i in self._order if self._blocks[i].type == "text"
        )

    @property
    def tool_calls(self) -> list[ToolCall]:
        return [
            call
            for i in self._order
            if (call := self._blocks[i].call) is not None and self._blocks[i].done
        ]

    def content(self) -> list[dict[str, Any]]:
        """The finished blocks as request content for the next turn's assistant message:
        thinking (with its signature), non-empty text, and complete tool_use blocks."""
        out: list[dict[str, Any]] = []
        for i in self._order:
            block = self._blocks[i]
            if block.type == "thinking" and block.done and block.signature:
                out.append(
                    {
                        "type": "thinking",
                        "thinking": "".join(block.text),
                        "signature": block.signature,
                    }
                )
            elif block.type == "redacted_thinking" and block.done:
                out.append({"type": "redacted_thinking", "data": block.start.get("data", "")})
            elif block.type == "text":
                text = "".join(block.text)
                if text:
                    out.append({"type": "text", "text": text})
            elif block.type == "tool_use" and block.call is not None:
                call = block.call
                out.append(
                    {"type": "tool_use", "id": call.id, "name": call.name, "input": call.input}
                )
        return out


class StreamReader:
    """`SSEDecoder` + `parse_event` + `MessageAssembler`: bytes in, pieces out.

    A failure (an `error` event, or the end without `message_stop`) is kept in `failure`
    rather than raised, so the pieces that arrived in the same chunk before it are still
    returned; nothing after it is read. `raise_failure()` raises it."""

    def __init__(self) -> None:
        self.decoder = SSEDecoder()
        self.message = MessageAssembler()
        self.failure: StreamFailed | None = None

    def _apply(self, raws: list[ServerEvent]) -> list[Piece]:
        pieces: list[Piece] = []
        for raw in raws:
            if self.failure is not None:
                break
            try:
                pieces.extend(self.message.feed(parse_event(raw)))
            except StreamFailed as exc:
                self.failure = exc
        return pieces

    def feed(self, chunk: bytes) -> list[Piece]:
        if self.failure is not None:
            return []
        return self._apply(self.decoder.feed(chunk))

    def end(self) -> list[Piece]:
        pieces = self._apply(self.decoder.end())
        if self.failure is None:
            try:
                self.message.close()
            except StreamFailed as exc:
                self.failure = exc
        return pieces

    def raise_failure(self) -> None:
        if self.failure is not None:
            raise self.failure
