"""Errors a handler may raise, and the JSON envelopes clients see.

Two envelopes, as the web client expects (dj-api-reference §1.1, §13.14):
- handler errors: `{"error": "<message>", ...extra}`
- validation errors: `{"success": false, "error": {"name", "message", "issues"}}`
"""

from __future__ import annotations

import json
from typing import Any

from .http import Response


class HTTPError(Exception):
    """Raise from a handler to answer with `status` and `{"error": message, **extra}`."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}
        self.extra = extra

    def to_response(self) -> Response:
        return Response.json({"error": self.message, **self.extra}, self.status, self.headers)


class ValidationFailed(HTTPError):
    """One or more inputs failed their models; `issues` names each field and why."""

    def __init__(self, issues: list[dict[str, Any]], status: int = 400) -> None:
        super().__init__(status, "Validation failed")
        self.issues = issues

    def to_response(self) -> Response:
        return Response.json(validation_envelope(self.issues), self.status)


def validation_envelope(issues: list[dict[str, Any]]) -> dict[str, Any]:
    # `message` carries the issues as a JSON string, like zod-validator's default hook, so the
    # web client's error display keeps working; `issues` is the same list, structured.
    return {
        "success": False,
        "error": {
            "name": "ValidationError",
            "message": json.dumps(issues, separators=(",", ":"), ensure_ascii=False),
            "issues": issues,
        },
    }
