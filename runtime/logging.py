"""Structured logging: one JSON object per line, secrets redacted wherever they appear.

On Workers `print` ends up in the isolate's console (and in Workers Logs); locally the host
prints the same lines. The request id comes from the request context, so a logger created
anywhere inside a request is correlated without being passed around.
"""

from __future__ import annotations

import json
import re
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any, TextIO

LEVELS = {"debug": 10, "info": 20, "warn": 30, "error": 40}

REDACTED = "[redacted]"

# Keys whose values are secrets whatever they hold.
_SECRET_KEY = re.compile(
    r"(authorization|cookie|set-cookie|token|secret|api[_-]?key|apikey|password|"
    r"client[_-]?secret|refresh|verifier|code_verifier|signature)",
    re.IGNORECASE,
)
# Secrets that turn up inside free text: bearer tokens, query-string keys, cookie pairs.
_SECRET_TEXT = [
    # Header lines pasted into text: the whole value goes (Basic credentials, cookie lists).
    (
        re.compile(
            r"(?im)\b(authorization|proxy-authorization|cookie|set-cookie)(\s*:\s*)[^\r\n]+"
        ),
        r"\1\2" + REDACTED,
    ),
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"), r"\1" + REDACTED),
    (re.compile(r"(?i)\b(basic\s+)[A-Za-z0-9+/]{8,}={0,2}"), r"\1" + REDACTED),
    # JSON text (an upstream error body, say): "access_token": "..."
    (
        re.compile(
            r"(?i)(\"(?:api_key|apikey|access_token|refresh_token|id_token|client_secret|"
            r"code_verifier|password|secret|token)\"\s*:\s*)\"[^\"]*\""
        ),
        r'\1"' + REDACTED + '"',
    ),
    (
        re.compile(
            r"(?i)\b(api_key|apikey|access_token|refresh_token|client_secret|code_verifier|"
            r"token|code|key|spotify_token)=([^&\s\"']+)"
        ),
        r"\1=" + REDACTED,
    ),
    (re.compile(r"(?i)\b(spotify_refresh|spotify_oauth)=([^;\s\"']+)"), r"\1=" + REDACTED),
    (re.compile(r"\bsk-ant-[A-Za-z0-9_-]+"), REDACTED),
]


def is_secret_key(name: str) -> bool:
    """Whether a field, header or query parameter called `name` holds a secret."""
    return bool(_SECRET_KEY.search(name))


def redact_text(text: str) -> str:
    for pattern, replacement in _SECRET_TEXT:
        text = pattern.sub(replacement, text)
    return text


def redact(value: Any, _depth: int = 0) -> Any:
    """A copy of `value` with secrets replaced, for logs and anything sent to a client."""
    if _depth > 8:
        return "..."
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if (
                isinstance(key, str)
                and _SECRET_KEY.search(key)
                and item not in (None, "")
                # Counts are not secrets: `max_tokens`, `output_tokens`, `refresh_in`.
                and not isinstance(item, (int, float, bool))
            ):
                out[key] = REDACTED
            else:
                out[str(key)] = redact(item, _depth + 1)
        return out
    if isinstance(value, (list, tuple)):
        if (
            len(value) == 2
            and isinstance(value[0], str)
            and _SECRET_KEY.search(value[0])
            and value[1] not in (None, "")
            and not isinstance(value[1], (int, float, bool))
        ):
            return [value[0], REDACTED]  # a (name, value) header pair
        return [redact(item, _depth + 1) for item in value]
    if isinstance(value, (int, float, bool)) or value is None:
        return value
    return redact_text(str(value))


def _request_id() -> str | None:
    from .context import current_or_none

    ctx = current_or_none()
    return ctx.request_id if ctx is not None and ctx.request_id else None


class ServiceLogger:
    """Logger for one service; `child("x")` gives `service:x` with the same sink and level."""

    def __init__(
        self,
        service: str,
        *,
        level: str = "debug",
        sink: Callable[[str], None] | None = None,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.time,
        request_id: str | None = None,
    ) -> None:
        self.service = service
        self.level = level
        self._threshold = LEVELS[level]
        self._stream = stream
        self._sink = sink
        self._clock = clock
        self._request_id = request_id
        self.listeners: list[Callable[[dict[str, Any]], None]] = []

    def child(self, name: str) -> ServiceLogger:
        child = ServiceLogger(
            f"{self.service}:{name}",
            level=self.level,
            sink=self._sink,
            stream=self._stream,
            clock=self._clock,
            request_id=self._request_id,
        )
        child.listeners = self.listeners
        return child

    def bind_request(self, request_id: str) -> None:
        self._request_id = request_id

    def _emit(self, level: str, message: str, fields: dict[str, Any] | None) -> dict[str, Any]:
        record: dict[str, Any] = {
            "ts": _iso(self._clock()),
            "level": level,
            "service": self.service,
        }
        rid = self._request_id or _request_id()
        if rid:
            record["requestId"] = rid
        record["msg"] = redact_text(message)
        if fields:
            record["fields"] = redact(fields)
        if LEVELS[level] >= self._threshold:
            line = json.dumps(record, default=str, separators=(",", ":"))
            if self._sink is not None:
                self._sink(line)
            else:
                print(line, file=self._stream or (sys.stderr if level == "error" else sys.stdout))
        for listener in self.listeners:
            try:
                listener(record)
            except Exception:  # a broken listener must never break the code that logs
                pass
        return record

    def debug(self, message: str, **fields: Any) -> None:
        self._emit("debug", message, fields)

    def info(self, message: str, **fields: Any) -> None:
        self._emit("info", message, fields)

    def warn(self, message: str, **fields: Any) -> None:
        self._emit("warn", message, fields)

    warning = warn

    def error(self, message: str, error: BaseException | None = None, **fields: Any) -> None:
        """Log an error with its type and message; the trace stays in this server-side line."""
        if error is not None:
            fields["error"] = {"type": type(error).__name__, "message": str(error)}
            fields["trace"] = "".join(
                traceback.format_exception(type(error), error, error.__traceback__)
            )
        self._emit("error", message, fields)


def _iso(ts: float) -> str:
    whole = int(ts)
    millis = int((ts - whole) * 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{millis:03d}Z"
