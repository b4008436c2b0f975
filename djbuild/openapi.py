"""The OpenAPI 3.1 document, generated from the route declarations at build time.

The pydantic models are the single source of truth: the same classes validate requests in
the Worker and become `components.schemas` here.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from runtime.app import App
from runtime.routing import Route

REF = "#/components/schemas/{model}"

_STATUS_TEXT = {
    200: "OK",
    201: "Created",
    204: "No Content",
    302: "Found",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Payload Too Large",
    429: "Too Many Requests",
    500: "Internal Server Error",
}


def _operation_id(route: Route) -> str:
    if route.operation_id:
        return route.operation_id
    words = re.split(r"[^A-Za-z0-9]+", f"{route.method.lower()} {route.path}")
    return words[0] + "".join(w[:1].upper() + w[1:] for w in words[1:] if w)


def _models(routes: list[Route]) -> list[tuple[type[BaseModel], str]]:
    seen: dict[tuple[type[BaseModel], str], None] = {}
    for r in routes:
        for model in (r.path_model, r.query, r.headers):
            if model is not None:
                seen[(model, "validation")] = None
        if r.body is not None:
            seen[(r.body, "validation")] = None
        for model in r.responses.values():
            if isinstance(model, type) and issubclass(model, BaseModel):
                seen[(model, "serialization")] = None
    return list(seen)


def _parameters(
    model: type[BaseModel], location: str, schema: dict[str, Any]
) -> list[dict[str, Any]]:
    props = schema.get("properties", {})
    required = set(schema.get("required", []))
    params = []
    for name, field in model.model_fields.items():
        key = field.alias or name
        prop = dict(props.get(key, {}))
        param_name = key.replace("_", "-").title() if location == "header" else key
        param: dict[str, Any] = {
            "name": param_name,
            "in": location,
            "required": location == "path" or key in required,
            "schema": {k: v for k, v in prop.items() if k not in ("title", "description")},
        }
        if field.description:
            param["description"] = field.description
        params.append(param)
    return params


VALIDATION_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["success", "error"],
    "properties": {
        "success": {"const": False},
        "error": {
            "type": "object",
            "required": ["name", "message", "issues"],
            "properties": {
                "name": {"type": "string"},
                "message": {"type": "string", "description": "The issues as a JSON string."},
                "issues": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["in", "path", "code", "message"],
                        "properties": {
                            "in": {"enum": ["path", "query", "header", "body"]},
                            "path": {"type": "array", "items": {"type": ["string", "integer"]}},
                            "code": {"type": "string"},
                            "message": {"type": "string"},
                        },
                    },
                },
            },
        },
    },
}

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "string"}},
}


# pydantic writes a constraint it cannot push into the type's own schema (e.g. `ge` on
# `int | float`, or on a union inside Annotated) under its Python name; JSON Schema knows only
# its own keywords, so clients would see no limit. Length constraints on an unknown type get
# both keywords: each applies only to its own type.
_CONSTRAINT_KEYWORDS: dict[str, tuple[str, ...]] = {
    "ge": ("minimum",),
    "le": ("maximum",),
    "gt": ("exclusiveMinimum",),
    "lt": ("exclusiveMaximum",),
    "multiple_of": ("multipleOf",),
    "min_length": ("minLength", "minItems"),
    "max_length": ("maxLength", "maxItems"),
}
_SCHEMA_MAPS = {"properties", "patternProperties", "$defs", "definitions", "dependentSchemas"}
_SCHEMA_LISTS = {"anyOf", "allOf", "oneOf", "prefixItems"}
_SCHEMA_ONE = {
    "items",
    "additionalProperties",
    "not",
    "if",
    "then",
    "else",
    "contains",
    "propertyNames",
    "unevaluatedItems",
    "unevaluatedProperties",
}


def json_schema_keywords(schema: Any) -> Any:
    """`schema` with pydantic's constraint names turned into JSON Schema keywords, in place."""
    if not isinstance(schema, dict):
        return schema
    for name, keywords in _CONSTRAINT_KEYWORDS.items():
        if name in schema:
            value = schema.pop(name)
            for keyword in keywords:
                schema.setdefault(keyword, value)
    for key, value in schema.items():
        if key in _SCHEMA_MAPS and isinstance(value, dict):
            for sub in value.values():
                json_schema_keywords(sub)
        elif key in _SCHEMA_LISTS and isinstance(value, list):
            for sub in value:
                json_schema_keywords(sub)
        elif key in _SCHEMA_ONE:
            json_schema_keywords(value)
    return schema


def build_document(app: App) -> dict[str, Any]:
    routes = [r for r in app.all_routes() if r.include_in_schema]
    routes.sort(key=lambda r: (r.path, r.method))
    pairs = _models(routes)
    keyed, defs = models_json_schema(pairs, ref_template=REF) if pairs else ({}, {})
    keyed = {k: json_schema_keywords(v) for k, v in keyed.items()}
    schemas: dict[str, Any] = {
        name: json_schema_keywords(schema) for name, schema in defs.get("$defs", {}).items()
    }
    schemas["ValidationError"] = VALIDATION_ERROR_SCHEMA
    schemas["Error"] = ERROR_SCHEMA

    def ref(model: type[BaseModel], mode: str) -> dict[str, Any]:
        return keyed[(model, mode)]

    def inline(model: type[BaseModel]) -> dict[str, Any]:
        out = ref(model, "validation")
        if "$ref" in out:
            return schemas[out["$ref"].rsplit("/", 1)[-1]]
        return out

    paths: dict[str, Any] = {}
    for r in routes:
        op: dict[str, Any] = {"operationId": _operation_id(r)}
        if r.summary:
            op["summary"] = r.summary
        if r.description:
            op["description"] = r.description
        if r.tags:
            op["tags"] = r.tags
        params: list[dict[str, Any]] = []
        if r.path_model is not None:
            params += _parameters(r.path_model, "path", inline(r.path_model))
        else:
            params += [
                {"name": n, "in": "path", "required": True, "schema": {"type": "string"}}
                for n in r.param_names
            ]
        if r.query is not None:
            params += _parameters(r.query, "query", inline(r.query))
        if r.headers is not None:
            params += _parameters(r.headers, "header", inline(r.headers))
        if params:
            op["parameters"] = params
        if r.body is not None:
            op["requestBody"] = {
                "required": r.body_required,
                "content": {"application/json": {"schema": ref(r.body, "validation")}},
            }
        responses: dict[str, Any] = {}
        declared = dict(r.responses)
        if not declared:
            declared = {r.status: None}
        for status, model in sorted(declared.items()):
            entry: dict[str, Any] = {"description": _STATUS_TEXT.get(status, "Response")}
            if r.stream is not None and 200 <= status < 300:
                entry["content"] = {"text/event-stream": {"schema": {"type": "string"}}}
            elif isinstance(model, type) and issubclass(model, BaseModel):
                entry["content"] = {"application/json": {"schema": ref(model, "serialization")}}
            elif status >= 400:
                entry["content"] = {
                    "application/json": {"schema": {"$ref": REF.format(model="Error")}}
                }
            responses[str(status)] = entry
        if (
            r.body is not None
            or r.query is not None
            or r.path_model is not None
            or r.headers is not None
        ):
            invalid = {"$ref": REF.format(model="ValidationError")}
            declared_400 = responses.get("400", {}).get("content", {}).get("application/json")
            if declared_400 is None:
                responses["400"] = {
                    "description": "Invalid input",
                    "content": {"application/json": {"schema": invalid}},
                }
            elif declared_400["schema"] != invalid:
                # the route's own 400 and the runtime's validation envelope can both occur
                declared_400["schema"] = {"anyOf": [declared_400["schema"], invalid]}
        if r.auth == "bearer":
            op["security"] = [{"bearerAuth": []}]
            responses.setdefault(
                "401",
                {
                    "description": "Missing or malformed bearer token",
                    "content": {
                        "application/json": {"schema": {"$ref": REF.format(model="Error")}}
                    },
                },
            )
        op["responses"] = responses
        paths.setdefault(_openapi_path(r.path), {})[r.method.lower()] = op

    info: dict[str, Any] = {"title": app.title, "version": app.version}
    if app.description:
        info["description"] = app.description
    doc: dict[str, Any] = {"openapi": "3.1.0", "info": info}
    if app.servers:
        doc["servers"] = app.servers
    doc["paths"] = paths
    doc["components"] = {
        "schemas": dict(sorted(schemas.items())),
        "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
    }
    return doc


def _openapi_path(path: str) -> str:
    return path if path == "/" else path.rstrip("/")


class InvalidDocument(ValueError):
    pass


def validate_document(doc: dict[str, Any]) -> None:
    """Raise InvalidDocument if the document is not valid OpenAPI 3.1.

    Needs `openapi-spec-validator` (the test extra); the build itself never calls this.
    """
    try:
        from openapi_spec_validator import validate
    except ImportError:
        raise InvalidDocument(
            "validating needs openapi-spec-validator: pip install openapi-spec-validator"
        ) from None
    try:
        validate(doc)
    except Exception as exc:  # the validator raises its own error types
        raise InvalidDocument(str(exc)) from None
