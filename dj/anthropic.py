"""A small Anthropic Messages API client on the runtime's outbound helper.

Every call goes out as service `anthropic`: lane `anthropic` (2 at a time per request), the
request's token bucket and subrequest budget, timeouts, retries of 429/5xx/529 before any
byte is used (the official SDK retries twice too), and one redacted log line per attempt. The
API key travels only in the `x-api-key` header, which is never logged.

* `build_request`: one place that shapes a request: the system prompt as one text block
  marked `cache_control: ephemeral` (prompt caching of tools + system), optional manual
  thinking with its budget checked (at least 1024 and below `max_tokens`, the API's rules).
* `AnthropicClient.stream(body)`: an async iterator of `anthropic_sse` pieces (text,
  thinking, complete tool calls) read while the answer arrives; the finished message is on
  the reader it was given. `create(body)` is the plain JSON call (narrator, AI tools).
* Model ids come from vars: `ANTHROPIC_MODEL` (default `claude-sonnet-4-6`) and
  `ANTHROPIC_FAST_MODEL` (default `claude-haiku-4-5`). From the 4.6 generation on ids are
  dateless; the upstream's dated 4.6 ids do not exist.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

from runtime import jsonsafe, outbound
from runtime.logging import redact_text
from runtime.records import record

from .anthropic_sse import Piece, StreamFailed, StreamReader
from .upstreams import Upstreams

if TYPE_CHECKING:
    from runtime.context import Context

SERVICE = "anthropic"
API_VERSION = "2023-06-01"
DEFAULT_MODEL = "claude-sonnet-4-6"
DEFAULT_FAST_MODEL = "claude-haiku-4-5"
MIN_THINKING_BUDGET = 1024
OPEN_TIMEOUT = 60.0
"""Seconds to wait for the answer's headers (a long prompt with thinking can take a while)."""
READ_TIMEOUT = 60.0
"""Seconds of silence allowed between two streamed chunks (the API pings in between)."""
CREATE_TIMEOUT = 60.0


@record(frozen=True)
class AnthropicSettings:
    api_key: str
    base_url: str
    model: str = DEFAULT_MODEL
    fast_model: str = DEFAULT_FAST_MODEL

    @classmethod
    def from_context(cls, c: Context) -> AnthropicSettings:
        return cls(
            api_key=(c.var("ANTHROPIC_API_KEY") or "").strip(),
            base_url=Upstreams.from_context(c).anthropic,
            model=(c.var("ANTHROPIC_MODEL") or "").strip() or DEFAULT_MODEL,
            fast_model=(c.var("ANTHROPIC_FAST_MODEL") or "").strip() or DEFAULT_FAST_MODEL,
        )

    @property
    def configured(self) -> bool:
        return bool(self.api_key)


class AnthropicError(RuntimeError):
    """A failed call. `kind` is the API's error type (`overloaded_error`, ...) or the
    outbound error code (`timeout`, `network`, `budget_exhausted`, ...); `message` is safe
    to show (no key, no request content)."""

    def __init__(self, kind: str, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status = status


def thinking_config(budget: int, max_tokens: int) -> dict[str, Any]:
    """`{"type": "enabled", "budget_tokens": budget}`, refusing budgets the API rejects."""
    if budget < MIN_THINKING_BUDGET:
        raise ValueError(f"a thinking budget must be at least {MIN_THINKING_BUDGET}")
    if budget >= max_tokens:
        raise ValueError("a thinking budget must be below max_tokens")
    return {"type": "enabled", "budget_tokens": budget}


def build_request(
    *,
    model: str,
    max_tokens: int,
    messages: Sequence[dict[str, Any]],
    system: str | None = None,
    tools: Sequence[dict[str, Any]] | None = None,
    thinking_budget: int | None = None,
    temperature: float | None = None,
    stream: bool = False,
    cache_system: bool = True,
) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "max_tokens": max_tokens, "messages": list(messages)}
    if system:
        block: dict[str, Any] = {"type": "text", "text": system}
        if cache_system:
            block["cache_control"] = {"type": "ephemeral"}
        body["system"] = [block]
    if tools:
        body["tools"] = list(tools)
    if thinking_budget is not None:
        body["thinking"] = thinking_config(thinking_budget, max_tokens)
        if temperature is not None and temperature != 1:
            raise ValueError("with thinking enabled the temperature must be 1")
    if temperature is not None:
        body["temperature"] = temperature
    if stream:
        body["stream"] = True
    return body


def _error_from(result: Any) -> AnthropicError:
    """The `AnthropicError` for a failed outbound call (FetchResult or StreamResult)."""
    if result.error == "http_status":
        kind, message = "api_error", f"HTTP {result.status}"
        try:
            data = jsonsafe.loads(result.body)
        except ValueError:
            data = None
        if isinstance(data, dict) and isinstance(data.get("error"), dict):
            kind = str(data["error"].get("type") or kind)
            message = str(data["error"].get("message") or message)
        return AnthropicError(kind, redact_text(message)[:300], result.status)
    messages = {
        "timeout": "Anthropic did not answer in time",
        "network": "Anthropic could not be reached",
        "budget_exhausted": "This request has used up its subrequests",
        "nested_slot": "internal error (nested call)",
    }
    kind = result.error or "api_error"
    return AnthropicError(kind, messages.get(kind, "Anthropic call failed"), result.status)


class AnthropicClient:
    """Calls for one request; `http` defaults to the request's outbound client."""

    def __init__(self, settings: AnthropicSettings, http: outbound.OutboundClient | None = None):
        self.settings = settings
        self._http = http

    @property
    def http(self) -> outbound.OutboundClient:
        return self._http if self._http is not None else outbound.client()

    def _headers(self) -> dict[str, str]:
        return {
            "x-api-key": self.settings.api_key,
            "anthropic-version": API_VERSION,
            "content-type": "application/json",
            "accept": "text/event-stream",
        }

    @property
    def url(self) -> str:
        return f"{self.settings.base_url.rstrip('/')}/v1/messages"

    async def stream(
        self, body: dict[str, Any], reader: StreamReader | None = None
    ) -> AsyncIterator[Piece]:
        """Stream one answer: yields text and thinking pieces and complete tool calls.

        Raises `AnthropicError` when the call fails, the stream reports an `error` event, a
        chunk takes longer than `READ_TIMEOUT`, or the answer ends early. The finished
        message (stop reason, content blocks, usage) is on `reader.message`."""
        if not self.settings.configured:
            raise AnthropicError("configuration", "Anthropic API key is not configured")
        reader = reader if reader is not None else StreamReader()
        payload = dict(body, stream=True)
        async with self.http.stream(
            service=SERVICE,
            url=self.url,
            method="POST",
            headers=self._headers(),
            json=payload,
            timeout=OPEN_TIMEOUT,
            read_timeout=READ_TIMEOUT,
            idempotent=True,  # creating a message changes nothing at Anthropic
        ) as result:
            if not result.ok:
                raise _error_from(result)
            try:
                async for chunk in result.iter_bytes():
                    for piece in reader.feed(chunk):
                        yield piece
                    reader.raise_failure()
                for piece in reader.end():
                    yield piece
                reader.raise_failure()
            except outbound.StreamReadError as exc:
                raise AnthropicError(exc.error, "the answer stream stalled or broke") from None
            except StreamFailed as exc:
                raise AnthropicError(exc.kind, redact_text(exc.message)[:300]) from None

    async def create(
        self,
        body: dict[str, Any],
        *,
        timeout: float = CREATE_TIMEOUT,
        retries: int = outbound.DEFAULT_RETRIES,
    ) -> dict[str, Any]:
        """One non-streamed call; returns the message JSON."""
        if not self.settings.configured:
            raise AnthropicError("configuration", "Anthropic API key is not configured")
        headers = self._headers()
        headers["accept"] = "application/json"
        result = await self.http.fetch(
            service=SERVICE,
            url=self.url,
            method="POST",
            headers=headers,
            json=dict(body, stream=False),
            timeout=timeout,
            retries=retries,
            idempotent=True,  # creating a message changes nothing at Anthropic
        )
        if not result.ok:
            raise _error_from(result)
        try:
            data = result.json()
        except ValueError:
            raise AnthropicError("invalid_response", "Anthropic's answer was not JSON") from None
        if not isinstance(data, dict):
            raise AnthropicError("invalid_response", "Anthropic's answer was not an object")
        return data


def message_text(message: dict[str, Any]) -> str:
    """The concatenated text blocks of a (non-streamed) message."""
    content = message.get("content")
    if not isinstance(content, list):
        return ""
    return "".join(
        str(block.get("text") or "")
        for block in content
        if isinstance(block, dict) and block.get("type") == "text"
    )


def first_json_object(text: str) -> dict[str, Any] | None:
    """The first JSON object in `text` (prose or code fences around it are ignored)."""
    decoder = json.JSONDecoder()
    start = text.find("{")
    while start >= 0:
        try:
            value, _ = decoder.raw_decode(text, start)
        except ValueError:
            start = text.find("{", start + 1)
            continue
        if isinstance(value, dict):
            return value
        start = text.find("{", start + 1)
    return None
