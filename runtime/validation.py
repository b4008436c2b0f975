"""Turning raw request parts into the route's declared models, or into clear issues."""

from __future__ import annotations

import json
from types import UnionType
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from .errors import HTTPError, ValidationFailed
from .http import Headers
from .jsonsafe import JSONTooDeep, loads

# What a validation issue may echo back: never the whole input (a 2,000-character chat
# message must not come back in the error), only a short, typed hint of it.
_MAX_ECHO = 64


def issues_from(error: ValidationError, location: str) -> list[dict[str, Any]]:
    issues = []
    for item in error.errors(include_url=False, include_input=False):
        issue: dict[str, Any] = {
            "in": location,
            "path": [p for p in item["loc"] if p != "__root__"],
            "code": item["type"],
            "message": item["msg"],
        }
        ctx = item.get("ctx")
        if ctx:
            issue["limits"] = {k: _short(v) for k, v in ctx.items() if k != "error"}
        issues.append(issue)
    return issues


def _short(value: Any) -> Any:
    if isinstance(value, (int, float, bool)) or value is None:
        return value
    text = str(value)
    return text if len(text) <= _MAX_ECHO else text[:_MAX_ECHO] + "..."


BODY_ERROR_ATTR = "invalid_body_message"
"""A body model may set this `ClassVar[str]`: a body that fails it is then answered
`400 {"error": <message>}` instead of the validation envelope (a client contract that reads
`error` as a string)."""


def validate(model: type[BaseModel], data: Any, location: str) -> BaseModel:
    """`data` as `model`, or `ValidationFailed` naming every issue.

    A JSON body is validated strictly, as zod did in the TypeScript worker: no bool for a
    number, no number for a boolean, no number for a string, no `"yes"` for a boolean (an
    integer is still a valid float). Path, query and header values are strings by nature and
    stay lax (`?limit=20` is an integer)."""
    try:
        return model.model_validate(data, strict=location == "body")
    except ValidationError as exc:
        message = getattr(model, BODY_ERROR_ATTR, None) if location == "body" else None
        if isinstance(message, str):
            raise HTTPError(400, message) from None
        raise ValidationFailed(issues_from(exc, location)) from None


def _is_sequence(annotation: Any) -> bool:
    """`list[str]`, `tuple[...]`, `set[...]`, also when optional (`list[str] | None`)."""
    if get_origin(annotation) in (list, tuple, set, frozenset):
        return True
    if get_origin(annotation) in (Union, UnionType):
        return any(_is_sequence(arg) for arg in get_args(annotation) if arg is not type(None))
    return False


def query_data(model: type[BaseModel], items: list[tuple[str, str]]) -> dict[str, Any]:
    """Query items as a dict; fields declared as lists collect repeated keys."""
    list_fields = {
        (f.alias or name) for name, f in model.model_fields.items() if _is_sequence(f.annotation)
    }
    data: dict[str, Any] = {}
    for key, value in items:
        if key in list_fields:
            data.setdefault(key, []).append(value)
        else:
            data.setdefault(key, value)
    return data


def header_data(model: type[BaseModel], headers: Headers) -> dict[str, Any]:
    """Header values keyed by field name: `x_request_id` reads `X-Request-Id`."""
    data: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        header = (field.alias or name).replace("_", "-")
        value = headers.get(header)
        if value is not None:
            data[field.alias or name] = value
    return data


def parse_json(raw: bytes) -> Any:
    if not raw.strip():
        raise ValidationFailed(
            [
                {
                    "in": "body",
                    "path": [],
                    "code": "invalid_json",
                    "message": "Body is empty; expected JSON",
                }
            ]
        )
    try:
        return loads(raw)
    except JSONTooDeep as exc:
        raise ValidationFailed(
            [
                {
                    "in": "body",
                    "path": [],
                    "code": "json_too_deep",
                    "message": f"Invalid JSON: arrays and objects {exc.msg}",
                }
            ]
        ) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "not UTF-8"
        raise ValidationFailed(
            [
                {
                    "in": "body",
                    "path": [],
                    "code": "invalid_json",
                    "message": f"Invalid JSON: {reason}",
                }
            ]
        ) from None
