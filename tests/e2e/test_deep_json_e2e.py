"""A hostile body nested 100,000 deep, sent to every route that takes a body, on the real host.

Before the depth bound, about 8,500 levels overflowed Pyodide's stack inside `json.loads`: a
fatal error after which every request, `/api/health` included, answered 500.
"""

from __future__ import annotations

import re

import httpx
import pytest

from routes.app import app
from runtime.sse import PREPARE_ATTR
from tests.e2e.conftest import DJ, auth

DEEP = 100_000


def json_body_routes() -> list[tuple[str, str]]:
    """Every mounted route that parses a JSON body (a body model, or a stream that reads the
    body before it starts), path parameters filled in."""
    found = []
    for route in app.all_routes():
        if route.body is not None or hasattr(route.handler, PREPARE_ATTR):
            found.append((route.method, re.sub(r"\{[^}]+\}", "1", route.path)))
    return sorted(set(found))


def payloads() -> dict[str, bytes]:
    return {
        "array": b"[" * DEEP + b"]" * DEEP,
        "object": b'{"a":' * DEEP + b"1" + b"}" * DEEP,
        # 60 KB: under the smallest body cap (the chat's 64 KB), so the parser is reached
        "array under 64 KB": b"[" * 30_000 + b"]" * 30_000,
        "inside a field": b'{"message":' + b"[" * 30_000 + b"]" * 30_000 + b"}",
    }


def test_the_app_has_body_routes_to_attack() -> None:
    parsing = {path for _, path in json_body_routes()}
    assert {"/api/chat-stream/message", "/api/mix/start", "/api/spotify/search"} <= parsing
    assert len(parsing) >= 15


@pytest.mark.parametrize("kind", list(payloads()))
def test_deep_json_is_refused_by_every_body_route_and_the_isolate_lives_on(
    dj: DJ, kind: str
) -> None:
    body = payloads()[kind]
    headers = {**auth(dj), "Content-Type": "application/json"}
    for method, path in json_body_routes():
        # a connection of its own: a body the host refuses unread ends that connection
        with httpx.Client(base_url=dj.url, timeout=30.0) as http:
            r = http.request(method, path, content=body, headers=headers)
        where = (method, path, r.status_code, r.text[:200])
        assert r.status_code in (400, 413), where
        if r.headers["content-type"].startswith("application/json"):
            assert "deeper than 128" in r.text or r.status_code == 413, where
        health = dj.http.get("/api/health")
        assert health.status_code == 200, (method, path, health.text[:200])
