"""The agentic loop: Claude's streamed turns, the tools it calls, and the fallbacks.

1. First turn: the main model with thinking (budget 5,000 of 10,000 tokens, temperature 1);
   every text delta goes to the client as `content` while it arrives. A failure here ends the
   chat with `Claude API failed: <reason>`.
2. While the last turn asked for tools, at most `max_turns` (5) times: if the last three
   turns asked for exactly the same calls, stop ("Detected repetitive tool calls, wrapping
   up..."); otherwise run the calls in the order Claude gave them, each input validated by
   the tool's pydantic model (a bad input, an unknown tool or a failing tool becomes an
   `is_error` tool_result Claude can react to), then ask again (5,000 tokens, temperature
   0.7, no thinking) with the assistant turn and the tool results appended.
   - The follow-up could not be opened: after content was sent, close with a short line
     ("Task completed successfully!"); before any, it is an error (as upstream).
   - It broke off mid-stream: with no text in that turn leave the loop; else keep the tool
     calls that were complete.
3. Final answer: when the turn limit was reached or the last turn produced no text, ask once
   more with a closing user line, thinking on if the API allows it there (see below). If that
   fails, apologise in `content` and name the tools that ran.

Thinking blocks (with their signatures) are kept in the assistant turns sent back, so the
final call may enable thinking when the last tool-using turn had thinking; otherwise it runs
without (the API refuses thinking when the last assistant tool turn lacks a thinking block,
which made upstream's final call fail after follow-up turns).

Before every Anthropic call and every tool the loop checks the stream: once the client is
gone nothing new starts (and the runtime cancels whatever was running).
"""

from __future__ import annotations

import json
from contextlib import aclosing
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from runtime.records import field, record
from runtime.sse import StreamClosed

from ..anthropic import AnthropicError, build_request
from ..anthropic_sse import StreamReader, TextPiece, ToolCall
from .tools.registry import ToolContext, ToolError, ToolRegistry, validation_message

if TYPE_CHECKING:
    from runtime.logging import ServiceLogger

    from ..anthropic import AnthropicClient

MAX_TURNS = 5
REPEAT_WINDOW = 3
FIRST_MAX_TOKENS = 10_000
THINKING_BUDGET = 5_000
FOLLOW_MAX_TOKENS = 5_000
FOLLOW_TEMPERATURE = 0.7
MAX_TOOL_RESULT = 100_000

ANALYZING = "Analyzing your request..."
USING_TOOLS = "Using Spotify tools..."
PREPARING = "Preparing response..."
PREPARING_FINAL = "Preparing final response..."
REPETITIVE = "Detected repetitive tool calls, wrapping up..."
COMPLETED = "\n\nTask completed successfully!"
FINAL_REQUEST = "Please answer now, using what the tools you called have returned."


class ChatFailure(Exception):
    """Ends the chat with an `error` event carrying this message."""


@record
class LoopStats:
    turns: int = 0
    anthropic_calls: int = 0
    tools_run: list[str] = field(default_factory=list)
    stopped_for_repetition: bool = False
    final_call: bool = False


def signature(calls: list[ToolCall]) -> str:
    return ",".join(
        f"{c.name}({json.dumps(c.input, sort_keys=True, separators=(',', ':'))})" for c in calls
    )


class ChatLoop:
    def __init__(
        self,
        *,
        client: AnthropicClient,
        events: Any,
        tools: ToolRegistry,
        tool_context: ToolContext,
        system: str,
        logger: ServiceLogger,
        max_turns: int = MAX_TURNS,
    ) -> None:
        self.client = client
        self.events = events
        self.tools = tools
        self.ctx = tool_context
        self.system = system
        self.log = logger
        self.max_turns = max_turns
        self.content = ""
        self.stats = LoopStats()
        self._schemas = tools.schemas()

    # -- requests -----------------------------------------------------------------------
    def _body(self, messages: list[dict[str, Any]], *, thinking: bool) -> dict[str, Any]:
        model = self.client.settings.model
        if thinking:
            return build_request(
                model=model,
                max_tokens=FIRST_MAX_TOKENS,
                thinking_budget=THINKING_BUDGET,
                temperature=1.0,
                system=self.system,
                messages=messages,
                tools=self._schemas,
            )
        return build_request(
            model=model,
            max_tokens=FOLLOW_MAX_TOKENS,
            temperature=FOLLOW_TEMPERATURE,
            system=self.system,
            messages=messages,
            tools=self._schemas,
        )

    async def _turn(self, body: dict[str, Any], reader: StreamReader) -> None:
        """One streamed call; text goes to the client as it arrives."""
        self.events.check()
        self.stats.anthropic_calls += 1
        async with aclosing(self.client.stream(body, reader)) as pieces:
            async for piece in pieces:
                if isinstance(piece, TextPiece):
                    self.content += piece.text
                    await self.events.send("content", piece.text)

    # -- the loop -----------------------------------------------------------------------
    async def run(self, messages: list[dict[str, Any]]) -> str:
        conversation = list(messages)
        self.events.send_nowait("thinking", ANALYZING)
        reader = StreamReader()
        try:
            await self._turn(self._body(conversation, thinking=True), reader)
        except AnthropicError as exc:
            self.log.error("first Claude call failed", kind=exc.kind, status=exc.status)
            raise ChatFailure(f"Claude API failed: {exc.message}") from None
        turn_text = reader.message.text
        calls = reader.message.tool_calls
        assistant = reader.message.content()
        signatures: list[str] = []

        while calls and self.stats.turns < self.max_turns:
            self.stats.turns += 1
            signatures.append(signature(calls))
            recent = signatures[-REPEAT_WINDOW:]
            if len(recent) == REPEAT_WINDOW and len(set(recent)) == 1:
                self.log.warn(
                    "same tool calls three turns running: stopping", calls=recent[0][:200]
                )
                self.stats.stopped_for_repetition = True
                self.events.send_nowait("thinking", REPETITIVE)
                break
            self.events.send_nowait("thinking", USING_TOOLS)
            results = [await self._run_tool(call) for call in calls]
            self.events.send_nowait("thinking", PREPARING)
            conversation.append({"role": "assistant", "content": assistant})
            conversation.append({"role": "user", "content": results})
            reader = StreamReader()
            try:
                await self._turn(self._body(conversation, thinking=False), reader)
            except AnthropicError as exc:
                if not reader.message.started:
                    self.log.error("follow-up Claude call failed", kind=exc.kind, status=exc.status)
                    if self.content:
                        self.content += COMPLETED
                        await self.events.send("content", COMPLETED)
                        return self.content
                    raise ChatFailure(f"Claude API failed: {exc.message}") from None
                self.log.warn("follow-up answer broke off", kind=exc.kind)
                if not reader.message.text:
                    turn_text = ""
                    break
            turn_text = reader.message.text
            calls = reader.message.tool_calls
            assistant = reader.message.content()

        if self.stats.turns >= self.max_turns or not turn_text:
            await self._final(conversation)
        return self.content

    async def _final(self, conversation: list[dict[str, Any]]) -> None:
        self.stats.final_call = True
        conversation.append({"role": "user", "content": FINAL_REQUEST})
        self.events.send_nowait("thinking", PREPARING_FINAL)
        reader = StreamReader()
        try:
            await self._turn(
                self._body(conversation, thinking=_thinking_allowed(conversation)), reader
            )
        except AnthropicError as exc:
            self.log.error("final Claude call failed", kind=exc.kind, status=exc.status)
            names = list(dict.fromkeys(self.stats.tools_run))
            if names:
                text = (
                    "Something went wrong while I was writing my answer. These tools ran: "
                    f"{', '.join(names)}. Ask me about anything you would like to know from them."
                )
            else:
                text = "Something went wrong while I was writing my answer. Please try again."
            self.content += text
            await self.events.send("content", text)

    # -- tools --------------------------------------------------------------------------
    async def _run_tool(self, call: ToolCall) -> dict[str, Any]:
        self.events.check()
        tool = self.tools.get(call.name)
        if tool is None:
            self.log.warn("Claude asked for an unknown tool", tool=call.name[:64])
            return _error_result(call, f"Error: Tool {call.name} not found")
        if call.input_error is not None:
            return _error_result(call, f"Error: {call.input_error}")
        try:
            args = tool.parse(call.input, self.ctx.playlist_id)
        except ValidationError as exc:
            reason = validation_message(exc)
            self.log.warn("tool input failed validation", tool=call.name, issues=reason)
            return _error_result(call, f"Error: invalid input for {call.name}: {reason}")
        await self.events.send("tool_start", {"tool": tool.name, "args": tool.show_args(args)})
        self.stats.tools_run.append(tool.name)
        try:
            output = await tool.run(self.ctx, args)
        except StreamClosed:
            raise
        except ToolError as exc:
            message = str(exc)
            self.log.warn("tool failed", tool=tool.name, reason=message)
        except AnthropicError as exc:
            message = f"Claude call failed: {exc.message}"
            self.log.warn("tool failed", tool=tool.name, reason=message)
        except Exception as exc:
            self.log.error("tool raised", exc, tool=tool.name)
            message = "the tool failed unexpectedly"
        else:
            await self.events.send("tool_end", {"tool": tool.name, "result": output.summary})
            content = json.dumps(output.result, ensure_ascii=False, separators=(",", ":"))
            if len(content) > MAX_TOOL_RESULT:
                content = content[:MAX_TOOL_RESULT] + "...(truncated)"
            return {"type": "tool_result", "tool_use_id": call.id, "content": content}
        await self.events.send("tool_end", {"tool": tool.name, "result": f"Failed: {message}"})
        return _error_result(call, f"Error: {message}")


def _error_result(call: ToolCall, message: str) -> dict[str, Any]:
    return {"type": "tool_result", "tool_use_id": call.id, "content": message, "is_error": True}


def _thinking_allowed(conversation: list[dict[str, Any]]) -> bool:
    """Thinking may be on when the last assistant turn that used tools began with thinking."""
    for message in reversed(conversation):
        if message.get("role") != "assistant" or not isinstance(message.get("content"), list):
            continue
        blocks = message["content"]
        if any(b.get("type") == "tool_use" for b in blocks):
            return bool(blocks) and blocks[0].get("type") in ("thinking", "redacted_thinking")
    return True
