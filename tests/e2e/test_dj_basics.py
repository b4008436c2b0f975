from __future__ import annotations

from openapi_spec_validator import validate

from tests.e2e.conftest import DJ


def test_health_answers_on_both_paths(dj: DJ) -> None:
    for path in ("/health", "/api/health"):
        r = dj.http.get(path)
        assert r.status_code == 200
        assert r.json() == {"status": "healthy"}
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["x-xss-protection"] == "0"  # the auditor is off, never "1; mode=block"
        assert r.headers["x-request-id"]


def test_every_response_carries_its_own_request_id_once(dj: DJ) -> None:
    # the Workers adapter reuses one JS ResponseInit per header set and writes the id into it
    # per response: an id must never carry over to the next response, nor appear twice
    ids = []
    for _ in range(3):
        r = dj.http.get("/api/health")
        assert len(r.headers.get_list("x-request-id")) == 1
        ids.append(r.headers["x-request-id"])
    assert len(set(ids)) == 3
    echoed = dj.http.get("/api/health", headers={"X-Request-Id": "trace-42"})
    assert echoed.headers.get_list("x-request-id") == ["trace-42"]
    after = dj.http.get("/api/health")
    assert after.headers["x-request-id"] not in {"trace-42", *ids}


def test_openapi_document_is_served_and_valid(dj: DJ) -> None:
    r = dj.http.get("/api/openapi.json")
    assert r.status_code == 200
    doc = r.json()
    validate(doc)
    assert doc["info"]["title"] == "DJ API"


def test_docs_page_lists_the_operations(dj: DJ) -> None:
    r = dj.http.get("/api/docs")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert "/api/health" in r.text


def test_spa_navigation_gets_index_html_and_unknown_api_gets_json_404(dj: DJ) -> None:
    page = dj.http.get("/mix/live", headers={"Accept": "text/html", "Sec-Fetch-Mode": "navigate"})
    assert page.status_code == 200
    assert "<title>DJ</title>" in page.text
    api = dj.http.get("/api/mix/unknown-thing")
    assert api.status_code == 404
    assert api.json()["error"] == "Not found"


def test_cors_allows_the_configured_frontend_origin(dj: DJ) -> None:
    r = dj.http.options(
        "/api/health",
        headers={"Origin": "http://127.0.0.1:5173", "Access-Control-Request-Method": "GET"},
    )
    assert r.status_code == 204
    assert r.headers["access-control-allow-origin"] == "http://127.0.0.1:5173"
    assert r.headers["access-control-allow-credentials"] == "true"
