from __future__ import annotations

import asyncio
import re

from runtime import App, Context, Response, Router, current
from runtime.middleware import request_id
from runtime.testing import Client
from tests.apps.core_app import app

FRONT = "https://front.example"


async def test_security_headers_are_on_every_response_errors_included() -> None:
    for path in ("/api/health", "/api/nope"):
        r = await Client(app).get(path)
        assert r.headers.get("x-content-type-options") == "nosniff"
        assert r.headers.get("x-frame-options") == "DENY"
        assert r.headers.get("referrer-policy") == "strict-origin-when-cross-origin"
        assert "camera=()" in (r.headers.get("permissions-policy") or "")


async def test_xss_auditor_is_turned_off_not_set_to_block() -> None:
    r = await Client(app).get("/api/health")
    assert r.headers.get_all("x-xss-protection") == ["0"]


async def test_security_headers_keep_what_the_handler_set_and_drop_none_overrides() -> None:
    from runtime.middleware import security_headers

    inner = Router()

    @inner.get("/framed")
    async def framed(c: Context) -> Response:
        return Response(b"ok", headers={"x-frame-options": "SAMEORIGIN"})

    mini = App(title="t", version="1").use(security_headers({"X-DNS-Prefetch-Control": None}))
    mini.route("/api", inner)
    r = await Client(mini).get("/api/framed")
    assert r.headers.get_all("X-Frame-Options") == ["SAMEORIGIN"]
    assert "x-dns-prefetch-control" not in r.headers
    assert r.headers.get("x-content-type-options") == "nosniff"


async def test_cors_preflight_from_the_configured_origin_is_allowed_with_credentials() -> None:
    r = await Client(app).request(
        "OPTIONS",
        "/api/items/1",
        headers={"Origin": FRONT, "Access-Control-Request-Method": "PATCH"},
    )
    assert r.status == 204
    assert r.headers.get("access-control-allow-origin") == FRONT
    assert r.headers.get("access-control-allow-credentials") == "true"
    assert "PATCH" in (r.headers.get("access-control-allow-methods") or "")


async def test_cors_preflight_from_another_origin_gets_no_allow_origin() -> None:
    r = await Client(app).request(
        "OPTIONS",
        "/api/items/1",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert r.headers.get("access-control-allow-origin") is None


async def test_cors_origin_comes_from_the_frontend_url_var() -> None:
    client = Client(app, env={"FRONTEND_URL": "http://localhost:5173"})
    r = await client.get("/api/health", headers={"Origin": "http://localhost:5173"})
    assert r.headers.get("access-control-allow-origin") == "http://localhost:5173"
    r = await client.get("/api/health", headers={"Origin": FRONT})
    assert r.headers.get("access-control-allow-origin") is None


async def test_sane_incoming_request_id_is_reused() -> None:
    r = await Client(app).get("/api/health", headers={"X-Request-Id": "abc-123_x.y"})
    assert r.headers.get("x-request-id") == "abc-123_x.y"


async def test_insane_incoming_request_id_is_replaced() -> None:
    for bad in ("a" * 200, "bad id", "<script>", "\u00e9t\u00e9"):
        r = await Client(app).get("/api/health", headers={"X-Request-Id": bad})
        rid = r.headers.get("x-request-id") or ""
        assert rid != bad
        assert re.fullmatch(r"[0-9a-f]{16}", rid)


async def test_generated_request_ids_differ_per_request() -> None:
    ids = {(await Client(app).get("/api/health")).headers.get("x-request-id") for _ in range(20)}
    assert len(ids) == 20


async def test_request_context_reaches_tasks_the_request_spawns() -> None:
    probe = App(title="t", version="1")
    probe.use(request_id())
    router = Router()

    async def deep() -> str:
        await asyncio.sleep(0)
        return current().request_id

    @router.get("/ctx")
    async def ctx(c: Context) -> dict:
        spawned = await asyncio.create_task(deep())
        return {"direct": c.request_id, "spawned": spawned}

    probe.route("/api", router)
    r = await Client(probe).get("/api/ctx", headers={"X-Request-Id": "ctx-1"})
    assert r.json() == {"direct": "ctx-1", "spawned": "ctx-1"}
