from __future__ import annotations

import io
import json

from runtime.logging import ServiceLogger
from runtime.testing import Client
from tests.apps.core_app import app


async def test_missing_bearer_token_gives_401_with_www_authenticate() -> None:
    r = await Client(app).request("DELETE", "/api/items/1")
    assert r.status == 401
    assert r.headers.get("www-authenticate", "").startswith("Bearer")
    assert "Authorization" in r.json()["error"]


async def test_malformed_authorization_header_gives_401() -> None:
    for value in ("Basic abc", "Bearer", "Bearer two tokens", "bearer"):
        r = await Client(app).request("DELETE", "/api/items/1", headers={"Authorization": value})
        assert r.status == 401, value
        assert "Malformed" in r.json()["error"] or "Missing" in r.json()["error"]


async def test_well_formed_bearer_token_reaches_the_handler() -> None:
    r = await Client(app).request(
        "DELETE", "/api/items/1", headers={"Authorization": "Bearer abc-123"}
    )
    assert r.status == 200
    assert r.json() == {"deleted": 1, "token_length": 7}


async def test_http_error_from_a_handler_keeps_its_status_and_message() -> None:
    r = await Client(app).get("/api/items/404")
    assert r.status == 404
    assert r.json() == {"error": "Item not found"}


async def test_unexpected_exception_gives_generic_500_with_request_id_and_logs_the_trace() -> None:
    stream = io.StringIO()
    original = app.logger
    app.logger = ServiceLogger("app", stream=stream)
    try:
        r = await Client(app).get("/api/items/boom", headers={"X-Request-Id": "req-500-test"})
    finally:
        app.logger = original
    assert r.status == 500
    assert r.json() == {"error": "Internal server error", "requestId": "req-500-test"}
    assert "secret internal detail" not in r.text
    assert "Traceback" not in r.text
    record = json.loads(stream.getvalue().strip().splitlines()[-1])
    assert record["level"] == "error"
    assert record["requestId"] == "req-500-test"
    assert "secret internal detail" in record["fields"]["trace"]
