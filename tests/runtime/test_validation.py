from __future__ import annotations

import json

from runtime import App, Context, Router
from runtime.testing import Client
from tests.apps.core_app import Message, app


def _issues(body: dict) -> list[dict]:
    assert body["success"] is False
    issues = body["error"]["issues"]
    # the message carries the same issues as a JSON string, like zod-validator's hook did
    assert json.loads(body["error"]["message"]) == issues
    return issues


async def test_body_over_2000_characters_names_the_field_and_the_limit() -> None:
    r = await Client(app).post("/api/items/echo", json={"message": "x" * 2001})
    assert r.status == 400
    [issue] = _issues(r.json())
    assert issue["in"] == "body"
    assert issue["path"] == ["message"]
    assert issue["code"] == "string_too_long"
    assert issue["limits"] == {"max_length": 2000}


async def test_validation_error_does_not_echo_the_input_back() -> None:
    secret = "s3cr3t-" + "y" * 2000
    r = await Client(app).post("/api/items/echo", json={"message": secret})
    assert r.status == 400
    assert "s3cr3t" not in r.text
    assert len(r.body) < 600


async def test_each_failing_field_is_reported() -> None:
    r = await Client(app).get("/api/items?limit=0&offset=-1")
    assert r.status == 400
    issues = _issues(r.json())
    assert sorted((i["in"], i["path"][0]) for i in issues) == [
        ("query", "limit"),
        ("query", "offset"),
    ]


async def test_invalid_json_gives_400_naming_the_problem() -> None:
    r = await Client(app).post("/api/items/echo", content="{not json")
    assert r.status == 400
    [issue] = _issues(r.json())
    assert issue["code"] == "invalid_json"
    assert issue["message"].startswith("Invalid JSON")


async def test_empty_body_where_json_is_declared_gives_400() -> None:
    r = await Client(app).post("/api/items/echo", content="")
    assert r.status == 400
    assert _issues(r.json())[0]["code"] == "invalid_json"


async def test_wrong_type_in_body_is_a_field_issue() -> None:
    r = await Client(app).post("/api/items/echo", json={"message": 12})
    assert r.status == 400
    assert _issues(r.json())[0]["path"] == ["message"]


async def test_valid_body_reaches_the_handler_as_a_model() -> None:
    r = await Client(app).post("/api/items/echo", json={"message": "hello", "mode": "dj"})
    assert r.status == 200
    assert r.json() == {"message": "hello", "mode": "dj", "length": 5}


def _small_app(limit: int) -> App:
    small = App(title="t", version="1", max_body_bytes=limit)
    router = Router()

    @router.post("/echo", body=Message)
    async def echo(c: Context) -> dict:
        return {"n": len(c.body.message)}

    small.route("/api", router)
    return small


async def test_body_above_the_configured_size_gives_413_before_parsing() -> None:
    payload = json.dumps({"message": "x" * 200})
    r = await Client(_small_app(100)).post("/api/echo", content=payload)
    assert r.status == 413
    assert r.json() == {"error": "Payload too large", "limit": 100}


async def test_body_larger_than_its_declared_length_still_gives_413() -> None:
    payload = json.dumps({"message": "x" * 200})
    r = await Client(_small_app(100)).request(
        "POST", "/api/echo", content=payload, headers={"Content-Length": "10"}
    )
    assert r.status == 413


def _optional_body_app() -> App:
    optional = App(title="t", version="1")
    router = Router()

    @router.post("/play", body=Message, body_required=False)
    async def play(c: Context) -> dict:
        return {"body": None if c.body is None else c.body.message}

    optional.route("/api", router)
    return optional


async def test_optional_body_may_be_empty_but_is_validated_when_sent() -> None:
    client = Client(_optional_body_app())
    assert (await client.post("/api/play", content="")).json() == {"body": None}
    assert (await client.post("/api/play", json={"message": "hi"})).json() == {"body": "hi"}
    bad = await client.post("/api/play", json={"message": ""})
    assert bad.status == 400


async def test_a_json_body_is_validated_strictly_no_type_coercion() -> None:
    client = Client(app)
    for bad in ({"message": 12}, {"message": True}, {"message": "hi", "mode": 1}):
        r = await client.post("/api/items/echo", json=bad)
        assert r.status == 400, bad
    ok = await client.post("/api/items/echo", json={"message": "hi"})
    assert ok.status == 200


async def test_query_values_stay_lax_strings_become_integers() -> None:
    r = await Client(app).get("/api/items?limit=5&offset=1")
    assert r.status == 200


async def test_a_body_model_may_name_the_message_a_client_expects() -> None:
    from typing import ClassVar

    from pydantic import BaseModel

    class Seek(BaseModel):
        invalid_body_message: ClassVar[str] = "position_ms is required"
        position_ms: float

    router = Router()

    @router.post("/seek", body=Seek)
    async def seek(c: Context) -> dict:
        return {"at": c.body.position_ms}

    own = App(title="t", version="1")
    own.route("/api", router)
    for bad in ({}, {"position_ms": True}, {"position_ms": "1"}):
        r = await Client(own).post("/api/seek", json=bad)
        assert r.status == 400 and r.json() == {"error": "position_ms is required"}
    assert (await Client(own).post("/api/seek", json={"position_ms": 3})).json() == {"at": 3.0}
