"""Fake Anthropic Messages API: `POST /v1/messages`, streaming (SSE) and non-streaming.

Replies are scripted per test with `fake.script(Reply(...), ...)`; when the queue is empty a
responder answers (the default one uses the offered tools sensibly, for the offline demo).

Streaming follows the real event order: `message_start`, then per content block
`content_block_start` / `content_block_delta`* / `content_block_stop` (a `ping` after the first
block start), `message_delta` (stop_reason + usage), `message_stop`. Text comes as
`text_delta` pieces, tool input as `input_json_delta` pieces (the first one empty, the rest
only valid JSON once concatenated), thinking as `thinking_delta` pieces then one
`signature_delta`. A reply can fail mid-stream with `event: error` (overloaded_error) or drop
the connection.

Request validation mirrors the documented rules: `x-api-key` (401) and `anthropic-version`
(400) headers, known model ids (404 `not_found_error` otherwise, so dated 4.6 ids fail),
`max_tokens` within the model's output limit, thinking `budget_tokens` >= 1024 and
< `max_tokens`, temperature 1 only with thinking, `thinking.type.enabled` rejected on models
that only take adaptive thinking, at most 4 `cache_control` breakpoints, every `tool_use`
answered by a `tool_result` in the next user message and vice versa.
Usage reports prompt caching: the first request with a cacheable prefix (>= 1024 tokens,
~4 chars per token) gets `cache_creation_input_tokens`, identical later ones
`cache_read_input_tokens`.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .base import Drop, FakeRequest, FakeResponse, FakeServer, iter_chunks, sse_event

DEFAULT_API_KEY = "fake-anthropic-api-key"
API_VERSIONS = ("2023-06-01", "2023-01-01")
DOCS = "https://docs.claude.com/en/docs/build-with-claude/extended-thinking"


@dataclass(frozen=True)
class ModelInfo:
    max_output: int
    thinking: bool = True  # manual `thinking.type.enabled` accepted
    adaptive: bool = False  # `thinking.type.adaptive` accepted


MODELS: dict[str, ModelInfo] = {
    "claude-opus-4-7": ModelInfo(128_000, thinking=False, adaptive=True),
    "claude-opus-4-6": ModelInfo(128_000, adaptive=True),
    "claude-sonnet-4-6": ModelInfo(64_000, adaptive=True),
    "claude-haiku-4-5": ModelInfo(64_000),
    "claude-haiku-4-5-20251001": ModelInfo(64_000),
    "claude-sonnet-4-5": ModelInfo(64_000),
    "claude-sonnet-4-5-20250929": ModelInfo(64_000),
    "claude-opus-4-5": ModelInfo(64_000),
    "claude-opus-4-5-20251101": ModelInfo(64_000),
    "claude-opus-4-1-20250805": ModelInfo(32_000),
    "claude-sonnet-4-20250514": ModelInfo(64_000),
    "claude-3-5-haiku-20241022": ModelInfo(8_192, thinking=False),
}

ERROR_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "overloaded_error": 529,
}
STATUS_ERROR = {v: k for k, v in ERROR_STATUS.items()}
STATUS_ERROR[503] = "api_error"
STATUS_ERROR[502] = "api_error"


# ------------------------------------------------------------------ script types
@dataclass
class Block:
    type: str  # "text" | "tool_use" | "thinking"
    text: str = ""
    name: str = ""
    input: Any = None
    id: str = ""
    signature: str = ""


def text(value: str) -> Block:
    return Block("text", text=value)


def tool_use(name: str, input: Any | None = None, id: str | None = None) -> Block:
    return Block(
        "tool_use",
        name=name,
        input={} if input is None else input,
        id=id or "toolu_01" + secrets.token_hex(11),
    )


def thinking(value: str, signature: str | None = None) -> Block:
    return Block(
        "thinking", text=value, signature=signature or "EqQBCkYIBxgCKkB" + secrets.token_urlsafe(40)
    )


@dataclass
class Reply:
    """One scripted model turn.

    blocks: content (text/tool_use/thinking). stop_reason: defaults to "tool_use" when any
    tool_use block is present, else "end_turn" (or "max_tokens" when truncated).
    status + error_type: answer with an HTTP error instead (e.g. 529 overloaded_error).
    error_after: in a stream, emit `event: error` after that many delta events.
    drop_after: in a stream, drop the connection after that many delta events.
    chunk: characters per text/thinking delta; json_pieces: input_json_delta pieces.
    event_delay: seconds between streamed events.
    """

    blocks: list[Block] = field(default_factory=list)
    stop_reason: str | None = None
    status: int | None = None
    error_type: str | None = None
    error_message: str | None = None
    retry_after: int | None = None
    error_after: int | None = None
    stream_error_type: str = "overloaded_error"
    drop_after: int | None = None
    chunk: int = 16
    json_pieces: int = 4
    event_delay: float = 0.0

    @classmethod
    def overloaded(cls) -> Reply:
        return cls(status=529, error_type="overloaded_error", error_message="Overloaded")

    @classmethod
    def rate_limited(cls, retry_after: int = 10) -> Reply:
        return cls(
            status=429,
            error_type="rate_limit_error",
            retry_after=retry_after,
            error_message="Number of request tokens has exceeded your per-minute rate limit",
        )

    @classmethod
    def of(cls, *blocks: Block | str, **kw: Any) -> Reply:
        return cls([text(b) if isinstance(b, str) else b for b in blocks], **kw)


Responder = Callable[[dict[str, Any]], Reply]


def _tokens(obj: Any) -> int:
    raw = obj if isinstance(obj, str) else json.dumps(obj, separators=(",", ":"))
    return max(1, len(raw) // 4)


class ValidationError(Exception):
    def __init__(self, message: str, kind: str = "invalid_request_error") -> None:
        super().__init__(message)
        self.kind = kind


class FakeAnthropic(FakeServer):
    service = "anthropic"

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        api_keys: tuple[str, ...] = (DEFAULT_API_KEY,),
        models: dict[str, ModelInfo] | None = None,
        responder: Responder | None = None,
    ) -> None:
        super().__init__(host, port)
        self.api_keys = set(api_keys)
        self.models = dict(MODELS if models is None else models)
        self.responder: Responder = responder or default_responder
        self._script: deque[Reply] = deque()
        self._script_lock = threading.Lock()
        self._cache: set[str] = set()
        self.route("POST", "/v1/messages", self._messages, "messages")
        self.route("POST", "/v1/messages/count_tokens", self._count, "count_tokens")

    # ------------------------------------------------------------------ API
    def script(self, *replies: Reply | str) -> None:
        """Queue replies; each /v1/messages call takes the next one (strings = text replies)."""
        with self._script_lock:
            for r in replies:
                self._script.append(Reply.of(r) if isinstance(r, str) else r)

    def clear_script(self) -> None:
        """Forget queued replies: the next call gets the responder's answer."""
        with self._script_lock:
            self._script.clear()

    def control_extra(self, method: str, path: str, data: dict[str, Any]) -> FakeResponse:
        """`POST /__fake/script`: queue replies, `{"replies": [{"text": "...",
        "status": 529, "error_type": ..., "retry_after": ..., "drop_after": n,
        "error_after": n, "event_delay": s}, ...]}`; `DELETE /__fake/script` forgets them."""
        if path == "script" and method == "DELETE":
            self.clear_script()
            return FakeResponse.json({"service": self.service, "pending": 0})
        if path != "script" or method != "POST":
            return super().control_extra(method, path, data)
        replies = data.get("replies")
        if not isinstance(replies, list) or not replies:
            return FakeResponse.json({"error": "`replies` must be a non-empty list"}, 400)
        allowed = {f for f in Reply.__dataclass_fields__ if f != "blocks"}
        built = []
        for item in replies:
            if not isinstance(item, dict) or not set(item) <= allowed | {"text"}:
                return FakeResponse.json(
                    {"error": f"each reply is an object with `text` or {sorted(allowed)}"}, 400
                )
            fields = dict(item)
            words = fields.pop("text", None)
            try:
                built.append(Reply([text(str(words))] if words else [], **fields))
            except TypeError as exc:
                return FakeResponse.json({"error": str(exc)}, 400)
        self.script(*built)
        return FakeResponse.json({"service": self.service, "pending": self.pending}, 201)

    @property
    def pending(self) -> int:
        with self._script_lock:
            return len(self._script)

    @property
    def requests(self) -> list[dict[str, Any]]:
        """The JSON bodies of every `/v1/messages` call, in arrival order."""
        out = []
        for call in self.calls_to("messages"):
            try:
                out.append(call.json())
            except ValueError:
                out.append({})
        return out

    def error_body(self, status: int, message: str | None) -> FakeResponse:
        kind = STATUS_ERROR.get(status, "api_error")
        default = {
            "overloaded_error": "Overloaded",
            "api_error": "Internal server error",
            "rate_limit_error": "Rate limited",
        }.get(kind, "Error")
        return FakeResponse.json(
            {
                "type": "error",
                "error": {"type": kind, "message": message or default},
                "request_id": "req_" + secrets.token_hex(12),
            },
            status=status,
            headers={"request-id": "req_" + secrets.token_hex(12)},
        )

    def _err(self, kind: str, message: str, retry_after: int | None = None) -> FakeResponse:
        response = self.error_body(ERROR_STATUS.get(kind, 500), message)
        if kind == "overloaded_error" or kind == "rate_limit_error":
            response.headers["x-should-retry"] = "true"
        if retry_after is not None:
            response.headers["retry-after"] = str(retry_after)
        return response

    # ------------------------------------------------------------ validation
    def _check_headers(self, request: FakeRequest) -> FakeResponse | None:
        key = request.headers.get("x-api-key")
        if not key:
            return self._err("authentication_error", "x-api-key header is required")
        if key not in self.api_keys:
            return self._err("authentication_error", "invalid x-api-key")
        version = request.headers.get("anthropic-version")
        if not version:
            return self._err("invalid_request_error", "anthropic-version: header is required")
        if version not in API_VERSIONS:
            return self._err(
                "invalid_request_error", f"anthropic-version: invalid version '{version}'"
            )
        return None

    def validate(self, body: Any) -> ModelInfo:
        if not isinstance(body, dict):
            raise ValidationError("Input should be an object")
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise ValidationError("model: Field required")
        max_tokens = body.get("max_tokens")
        if max_tokens is None:
            raise ValidationError("max_tokens: Field required")
        if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
            raise ValidationError("max_tokens: Input should be greater than or equal to 1")
        messages = body.get("messages")
        if not isinstance(messages, list):
            raise ValidationError("messages: Field required")
        if not messages:
            raise ValidationError("messages: at least one message is required")
        info = self.models.get(model)
        if info is None:
            raise ValidationError(f"model: {model}", "not_found_error")
        if max_tokens > info.max_output:
            raise ValidationError(
                f"max_tokens: {max_tokens} > {info.max_output}, which is the maximum allowed "
                f"number of output tokens for {model}"
            )
        temp = body.get("temperature")
        if temp is not None and (not isinstance(temp, int | float) or not 0 <= temp <= 1):
            raise ValidationError("temperature: Input should be less than or equal to 1")
        if "stream" in body and not isinstance(body["stream"], bool):
            raise ValidationError("stream: Input should be a valid boolean")
        self._check_thinking(body, info, max_tokens, temp)
        self._check_system(body.get("system"))
        self._check_tools(body.get("tools"))
        self._check_messages(messages)
        self._check_cache_breakpoints(body)
        return info

    def _check_thinking(
        self, body: dict[str, Any], info: ModelInfo, max_tokens: int, temp: Any
    ) -> None:
        th = body.get("thinking")
        if th is None:
            return
        if not isinstance(th, dict) or th.get("type") not in ("enabled", "disabled", "adaptive"):
            raise ValidationError(
                "thinking: Input tag does not match any of the expected tags:"
                " 'enabled', 'disabled', 'adaptive'"
            )
        kind = th["type"]
        if kind == "disabled":
            return
        if kind == "adaptive" and not info.adaptive:
            raise ValidationError("thinking.type.adaptive is not supported for this model.")
        if kind == "enabled":
            if not info.thinking:
                raise ValidationError(
                    "thinking.type.enabled is not supported for this model. Use "
                    "thinking.type.adaptive and output_config.effort to control thinking "
                    "behavior."
                    if info.adaptive
                    else "thinking: extended thinking is not supported for this model."
                )
            budget = th.get("budget_tokens")
            if not isinstance(budget, int) or isinstance(budget, bool):
                raise ValidationError("thinking.enabled.budget_tokens: Field required")
            if budget < 1024:
                raise ValidationError(
                    "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"
                )
            if budget >= max_tokens:
                raise ValidationError(
                    "`max_tokens` must be greater than "
                    "`thinking.budget_tokens`. Please consult our "
                    f"documentation at {DOCS}#max-tokens-and-context-window"
                    "-size"
                )
        if temp is not None and temp != 1:
            raise ValidationError(
                "`temperature` may only be set to 1 when thinking is enabled "
                f"or in adaptive mode. Please consult our documentation at "
                f"{DOCS}#feature-compatibility"
            )
        if body.get("top_k") is not None:
            raise ValidationError(
                "`top_k` must be unset when thinking is enabled. Please "
                f"consult our documentation at {DOCS}#feature-compatibility"
            )
        top_p = body.get("top_p")
        if top_p is not None and not 0.95 <= top_p <= 1:
            raise ValidationError(
                "`top_p` must be greater than or equal to 0.95 or unset "
                "when thinking is enabled. Please consult our documentation "
                f"at {DOCS}#feature-compatibility"
            )

    @staticmethod
    def _check_cache_control(cc: Any, where: str) -> None:
        if cc is None:
            return
        if not isinstance(cc, dict) or cc.get("type") != "ephemeral":
            raise ValidationError(f"{where}.cache_control.type: Input should be 'ephemeral'")
        if cc.get("ttl") not in (None, "5m", "1h"):
            raise ValidationError(f"{where}.cache_control.ttl: Input should be '5m' or '1h'")

    def _check_system(self, system: Any) -> None:
        if system is None or isinstance(system, str):
            return
        if not isinstance(system, list):
            raise ValidationError("system: Input should be a valid string or list")
        for i, block in enumerate(system):
            if (
                not isinstance(block, dict)
                or block.get("type") != "text"
                or not isinstance(block.get("text"), str)
            ):
                raise ValidationError(f"system.{i}: Input should be a text block")
            if not block["text"]:
                raise ValidationError(f"system.{i}.text: text content blocks must be non-empty")
            self._check_cache_control(block.get("cache_control"), f"system.{i}")

    def _check_tools(self, tools: Any) -> None:
        if tools is None:
            return
        if not isinstance(tools, list):
            raise ValidationError("tools: Input should be a valid list")
        names: set[str] = set()
        for i, tool in enumerate(tools):
            if not isinstance(tool, dict):
                raise ValidationError(f"tools.{i}: Input should be an object")
            if "type" in tool and tool["type"] not in ("custom", None):
                continue  # server tools (web_search etc.) are not modelled
            name = tool.get("name")
            if not isinstance(name, str) or not re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", name):
                raise ValidationError(
                    f"tools.{i}.custom.name: String should match pattern '^[a-zA-Z0-9_-]{{1,64}}$'"
                )
            if name in names:
                raise ValidationError("tools: Tool names must be unique.")
            names.add(name)
            schema = tool.get("input_schema")
            if not isinstance(schema, dict):
                raise ValidationError(f"tools.{i}.custom.input_schema: Field required")
            if schema.get("type") != "object":
                raise ValidationError(
                    f"tools.{i}.custom.input_schema.type: Input should be 'object'"
                )
            self._check_cache_control(tool.get("cache_control"), f"tools.{i}")

    def _check_messages(self, messages: list[Any]) -> None:
        pending_tool_ids: set[str] = set()
        for i, msg in enumerate(messages):
            if not isinstance(msg, dict):
                raise ValidationError(f"messages.{i}: Input should be an object")
            role = msg.get("role")
            if role not in ("user", "assistant"):
                raise ValidationError(f"messages.{i}.role: Input should be 'user' or 'assistant'")
            content = msg.get("content")
            last = i == len(messages) - 1
            if content is None or content == "" or content == []:
                if not (last and role == "assistant"):
                    raise ValidationError(
                        f"messages.{i}: all messages must have non-empty "
                        "content except for the optional final assistant "
                        "message"
                    )
                continue
            blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
            if not isinstance(blocks, list):
                raise ValidationError(f"messages.{i}.content: Input should be a valid list")
            results = set()
            uses = set()
            for j, block in enumerate(blocks):
                if not isinstance(block, dict) or "type" not in block:
                    raise ValidationError(
                        f"messages.{i}.content.{j}: Input should be an object with a type"
                    )
                kind = block["type"]
                self._check_cache_control(block.get("cache_control"), f"messages.{i}.content.{j}")
                if kind == "text" and not block.get("text"):
                    raise ValidationError(
                        f"messages.{i}.content.{j}.text: text content blocks must be non-empty"
                    )
                if kind == "tool_use":
                    if role != "assistant":
                        raise ValidationError(
                            f"messages.{i}.content.{j}: tool_use blocks "
                            "are only allowed in assistant messages"
                        )
                    if not isinstance(block.get("input"), dict):
                        raise ValidationError(
                            f"messages.{i}.content.{j}.tool_use.input: "
                            "Input should be a valid dictionary"
                        )
                    uses.add(block.get("id"))
                if kind == "tool_result":
                    if role != "user":
                        raise ValidationError(
                            f"messages.{i}.content.{j}: tool_result blocks "
                            "are only allowed in user messages"
                        )
                    results.add(block.get("tool_use_id"))
            if pending_tool_ids:
                missing = pending_tool_ids - results
                if role != "user" or missing:
                    ids = ", ".join(sorted(str(m) for m in missing or pending_tool_ids))
                    raise ValidationError(
                        f"messages.{i}: `tool_use` ids were found without `tool_result` blocks "
                        f"immediately after: {ids}. Each `tool_use` block must have a "
                        "corresponding `tool_result` block in the next message."
                    )
            stray = results - pending_tool_ids
            if stray:
                raise ValidationError(
                    f"messages.{i}.content.0: unexpected `tool_use_id` found in `tool_result` "
                    f"blocks: {', '.join(sorted(str(s) for s in stray))}. Each `tool_result` "
                    "block must have a corresponding `tool_use` block in the previous message."
                )
            pending_tool_ids = uses
            if uses and last:
                raise ValidationError(
                    f"messages.{i}: `tool_use` ids were found without `tool_result` blocks "
                    f"immediately after: {', '.join(sorted(str(u) for u in uses))}."
                )

    @staticmethod
    def _check_cache_breakpoints(body: dict[str, Any]) -> None:
        count = 0
        for tool in body.get("tools") or []:
            count += isinstance(tool, dict) and tool.get("cache_control") is not None
        system = body.get("system")
        if isinstance(system, list):
            count += sum(1 for b in system if isinstance(b, dict) and b.get("cache_control"))
        for msg in body.get("messages") or []:
            content = msg.get("content") if isinstance(msg, dict) else None
            if isinstance(content, list):
                count += sum(1 for b in content if isinstance(b, dict) and b.get("cache_control"))
        if count > 4:
            raise ValidationError(
                f"A maximum of 4 blocks with cache_control may be provided. Found {count}."
            )

    # -------------------------------------------------------------- handling
    def _count(self, request: FakeRequest) -> FakeResponse:
        err = self._check_headers(request)
        if err:
            return err
        try:
            body = request.json()
        except ValueError:
            return self._err("invalid_request_error", "There was an error parsing the body")
        return FakeResponse.json({"input_tokens": _tokens(body)})

    def _messages(self, request: FakeRequest) -> FakeResponse:
        err = self._check_headers(request)
        if err:
            return err
        try:
            body = request.json()
        except ValueError:
            return self._err("invalid_request_error", "There was an error parsing the body")
        try:
            self.validate(body)
        except ValidationError as exc:
            return self._err(exc.kind, str(exc))
        with self._script_lock:
            reply = self._script.popleft() if self._script else None
        if reply is None:
            reply = self.responder(body)
        if reply.status is not None:
            kind = reply.error_type or STATUS_ERROR.get(reply.status, "api_error")
            response = self._err(kind, reply.error_message or "Error", reply.retry_after)
            response.status = reply.status
            return response
        message, usage_out = self._build_message(body, reply)
        if body.get("stream"):
            return FakeResponse(
                status=200,
                headers={
                    "Content-Type": "text/event-stream; charset=utf-8",
                    "Cache-Control": "no-cache",
                    "request-id": "req_" + secrets.token_hex(12),
                },
                stream=self._events(message, reply, usage_out),
            )
        return FakeResponse.json(message, headers={"request-id": "req_" + secrets.token_hex(12)})

    def _usage(self, body: dict[str, Any]) -> dict[str, int]:
        """Input usage with prompt-caching accounting for the tools+system prefix."""
        prefix: list[Any] = []
        cached_upto: list[Any] | None = None
        for tool in body.get("tools") or []:
            prefix.append(tool)
            if isinstance(tool, dict) and tool.get("cache_control"):
                cached_upto = list(prefix)
        system = body.get("system")
        if isinstance(system, list):
            for block in system:
                prefix.append(block)
                if isinstance(block, dict) and block.get("cache_control"):
                    cached_upto = list(prefix)
        elif isinstance(system, str):
            prefix.append(system)
        total = _tokens(body.get("messages")) + _tokens(prefix)
        created = read = 0
        if cached_upto is not None:
            size = _tokens(cached_upto)
            if size >= 1024:
                key = hashlib.sha256(
                    (str(body.get("model")) + json.dumps(cached_upto, sort_keys=True)).encode()
                ).hexdigest()
                with self._lock:
                    if key in self._cache:
                        read = size
                    else:
                        self._cache.add(key)
                        created = size
        return {
            "input_tokens": max(1, total - created - read),
            "cache_creation_input_tokens": created,
            "cache_read_input_tokens": read,
        }

    def _build_message(self, body: dict[str, Any], reply: Reply) -> tuple[dict[str, Any], int]:
        th = body.get("thinking") or {}
        thinking_on = th.get("type") in ("enabled", "adaptive")
        budget = int(body["max_tokens"])
        content: list[dict[str, Any]] = []
        stop_reason = reply.stop_reason
        used = 0
        for block in reply.blocks:
            if block.type == "thinking":
                if not thinking_on:
                    continue
                content.append(
                    {"type": "thinking", "thinking": block.text, "signature": block.signature}
                )
                used += _tokens(block.text)
            elif block.type == "text":
                room = budget - used
                value = block.text
                if _tokens(value) > room:
                    value = value[: max(0, room) * 4]
                    stop_reason = "max_tokens"
                if value:
                    content.append({"type": "text", "text": value})
                used += _tokens(value)
                if stop_reason == "max_tokens":
                    break
            elif block.type == "tool_use":
                content.append(
                    {"type": "tool_use", "id": block.id, "name": block.name, "input": block.input}
                )
                used += _tokens(block.input)
        if stop_reason is None:
            stop_reason = (
                "tool_use" if any(c["type"] == "tool_use" for c in content) else "end_turn"
            )
        usage = self._usage(body)
        usage["output_tokens"] = max(1, used)
        message = {
            "id": "msg_01" + secrets.token_hex(11),
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": usage,
        }
        return message, usage["output_tokens"]

    def _events(
        self, message: dict[str, Any], reply: Reply, output_tokens: int
    ) -> Iterator[bytes | float | Drop]:
        delay = reply.event_delay
        start = dict(message, content=[], stop_reason=None, stop_sequence=None)
        start["usage"] = dict(message["usage"], output_tokens=1)
        yield sse_event("message_start", {"type": "message_start", "message": start})
        deltas = 0

        def interrupt() -> Iterator[bytes | float | Drop]:
            if reply.error_after is not None and deltas >= reply.error_after:
                yield sse_event(
                    "error",
                    {
                        "type": "error",
                        "error": {
                            "type": reply.stream_error_type,
                            "message": "Overloaded"
                            if reply.stream_error_type == "overloaded_error"
                            else "Internal server error",
                        },
                    },
                )
                yield Drop() if reply.drop_after is not None else b""
            elif reply.drop_after is not None and deltas >= reply.drop_after:
                yield Drop()

        stopped = False
        for index, block in enumerate(message["content"]):
            kind = block["type"]
            if kind == "text":
                first = {"type": "text", "text": ""}
            elif kind == "thinking":
                first = {"type": "thinking", "thinking": "", "signature": ""}
            else:
                first = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
            yield sse_event(
                "content_block_start",
                {"type": "content_block_start", "index": index, "content_block": first},
            )
            if index == 0:
                yield sse_event("ping", {"type": "ping"})
            for delta in _deltas(block, reply):
                for item in interrupt():
                    stopped = True
                    yield item
                if stopped:
                    return
                if delay:
                    yield delay
                yield sse_event(
                    "content_block_delta",
                    {"type": "content_block_delta", "index": index, "delta": delta},
                )
                deltas += 1
            yield sse_event("content_block_stop", {"type": "content_block_stop", "index": index})
        for item in interrupt():
            stopped = True
            yield item
        if stopped:
            return
        yield sse_event(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
                "usage": {"output_tokens": output_tokens},
            },
        )
        yield sse_event("message_stop", {"type": "message_stop"})


def _deltas(block: dict[str, Any], reply: Reply) -> Iterator[dict[str, Any]]:
    kind = block["type"]
    if kind == "text":
        for piece in iter_chunks(block["text"], reply.chunk):
            yield {"type": "text_delta", "text": piece}
    elif kind == "thinking":
        for piece in iter_chunks(block["thinking"], reply.chunk):
            yield {"type": "thinking_delta", "thinking": piece}
        yield {"type": "signature_delta", "signature": block["signature"]}
    else:
        raw = json.dumps(block["input"])
        yield {"type": "input_json_delta", "partial_json": ""}
        size = max(1, -(-len(raw) // max(1, reply.json_pieces)))
        for piece in iter_chunks(raw, size):
            yield {"type": "input_json_delta", "partial_json": piece}


# ------------------------------------------------------------- default responder
def _last_user_text(body: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    for msg in reversed(body.get("messages") or []):
        if msg.get("role") != "user":
            continue
        content = msg.get("content")
        if isinstance(content, str):
            return content, []
        texts = [b.get("text", "") for b in content if b.get("type") == "text"]
        results = [b for b in content if b.get("type") == "tool_result"]
        return " ".join(texts), results
    return "", []


_FILLER = {
    "search",
    "find",
    "look",
    "for",
    "some",
    "me",
    "play",
    "get",
    "show",
    "a",
    "an",
    "the",
    "songs",
    "song",
    "tracks",
    "track",
    "please",
    "music",
    "up",
    "can",
    "you",
    "i",
    "want",
}
_NARRATION = {
    "started": "Getting started on your request...",
    "enrichment_analysis": "Reading through the playlist...",
    "enrichment_deezer": "Checking tempos and loudness...",
    "enrichment_lastfm": "Asking listeners what they hear...",
    "enrichment_complete": "All the data is in.",
}


def _search_words(request: str) -> str:
    """What the demo searches for: the request without its filler words."""
    words = [w for w in re.findall(r"[\w'&-]+", request) if w.lower() not in _FILLER]
    return " ".join(words)[:60] or "love"


_LIVELY = ("energy", "party", "pump", "up", "fast", "dance", "hype")
_CALM = ("chill", "calm", "slow", "down", "sleep", "mellow", "relax")


def _mix_demo_reply(prompt: str) -> Block | None:
    """Answers to the mix prompts, so the offline demo's DJ half does something sensible:
    track proposals the fake Spotify can find, a vibe adjustment, a status line."""
    low = prompt.lower()
    if '"tracks"' in prompt:
        from .catalog import CATALOG

        start = sum(map(ord, prompt)) % max(1, len(CATALOG.tracks) - 8)
        picks = CATALOG.tracks[start : start + 8]
        proposals = [
            {
                "artist": CATALOG.artist_names(t)[0],
                "name": t.name,
                "reason": "Keeps the vibe going (offline demo)",
            }
            for t in picks
        ]
        return text(json.dumps({"tracks": proposals}))
    if "energylevel" in low:
        words = low.split('"')
        asked = " ".join(words[1:2]) if len(words) > 1 else low
        if any(w in asked for w in _LIVELY):
            energy, direction = 8, "building"
        elif any(w in asked for w in _CALM):
            energy, direction = 3, "winding_down"
        else:
            energy, direction = 6, "steady"
        return text(json.dumps({"energyLevel": energy, "energyDirection": direction}))
    if "status line" in low:
        return text("Shaping the mix around your request")
    return None


def _tool_payload(content: Any) -> Any:
    """A tool result's JSON value (content is a string, or a list of text blocks)."""
    if isinstance(content, list):
        content = " ".join(
            b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text"
        )
    if not isinstance(content, str):
        return content
    try:
        return json.loads(content)
    except ValueError:
        return content


def _track_phrase(track: dict[str, Any]) -> str:
    name = track.get("name") or track.get("track_name") or "an untitled track"
    artists = track.get("artists") or track.get("artist")
    if isinstance(artists, list):
        names = [a.get("name") if isinstance(a, dict) else a for a in artists]
        artists = ", ".join(str(n) for n in names if n)
    return f'"{name}" by {artists}' if artists else f'"{name}"'


def _list_phrase(tracks: list[Any], limit: int = 3) -> str:
    phrases = [_track_phrase(t) for t in tracks[:limit] if isinstance(t, dict)]
    more = len(tracks) - len(phrases)
    if more > 0:
        phrases.append(f"{more} more")
    if len(phrases) <= 1:
        return "".join(phrases)
    return ", ".join(phrases[:-1]) + " and " + phrases[-1]


def describe_tool_result(content: Any) -> str:
    """One or two plain sentences about a tool's result, as Claude would write them."""
    data = _tool_payload(content)
    if isinstance(data, dict) and isinstance(data.get("tracks"), list):
        data = data["tracks"]
    if isinstance(data, list):
        if not data:
            return "I could not find any matching tracks."
        count = len(data)
        noun = "track" if count == 1 else "tracks"
        return f"I found {count} {noun}: {_list_phrase(data)}."
    if not isinstance(data, dict):
        return "That is done." if not data else f"Here is the answer: {str(data)[:120]}."
    if data.get("error"):
        return f"That did not work: {data['error']}."
    if "playlist_name" in data:
        total = data.get("total_tracks", 0)
        sentence = f'"{data["playlist_name"]}" has {total} tracks.'
        genres = (data.get("metadata_analysis") or {}).get("top_genres") or []
        names = [g.get("genre") if isinstance(g, dict) else g for g in genres[:3]]
        names = [str(n) for n in names if n]
        if names:
            sentence += f" Its main genres are {', '.join(names)}."
        bpm = ((data.get("deezer_analysis") or {}).get("bpm") or {}).get("avg")
        if bpm:
            sentence += f" The average tempo is about {round(bpm)} BPM."
        return sentence
    if "queue" in data:
        queue = data.get("queue") or []
        if not queue:
            return "Your queue is empty."
        return f"Up next: {_list_phrase(queue)}."
    if "is_playing" in data:
        if not data.get("track_name"):
            return "Nothing is playing right now."
        verb = "Now playing" if data.get("is_playing") else "Paused on"
        return f"{verb}: {_track_phrase(data)}."
    if data.get("message"):
        return str(data["message"]).rstrip(".") + "."
    return "That is done."


def default_responder(body: dict[str, Any]) -> Reply:
    """Offline-demo behaviour: use a fitting tool once, then summarise its result."""
    user_text, results = _last_user_text(body)
    tools = {t.get("name") for t in body.get("tools") or [] if isinstance(t, dict)}
    th = body.get("thinking") or {}
    blocks: list[Block] = []
    if th.get("type") in ("enabled", "adaptive"):
        blocks.append(
            thinking(
                "The user wants help with their music. Let me work out which "
                "tool fits, then answer briefly."
            )
        )
    if results:
        sentences = " ".join(describe_tool_result(r.get("content")) for r in results)
        # Claude's text after a tool call starts a new paragraph: the client appends it to
        # the text before the call, which must not run into it.
        blocks.append(text("\n\n" + sentences + " (This is the offline demo.)"))
        return Reply(blocks)
    low = user_text.lower()
    query = _search_words(re.sub(r"^\[Playlist ID: [^\]]+\]\s*", "", user_text))
    choice: Block | None = None
    if tools:
        if "playing" in low and "get_now_playing" in tools:
            choice = tool_use("get_now_playing", {})
        elif "queue" in low and "get_queue" in tools:
            choice = tool_use("get_queue", {})
        elif "analy" in low and "analyze_playlist" in tools:
            choice = tool_use("analyze_playlist", {})
        elif "search_spotify_tracks" in tools:
            choice = tool_use("search_spotify_tracks", {"query": query, "limit": 5})
    if choice is not None:
        blocks.append(text("Let me check that for you."))
        blocks.append(choice)
        return Reply(blocks)
    system = body.get("system")
    system_text = (
        system
        if isinstance(system, str)
        else " ".join(b.get("text", "") for b in system or [] if isinstance(b, dict))
    )
    step = re.search(r"Step: (\w+)", user_text)
    if step is not None and not tools:  # the chat's progress narrator
        return Reply([text(_NARRATION.get(step.group(1), "Working on it..."))])
    mix = _mix_demo_reply(user_text)
    if mix is not None:
        blocks.append(mix)
        return Reply(blocks)
    if "json" in (system_text + " " + low).lower():
        blocks.append(text(json.dumps({"offline_demo": True, "echo": query})))
    else:
        blocks.append(text(f"You asked about {query}. (This is the offline demo.)"))
    return Reply(blocks)
