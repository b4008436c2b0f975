"""Tools Claude may call: a pydantic input model each, its JSON schema generated from it.

A `Tool` is data: name, description, input model, the coroutine that runs it, how its
arguments are shown in `tool_start` (most show the validated input; a few a summary, as
upstream), and whether a missing `playlist_id` is filled from the chat's playlist.

`ToolContext` is what a tool may use: the user's Spotify client, the Anthropic client and
models, the chat's playlist and mode, the narrator, and `thinking(...)` to send progress to
the client while the tool runs.
"""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from runtime.records import field, record

if TYPE_CHECKING:
    from runtime.context import Context
    from runtime.logging import ServiceLogger

    from ...anthropic import AnthropicClient
    from ...spotify import SpotifyClient
    from ..narrator import Narrator


class ToolError(RuntimeError):
    """A failure whose message is fit for Claude and the client (no secrets, no input)."""


@record
class ToolOutput:
    """What a tool returns: the result Claude sees (JSON) and a short line for `tool_end`."""

    result: Any
    summary: str


@record
class ToolContext:
    spotify: SpotifyClient
    anthropic: AnthropicClient
    events: Any  # runtime.sse.EventStream (send, send_nowait, check)
    narrator: Narrator
    logger: ServiceLogger
    token: str
    playlist_id: str | None = None
    mode: str = "analyze"
    user_request: str = ""
    request: Context | None = None
    recent_messages: list[str] = field(default_factory=list)

    async def thinking(self, message: str) -> None:
        """A progress line for the client, sent now (it arrives while the tool runs)."""
        self.events.check()
        await self.events.send("thinking", message)

    def check(self) -> None:
        """Raise if the client has gone: call before each upstream call in a long tool."""
        self.events.check()


Runner = Callable[[ToolContext, Any], Awaitable[ToolOutput]]
ArgsView = Callable[[Any], dict[str, Any]]


def _dump(args: BaseModel) -> dict[str, Any]:
    return args.model_dump(mode="json")


@record(frozen=True)
class Tool:
    name: str
    description: str
    input_model: type[BaseModel]
    run: Runner
    show_args: ArgsView = _dump
    inject_playlist: bool = False

    def schema(self) -> dict[str, Any]:
        """The tool as the Messages API takes it: name, description, input_schema."""
        return {
            "name": self.name,
            "description": self.description,
            "input_schema": input_schema(self.input_model),
        }

    def parse(self, raw: dict[str, Any], playlist_id: str | None) -> BaseModel:
        data = dict(raw)
        if self.inject_playlist and not data.get("playlist_id") and playlist_id:
            data["playlist_id"] = playlist_id
        return self.input_model.model_validate(data)


def input_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema, `$ref`s inlined and titles dropped: `{type: object, ...}`."""
    raw = model.model_json_schema(mode="validation")
    defs = raw.pop("$defs", {})
    schema = _inline(raw, defs)
    schema.setdefault("properties", {})
    schema["type"] = "object"
    return schema


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            target = copy.deepcopy(defs[ref.rsplit("/", 1)[-1]])
            extra = {k: v for k, v in node.items() if k != "$ref"}
            merged = _inline(target, defs)
            merged.update(_inline(extra, defs))
            return merged
        return {k: _inline(v, defs) for k, v in node.items() if k != "title"}
    if isinstance(node, list):
        return [_inline(item, defs) for item in node]
    return node


class ToolRegistry:
    def __init__(self, tools: list[Tool]) -> None:
        names = [t.name for t in tools]
        if len(names) != len(set(names)):
            raise ValueError("tool names must be unique")
        self._tools = {t.name: t for t in tools}

    def get(self, name: str) -> Tool | None:
        return self._tools.get(name)

    @property
    def names(self) -> list[str]:
        return list(self._tools)

    def schemas(self) -> list[dict[str, Any]]:
        return [tool.schema() for tool in self._tools.values()]


def validation_message(exc: ValidationError) -> str:
    """`field: reason; ...` for Claude to correct its call (never the input itself)."""
    parts = []
    for item in exc.errors(include_url=False, include_input=False)[:5]:
        where = ".".join(str(p) for p in item["loc"]) or "input"
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)
