"""The nesting bound in front of every untrusted JSON parse (runtime.jsonsafe)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import BaseModel

from runtime import jsonsafe
from runtime.http import Headers
from runtime.jsonsafe import MAX_DEPTH, JSONTooDeep, nesting_depth
from runtime.kv import KVStore
from runtime.logging import ServiceLogger
from runtime.outbound import OutboundClient, TransportResponse
from runtime.ratelimit import RequestOrchestrator
from runtime.testing import Client, MemoryKV
from tests.apps.core_app import app
from tests.support.virtual_time import VirtualTimeLoop, run_virtual


def nested_array(depth: int) -> str:
    return "[" * depth + "]" * depth


def nested_object(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


def test_depth_is_measured_for_arrays_objects_and_mixes() -> None:
    assert nesting_depth("1", 0) == 0
    assert nesting_depth(nested_array(300)) == 300
    assert nesting_depth(nested_object(300)) == 300
    assert nesting_depth(b'{"x": [' + b"[{" * 100 + b"}]" * 100 + b"]}") == 202


def test_brackets_inside_strings_do_not_count_escapes_included() -> None:
    hidden = json.dumps(["[" * 500, '\\"' + "{" * 500, "]" * 500])
    assert nesting_depth(hidden) <= 1
    # an escaped quote does not end the string: the brackets after it stay inside
    tricky = '["\\"' + "[" * 300 + '", 1]'
    json.loads(tricky)
    assert nesting_depth(tricky) == 1
    # but an escaped backslash does end it: the brackets after it are real
    real = '["\\\\", ' + nested_array(200) + "]"
    assert nesting_depth(real) == 201


def test_the_limit_is_inclusive() -> None:
    assert jsonsafe.loads(nested_array(MAX_DEPTH)) is not None
    with pytest.raises(JSONTooDeep):
        jsonsafe.loads(nested_array(MAX_DEPTH + 1))


def test_too_deep_is_a_json_decode_error_so_existing_handlers_catch_it() -> None:
    with pytest.raises(json.JSONDecodeError):
        jsonsafe.loads(nested_object(100_000))
    with pytest.raises(ValueError):
        jsonsafe.loads(nested_array(100_000).encode())


def test_a_flat_document_far_larger_than_the_limit_passes() -> None:
    doc = json.dumps([{"a": [1, {"b": "x[y{"}]} for _ in range(5_000)])
    assert jsonsafe.loads(doc)[4_999]["a"][1]["b"] == "x[y{"


async def test_a_deep_request_body_is_a_400_naming_the_limit() -> None:
    for body in (nested_array(100_000), nested_object(100_000)):
        r = await Client(app).post(
            "/api/items/echo", content=body, headers={"Content-Type": "application/json"}
        )
        assert r.status == 400
        [issue] = r.json()["error"]["issues"]
        assert issue["code"] == "json_too_deep"
        assert str(MAX_DEPTH) in issue["message"]


class Track(BaseModel):
    id: int


def _client(loop: VirtualTimeLoop, body: bytes) -> OutboundClient:
    class Upstream:
        async def send(self, request: Any) -> TransportResponse:
            return TransportResponse(200, Headers({}), body)

    return OutboundClient(
        Upstream(),
        orchestrator=RequestOrchestrator(clock=loop.time),
        logger=ServiceLogger("outbound", sink=lambda line: None, clock=lambda: 0.0),
        clock=loop.time,
    )


def test_a_deep_upstream_body_is_an_upstream_failure() -> None:
    deep = nested_array(100_000).encode()

    async def main(loop: VirtualTimeLoop) -> Any:
        client = _client(loop, deep)
        typed = await client.fetch(service="deezer", url="https://x.test/", model=Track)
        plain = await client.fetch(service="deezer", url="https://x.test/")
        return typed, plain

    typed, plain = run_virtual(main)
    assert not typed.ok and typed.error == "invalid_json"
    assert "nested deeper" in (typed.detail or "")
    with pytest.raises(ValueError):
        plain.json()


async def test_a_deep_kv_value_reads_as_absent() -> None:
    binding = MemoryKV()
    store = KVStore(binding, name="TEST", logger=ServiceLogger("kv", sink=lambda line: None))
    await store.put_text("k", nested_object(50_000), ttl=3600)
    assert await store.get_json("k") is None
    assert await store.get_model("k", dict) is None
    with pytest.raises(ValueError):
        await binding.get("k", "json")
