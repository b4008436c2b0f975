"""`djbuild dev` on the DJ API itself: the real build, the real runtime, the real host."""

from __future__ import annotations

from pathlib import Path

import httpx

from djbuild.dev import DevServer

ROOT = Path(__file__).resolve().parents[2]


def test_dev_serves_the_dj_api_health_openapi_docs_and_an_spa_page(tmp_path: Path) -> None:
    server = DevServer(ROOT, tmp_path / "dist", port=0, persist_to=tmp_path / "state", echo=False)
    url = server.start()
    assert server.local is not None
    process = server.local._proc
    assert process is not None
    try:
        with httpx.Client(base_url=url, timeout=30) as http:
            health = http.get("/api/health")
            assert health.status_code == 200 and health.json() == {"status": "healthy"}
            doc = http.get("/api/openapi.json")
            assert doc.status_code == 200 and doc.json()["openapi"] == "3.1.0"
            docs = http.get("/api/docs")
            assert docs.status_code == 200 and "text/html" in docs.headers["content-type"]
            page = http.get(
                "/player/now", headers={"Accept": "text/html", "Sec-Fetch-Mode": "navigate"}
            )
            assert page.status_code == 200 and "<title>DJ</title>" in page.text
    finally:
        server.stop()
    assert (
        server.local is None
        or server.local.process is None
        or server.local.process.poll() is not None
    )
