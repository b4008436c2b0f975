"""Progress lines while the chat works: a rate gate and short lines written by the fast model.

`ProgressThrottler` lets a narrated line through on first use and then at most once per
`min_interval` seconds; plain progress messages are not gated. `Narrator` asks the fast model
(`ANTHROPIC_FAST_MODEL`) for a one-line status (under 80 characters, no emoji) and falls back
to fixed lines when the call fails or takes too long. Lines are cached per request by event,
tool, request and progress, so a repeated phase costs no second call.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..anthropic import AnthropicError, build_request, message_text

if TYPE_CHECKING:
    from runtime.logging import ServiceLogger

    from ..anthropic import AnthropicClient

DEFAULT_MIN_INTERVAL = 5.0
NARRATOR_TIMEOUT = 4.0
MAX_LINE = 120
CACHE_SIZE = 100

FALLBACKS: dict[str, str] = {
    "started": "Getting started...",
    "enrichment_analysis": "Looking through your playlist...",
    "enrichment_deezer": "Enriching tracks with audio data...",
    "enrichment_lastfm": "Gathering listener tags and similar tracks...",
    "enrichment_complete": "Pulling the analysis together...",
}
DEFAULT_FALLBACK = "Working on it..."

SYSTEM_PROMPT = """You write the single status line a music assistant shows while it works.

The assistant helps people explore and build Spotify playlists. While it searches, reads
playlists, checks tempo data on Deezer and listener tags on Last.fm, a short line tells the
person what is going on. You write that line.

Rules:
- One line, under 80 characters, present tense, no emoji, no quotation marks.
- Say what is happening now, in the language of someone who loves music, warm but plain.
- Name the actual step (reading tracks, checking tempos, gathering listener tags) instead of
  saying "processing" or "loading".
- Never invent facts about the person's music: you only know the step and their request.
- Never repeat one of the previous lines you are shown; vary the wording.
- Answer with the line only: no preface, no explanation.

Steps you will be asked about:
- started: the assistant has just received the request.
- enrichment_analysis: it is reading the playlist's tracks and metadata.
- enrichment_deezer: it is looking up tempo (BPM), chart rank and loudness on Deezer.
- enrichment_lastfm: it is gathering listener tags, play counts and similar tracks on Last.fm.
- enrichment_complete: the numbers are in and it is summarising them.
"""


class ProgressThrottler:
    """`should_send()` is True on first use, then once `min_interval` seconds have passed."""

    def __init__(
        self,
        min_interval: float = DEFAULT_MIN_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.min_interval = min_interval
        self._clock = clock
        self._last: float | None = None
        self.sent = 0
        self.suppressed = 0

    def should_send(self) -> bool:
        now = self._clock()
        if self._last is None or now - self._last >= self.min_interval:
            self._last = now
            self.sent += 1
            return True
        self.suppressed += 1
        return False

    def force_send(self) -> None:
        self._last = self._clock()
        self.sent += 1

    def reset(self) -> None:
        self._last = None
        self.sent = 0
        self.suppressed = 0

    def time_until_next(self) -> float:
        if self._last is None:
            return 0.0
        return max(0.0, self.min_interval - (self._clock() - self._last))

    def summary(self) -> dict[str, Any]:
        return {"sent": self.sent, "suppressed": self.suppressed, "min_interval": self.min_interval}


def clean_line(text: str) -> str:
    """The first non-empty line, without quotes or markdown, at most `MAX_LINE` characters."""
    for line in text.splitlines():
        line = line.strip().strip("\"'`*").strip()
        if line:
            return line if len(line) <= MAX_LINE else line[: MAX_LINE - 3].rstrip() + "..."
    return ""


class Narrator:
    """Status lines for one request. Without a client it only uses the fixed lines."""

    def __init__(
        self,
        client: AnthropicClient | None,
        *,
        logger: ServiceLogger | None = None,
        timeout: float = NARRATOR_TIMEOUT,
    ) -> None:
        self._client = client
        self._logger = logger
        self._timeout = timeout
        self._cache: OrderedDict[str, str] = OrderedDict()
        self.previous: list[str] = []
        self.calls = 0

    async def message(
        self,
        event_type: str,
        *,
        user_request: str = "",
        tool_name: str | None = None,
        progress: int | None = None,
    ) -> str:
        key = f"{event_type}:{tool_name or ''}:{user_request[:20]}:{progress if progress is not None else ''}"
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        line = await self._ask(event_type, user_request, tool_name, progress)
        self._cache[key] = line
        while len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)
        self.previous = [*self.previous[-1:], line]
        return line

    async def _ask(
        self, event_type: str, user_request: str, tool_name: str | None, progress: int | None
    ) -> str:
        fallback = FALLBACKS.get(event_type, DEFAULT_FALLBACK)
        if self._client is None or not self._client.settings.configured:
            return fallback
        facts = [f"Step: {event_type}"]
        if tool_name:
            facts.append(f"Tool: {tool_name}")
        if progress is not None:
            facts.append(f"Progress: {progress}%")
        if user_request:
            facts.append(f"Their request: {user_request[:200]}")
        if self.previous:
            facts.append("Previous lines: " + " | ".join(self.previous))
        body = build_request(
            model=self._client.settings.fast_model,
            max_tokens=100,
            temperature=0.7,
            system=SYSTEM_PROMPT,
            messages=[{"role": "user", "content": "\n".join(facts)}],
        )
        self.calls += 1
        try:
            message = await self._client.create(body, timeout=self._timeout, retries=0)
        except AnthropicError as exc:
            if self._logger is not None:
                self._logger.warn("narration fell back to a fixed line", reason=exc.kind)
            return fallback
        return clean_line(message_text(message)) or fallback
