"""Methods outside the router's table reach the worker's router on the real runtime: a JSON
405 with Allow, never a plain-text 400 from the host (TRACE, and methods Node's parser lacks)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from djbuild.build import build_project
from djbuild.host import LocalHost

from .test_host_limits import raw_request

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def core(tmp_path_factory: pytest.TempPathFactory, node_ready: None) -> Iterator[LocalHost]:
    out = tmp_path_factory.mktemp("core") / "dist"
    build_project(ROOT, out, app="tests.apps.core_app:app")
    with LocalHost(out, in_memory=True) as host:
        yield host


@pytest.mark.parametrize("method", ["TRACE", "FROBNICATE", "PATCH"])
def test_a_method_the_route_lacks_is_a_json_405_with_allow(core: LocalHost, method: str) -> None:
    status, headers, body = raw_request(core.url, method, "/api/health")
    assert status == 405
    assert headers["content-type"].startswith("application/json")
    allow = [m.strip() for m in headers["allow"].split(",")]
    assert "GET" in allow and method not in allow
    data = json.loads(body)
    assert data["error"] == "Method not allowed" and data["allow"] == allow
