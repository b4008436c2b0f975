"""The chat request and the `[Playlist ID: ...]` prefix the web client puts on messages."""

import re
from typing import Literal

from pydantic import BaseModel, Field

MAX_MESSAGE = 2000
MAX_HISTORY = 20
# The web client's prefix; no DOTALL, as upstream: a newline right after the prefix keeps the
# message unmatched (the prefix then stays part of the text).
_PLAYLIST_PREFIX = re.compile(r"^\[Playlist ID: ([^\]]+)\] (.+)\Z")

Mode = Literal["analyze", "create", "dj", "edit"]


class HistoryMessage(BaseModel):
    role: Literal["user", "assistant"]
    content: str


class ChatRequest(BaseModel):
    """`POST /api/chat-stream/message`. Unknown fields are ignored, as upstream."""

    message: str = Field(min_length=1, max_length=MAX_MESSAGE)
    conversationHistory: list[HistoryMessage] = Field([], max_length=MAX_HISTORY)
    mode: Mode = "analyze"


def split_playlist_prefix(message: str) -> tuple[str | None, str]:
    """`("<id>", "<rest>")` for `[Playlist ID: <id>] <rest>`, else `(None, message)`."""
    match = _PLAYLIST_PREFIX.match(message)
    if match is None:
        return None, message
    return match.group(1).strip() or None, match.group(2)
