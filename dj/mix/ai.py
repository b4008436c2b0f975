"""Claude answers for the mix: one non-streamed call, its text, thinking and first JSON object.

A thin layer over `dj.anthropic` (`AnthropicClient.create`, `build_request`), which checks
the thinking budget (at least 1024 and below `max_tokens`) and takes the dateless model ids
from the vars `ANTHROPIC_MODEL` / `ANTHROPIC_FAST_MODEL`.

Call sites (reference §4.1, 8-12) and what they use here:

| what                          | model | max_tokens | thinking | temperature |
|-------------------------------|-------|------------|----------|-------------|
| suggestions / auto-fill (#12) | main  | 4096       | 2048     | -           |
| steering, non-stream (#8)     | fast  | 500        | -        | 0.3         |
| steering, stream (#9)         | main  | 16000      | 4000     | -           |
| stream progress lines (#10)   | fast  | 100        | -        | 0.7         |
| stream suggestions (#11)      | main  | 2000       | -        | 0.8         |

#12 fixes §12.1: upstream sent a 2000-token thinking budget with `max_tokens` 2000, which the
API rejects.
"""

from __future__ import annotations

from typing import Any

from dj.anthropic import (
    AnthropicClient,
    AnthropicError,
    AnthropicSettings,
    build_request,
    first_json_object,
    message_text,
)
from runtime.context import Context
from runtime.records import record

SUGGESTION_MAX_TOKENS = 4096
SUGGESTION_THINKING = 2048
STEER_MAX_TOKENS = 500
STEER_TEMPERATURE = 0.3
STREAM_STEER_MAX_TOKENS = 16000
STREAM_STEER_THINKING = 4000
LINE_MAX_TOKENS = 100
LINE_TEMPERATURE = 0.7
STEER_SUGGESTION_MAX_TOKENS = 2000
STEER_SUGGESTION_TEMPERATURE = 0.8

__all__ = ["AIAnswer", "AnthropicError", "ai_available", "ask"]


@record(frozen=True)
class AIAnswer:
    text: str
    thinking: list[str]

    @property
    def json(self) -> dict[str, Any] | None:
        """The first JSON object in the text, or None."""
        return first_json_object(self.text)


def ai_available(c: Context) -> bool:
    return AnthropicSettings.from_context(c).configured


def _thinking_blocks(message: dict[str, Any]) -> list[str]:
    content = message.get("content")
    if not isinstance(content, list):
        return []
    return [
        str(block.get("thinking") or "")
        for block in content
        if isinstance(block, dict) and block.get("type") == "thinking" and block.get("thinking")
    ]


async def ask(
    c: Context,
    prompt: str,
    *,
    fast: bool = False,
    max_tokens: int,
    system: str | None = None,
    thinking_budget: int | None = None,
    temperature: float | None = None,
    timeout: float = 60.0,
    retries: int = 1,
) -> AIAnswer:
    """One user message to Claude; raises `AnthropicError` when the call fails."""
    settings = AnthropicSettings.from_context(c)
    body = build_request(
        model=settings.fast_model if fast else settings.model,
        max_tokens=max_tokens,
        messages=[{"role": "user", "content": prompt}],
        system=system,
        thinking_budget=thinking_budget,
        temperature=temperature,
        cache_system=False,
    )
    message = await AnthropicClient(settings).create(body, timeout=timeout, retries=retries)
    return AIAnswer(text=message_text(message), thinking=_thinking_blocks(message))
