"""Every constraint the runtime enforces on a request field is visible in the OpenAPI document.

The runtime validates requests with the routes' pydantic models; clients only see the
document. The walk below is generic: every route of the DJ API, every request model (path,
query, headers, body), every field, nested models and `Annotated` types inside unions and
lists, and each numeric or length bound found there must appear as its JSON Schema keyword.
"""

from __future__ import annotations

import typing
from collections.abc import Iterator
from typing import Any

import annotated_types as at
import pytest
from openapi_spec_validator import validate
from pydantic import BaseModel

from djbuild.openapi import build_document, json_schema_keywords
from routes.app import app as dj_app

# annotated-types constraint -> the JSON Schema keywords that may express it
KEYWORDS: dict[type, tuple[str, str]] = {
    at.Ge: ("ge", "minimum"),
    at.Gt: ("gt", "exclusiveMinimum"),
    at.Le: ("le", "maximum"),
    at.Lt: ("lt", "exclusiveMaximum"),
    at.MultipleOf: ("multiple_of", "multipleOf"),
    at.MinLen: ("min_length", "minLength|minItems"),
    at.MaxLen: ("max_length", "maxLength|maxItems"),
}
PYDANTIC_NAMES = {"ge", "gt", "le", "lt", "multiple_of", "min_length", "max_length"}


def _constraints(metadata: list[Any]) -> Iterator[tuple[str, Any]]:
    for item in metadata:
        for cls, (attr, keyword) in KEYWORDS.items():
            if isinstance(item, cls):
                yield keyword, getattr(item, attr)
        # pydantic.Field(...) inside Annotated carries its own metadata list
        yield from _constraints(list(getattr(item, "metadata", []) or []))


def _walk_type(tp: Any) -> Iterator[tuple[str, Any] | type[BaseModel]]:
    """Constraints found inside a type, and the models nested in it."""
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        yield tp
        return
    if typing.get_origin(tp) is typing.Annotated:
        base, *meta = typing.get_args(tp)
        yield from _constraints(meta)
        yield from _walk_type(base)
        return
    for arg in typing.get_args(tp):
        yield from _walk_type(arg)


def field_constraints(model: type[BaseModel]) -> Iterator[tuple[str, str, Any]]:
    """(field name as sent, JSON Schema keyword(s), value) for each bound of each field."""
    for name, field in model.model_fields.items():
        key = field.alias or name
        for keyword, value in _constraints(list(field.metadata)):
            yield key, keyword, value
        for found in _walk_type(field.annotation):
            if isinstance(found, tuple):
                yield key, *found


def request_models() -> Iterator[tuple[Any, str, type[BaseModel]]]:
    for route in dj_app.all_routes():
        if not route.include_in_schema:
            continue
        for location, model in (
            ("path", route.path_model),
            ("query", route.query),
            ("header", route.headers),
            ("body", route.body),
        ):
            if model is not None:
                yield route, location, model


def nested_models(model: type[BaseModel], seen: set[type]) -> Iterator[type[BaseModel]]:
    if model in seen:
        return
    seen.add(model)
    yield model
    for field in model.model_fields.values():
        for found in _walk_type(field.annotation):
            if isinstance(found, type):
                yield from nested_models(found, seen)


def _has_keyword(schema: Any, keywords: str, value: Any, doc: dict, depth: int = 0) -> bool:
    if depth > 12 or not isinstance(schema, dict):
        return False
    if any(schema.get(k) == value for k in keywords.split("|")):
        return True
    if "$ref" in schema:
        target = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
        if _has_keyword(target, keywords, value, doc, depth + 1):
            return True
    subs = [*schema.get("anyOf", []), *schema.get("allOf", []), *schema.get("oneOf", [])]
    if isinstance(schema.get("items"), dict):
        subs.append(schema["items"])
    return any(_has_keyword(s, keywords, value, doc, depth + 1) for s in subs)


def _component_for(model: type[BaseModel], doc: dict, prop: str) -> dict:
    # pydantic names a model by its class, prefixed with its module when two classes clash
    names = {model.__name__, f"{model.__module__.replace('.', '__')}__{model.__name__}"}
    for name, schema in doc["components"]["schemas"].items():
        if name.split("-")[0] in names and prop in schema.get("properties", {}):
            return schema
    raise AssertionError(f"no component schema for {model.__name__} with property {prop}")


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return build_document(dj_app)


def test_the_dj_api_document_is_valid_openapi_31(doc: dict[str, Any]) -> None:
    validate(doc)


def test_every_enforced_request_bound_is_a_json_schema_keyword(doc: dict[str, Any]) -> None:
    checked = 0
    missing: list[str] = []
    paths = doc["paths"]
    for route, location, model in request_models():
        op = paths[route.path.rstrip("/") or "/"][route.method.lower()]
        if location != "body":
            params = {p["name"]: p for p in op.get("parameters", []) if p["in"] == location}
            for key, keyword, value in field_constraints(model):
                name = key.replace("_", "-").title() if location == "header" else key
                checked += 1
                if not _has_keyword(params[name]["schema"], keyword, value, doc):
                    missing.append(f"{route.method} {route.path} {location} {name}: {keyword}")
            continue
        for sub in nested_models(model, set()):
            for key, keyword, value in field_constraints(sub):
                checked += 1
                prop = _component_for(sub, doc, key)["properties"][key]
                if not _has_keyword(prop, keyword, value, doc):
                    missing.append(f"{sub.__name__}.{key}: {keyword} {value}")
    assert missing == []
    # the DJ API bounds volumes, positions, counts, BPM ranges, energy levels, years...
    assert checked >= 30


def test_no_pydantic_constraint_name_is_left_in_a_schema(doc: dict[str, Any]) -> None:
    leaks: list[str] = []

    def walk(node: Any, where: str, in_map: bool = False) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if not in_map and key in PYDANTIC_NAMES:
                    leaks.append(f"{where}/{key}")
                walk(value, f"{where}/{key}", key in ("properties", "schemas", "paths"))
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{where}/{i}")

    walk(doc, "")
    assert leaks == []


def test_bounds_on_a_union_move_to_json_schema_keywords() -> None:
    schema = {
        "properties": {
            "ge": {"anyOf": [{"type": "integer"}, {"type": "number"}], "ge": 0, "lt": 5},
            "tags": {"type": "array", "items": {"type": "string", "max_length": 3}},
        }
    }
    json_schema_keywords(schema)
    assert schema["properties"]["ge"] == {
        "anyOf": [{"type": "integer"}, {"type": "number"}],
        "minimum": 0,
        "exclusiveMaximum": 5,
    }
    assert schema["properties"]["tags"]["items"] == {
        "type": "string",
        "maxLength": 3,
        "maxItems": 3,
    }
