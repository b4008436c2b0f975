from __future__ import annotations

from runtime.testing import Client
from tests.apps.core_app import app


async def test_static_route_answers_json() -> None:
    r = await Client(app).get("/api/health")
    assert r.status == 200
    assert r.json() == {"status": "healthy"}
    assert r.headers.get("content-type") == "application/json"


async def test_path_param_is_validated_and_converted_by_its_model() -> None:
    r = await Client(app).get("/api/items/7")
    assert r.status == 200
    assert r.json() == {"id": 7, "name": "item 7"}


async def test_static_segment_wins_over_a_param_segment() -> None:
    r = await Client(app).get("/api/items/echo")
    # /api/items/echo exists only as POST, so GET there is a 405, not a lookup of item "echo"
    assert r.status == 405


async def test_unknown_api_path_gives_json_404() -> None:
    r = await Client(app).get("/api/does-not-exist")
    assert r.status == 404
    assert r.json() == {"error": "Not found", "path": "/api/does-not-exist"}


async def test_wrong_method_gives_405_with_allow_header() -> None:
    r = await Client(app).request("PUT", "/api/items/3")
    assert r.status == 405
    assert r.headers.get("allow") == "DELETE, GET, HEAD, OPTIONS"
    assert r.json()["allow"] == ["DELETE", "GET", "HEAD", "OPTIONS"]


async def test_head_runs_the_get_handler_without_a_body() -> None:
    r = await Client(app).request("HEAD", "/api/items/5")
    assert r.status == 200
    assert r.body == b""
    assert r.headers.get("content-type") == "application/json"


async def test_plain_options_lists_allowed_methods() -> None:
    r = await Client(app).request("OPTIONS", "/api/items/5")
    assert r.status == 204
    assert r.headers.get("allow") == "DELETE, GET, HEAD, OPTIONS"


async def test_trailing_slash_matches_the_same_route() -> None:
    r = await Client(app).get("/api/items/?limit=3")
    assert r.status == 200
    assert r.json()["limit"] == 3


async def test_repeated_query_keys_fill_a_list_field() -> None:
    r = await Client(app).get("/api/items?tag=a&tag=b&limit=2")
    assert r.json() == {"limit": 2, "offset": 0, "tags": ["a", "b"]}


async def test_percent_encoded_path_param_is_decoded_before_validation() -> None:
    r = await Client(app).get("/api/items/%34%32")
    assert r.status == 200
    assert r.json()["id"] == 42


async def test_mounted_router_tags_and_prefix_apply_to_its_routes() -> None:
    paths = {(r.method, r.path): r for r in app.all_routes()}
    route = paths[("GET", "/api/items/{item_id}")]
    assert route.tags == ["items"]
    assert route.module == "tests.apps.core_app"
    assert route.line > 0
