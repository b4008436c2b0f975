"""A streaming route carries one spec object; the core Route type knows nothing of SSE."""

from __future__ import annotations

import pytest

from runtime import App, Context, Router, records
from runtime.routing import Route
from runtime.sse import SSE, EventStream
from runtime.testing import Client


async def handler(c: Context, stream: EventStream) -> None:
    await stream.send("tick", {"n": 1})


def test_route_has_no_sse_fields() -> None:
    fields = set(records.fields(Route))
    assert "stream" in fields
    assert not {f for f in fields if f.startswith("sse")}


def test_the_sse_shorthand_is_the_default_spec() -> None:
    router = Router()
    route = router.add("GET", "/s", handler, stream="sse")
    assert route.stream == SSE()
    assert (route.stream.framing, route.stream.done, route.stream.high_water_mark) == (
        "json",
        False,
        10,
    )


def test_the_spec_is_frozen_and_survives_mounting() -> None:
    router = Router()
    router.add("GET", "/s", handler, stream=SSE(framing="named", heartbeat=0))
    app = App(title="t", version="0")
    app.route("/api", router)
    (route,) = app.all_routes()
    assert route.stream == SSE(framing="named", heartbeat=0)
    with pytest.raises(records.FrozenInstanceError):
        route.stream.done = True  # type: ignore[misc]


async def test_the_spec_decides_the_framing() -> None:
    router = Router()
    router.add("GET", "/s", handler, stream=SSE(framing="named", heartbeat=0))
    app = App(title="t", version="0")
    app.route("/api", router)
    result = await Client(app).get("/api/s")
    assert result.status == 200
    assert result.text.startswith('event: tick\ndata: {"n":1}\n\n')


def test_the_build_check_names_a_stream_kind_it_does_not_know() -> None:
    from djbuild.checks import check_routes

    router = Router()
    router.add("GET", "/s", handler, stream="websocket")
    app = App(title="t", version="0")
    app.route("/api", router)
    (problem,) = check_routes(app)
    assert "unknown stream kind 'websocket'" in problem.describe()
