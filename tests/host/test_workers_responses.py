"""The Workers adapter's responses, through the real host. It caches one JS ResponseInit per
header set and writes per-request values (request id, cookies) into slots of it, and sends
small UTF-8 bodies across the FFI as strings: these tests pin that nothing carries over
between responses, that the cache keeps answering once it is full and evicts, and that
every body arrives byte for byte."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from djbuild.build import build_project
from djbuild.host import LocalHost

APP = """\
from pydantic import BaseModel

from runtime import App, Context, Response, Router
from runtime.middleware import request_id

router = Router()


class Variant(BaseModel):
    n: int


class Who(BaseModel):
    who: str


@router.get("/variant/{n}", path_params=Variant)
async def variant(c: Context) -> Response:
    # a header set of its own per n (the adapter's cache key), a status per parity
    n = c.params.n
    return Response.json({"n": n}, status=200 if n % 2 == 0 else 203, headers={"X-Variant": str(n)})


@router.get("/cookies/{who}", path_params=Who)
async def cookies(c: Context) -> Response:
    who = c.params.who
    response = Response.json({"who": who})
    response.headers.add("Set-Cookie", f"first={who}-1; Path=/")
    response.headers.add("Set-Cookie", f"second={who}-2; Path=/")
    return response


@router.get("/bodies/binary")
async def binary(c: Context) -> Response:
    return Response(bytes(range(256)) * 2, media_type="application/octet-stream")


@router.get("/bodies/text")
async def text(c: Context) -> Response:
    return Response.json({"song": "Håll om mig", "mood": "🎧"})


@router.get("/bodies/untyped")
async def untyped(c: Context) -> Response:
    return Response(b"no type given")


@router.get("/bodies/large")
async def large(c: Context) -> Response:
    return Response.text("å" * 40_000)


app = App(title="t", version="1")
app.use(request_id())
app.route("/api", router)
"""


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("headers-project")
    (root / "pyproject.toml").write_text(
        '[project]\nname = "t"\nversion = "0"\n\n[tool.djbuild]\napp = "headers_app:app"\n'
    )
    (root / "wrangler.toml").write_text(
        'name = "t"\nmain = "src/entry.py"\ncompatibility_date = "2026-10-01"\n'
        'compatibility_flags = ["python_workers"]\n'
    )
    (root / "headers_app.py").write_text(APP)
    build_project(root, root / "dist", openapi=False)
    with LocalHost(root / "dist", in_memory=True) as host:
        yield host.url


def test_header_sets_past_the_cache_bound_are_all_served_right(url: str) -> None:
    with httpx.Client(base_url=url) as client:
        for rounds in range(2):  # the second pass meets entries evicted by the first
            for n in range(80):  # more distinct header sets than the adapter keeps
                r = client.get(f"/api/variant/{n}")
                assert r.status_code == (200 if n % 2 == 0 else 203), (rounds, n, r.text)
                assert r.json() == {"n": n}
                assert r.headers.get_list("x-variant") == [str(n)]
                assert len(r.headers.get_list("x-request-id")) == 1


def test_per_request_headers_never_carry_over(url: str) -> None:
    with httpx.Client(base_url=url) as client:
        seen_ids = set()
        for who in ("ann", "bob", "ann"):
            r = client.get(f"/api/cookies/{who}")
            assert r.headers.get_list("set-cookie") == [
                f"first={who}-1; Path=/",
                f"second={who}-2; Path=/",
            ]
            seen_ids.update(r.headers.get_list("x-request-id"))
        assert len(seen_ids) == 3
        traced = client.get("/api/cookies/cy", headers={"X-Request-Id": "trace-7"})
        assert traced.headers.get_list("x-request-id") == ["trace-7"]
        plain = client.get("/api/variant/2")
        assert "set-cookie" not in plain.headers
        assert plain.headers["x-request-id"] not in seen_ids | {"trace-7"}


def test_bodies_arrive_byte_for_byte_whatever_crosses_to_js(url: str) -> None:
    # small UTF-8 bodies cross the FFI as JS strings, the rest as bytes: the wire is the same
    with httpx.Client(base_url=url) as client:
        binary = client.get("/api/bodies/binary")
        assert binary.content == bytes(range(256)) * 2
        assert binary.headers["content-type"] == "application/octet-stream"
        text = client.get("/api/bodies/text")
        assert text.content == '{"song":"Håll om mig","mood":"🎧"}'.encode()
        untyped = client.get("/api/bodies/untyped")
        assert untyped.content == b"no type given"
        assert "content-type" not in untyped.headers  # a JS string body would have added one
        large = client.get("/api/bodies/large")
        assert large.content == ("å" * 40_000).encode()
