"""Small helpers that reproduce JavaScript number and date behaviour the web client sees."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# JavaScript's Date.prototype.toISOString shape, which zod's `.datetime()` accepts.
ISO_DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


def js_round(value: float) -> int:
    """Math.round: halves go up (towards +infinity), unlike Python's banker's rounding."""
    return math.floor(value + 0.5)


def clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


def fmt_num(value: float | int) -> str:
    """Render a number the way a JavaScript template literal does (7.0 -> "7", 7.5 -> "7.5")."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def iso_from_ms(epoch_ms: int) -> str:
    """Epoch milliseconds -> ``YYYY-MM-DDTHH:MM:SS.sssZ`` (what ``new Date(ms).toISOString()`` gives)."""
    ms = int(epoch_ms)
    moment = _EPOCH + timedelta(milliseconds=ms)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def ms_from_iso(text: str) -> int:
    """Parse an ISO-8601 UTC datetime (``Z`` suffix) to epoch milliseconds."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - _EPOCH
    return delta.days * 86_400_000 + delta.seconds * 1000 + delta.microseconds // 1000


def is_finite_number(value: object) -> bool:
    """A JSON number (bool excluded, as ``typeof x === 'number'`` would) that is finite."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
