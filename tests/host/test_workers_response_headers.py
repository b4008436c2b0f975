"""The Workers adapter's response headers, through the real host: it caches one JS
ResponseInit per header set and writes per-request values (request id, cookies) into slots
of it, so these tests pin that nothing carries over between responses and that the cache
keeps answering once it is full and evicts."""

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
