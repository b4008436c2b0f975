from __future__ import annotations

import gzip
import hashlib
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from openapi_spec_validator import validate

from djbuild.build import build_project

ROOT = Path(__file__).resolve().parents[2]


def _tree(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("build") / "dist"
    build_project(ROOT, out)
    return out


def test_dist_has_the_deployable_layout(dist: Path) -> None:
    assert (dist / "src" / "entry.py").is_file()
    assert (dist / "wrangler.toml").is_file()
    assert (dist / "openapi.json").is_file()
    assert (dist / "manifest.json").is_file()
    assert (dist / "python_modules" / "pydantic" / "__init__.pyc").is_file()
    # python_modules must sit beside src/, never inside the module root (wrangler rejects it)
    assert not (dist / "src" / "python_modules").exists()
    # from compatibility date 2026-04-21 the platform no longer ships the workers SDK
    assert (dist / "python_modules" / "workers" / "__init__.pyc").is_file()


def test_entry_is_a_worker_entrypoint_dispatching_into_the_runtime(dist: Path) -> None:
    entry = (dist / "src" / "entry.py").read_text()
    assert "class Default(WorkerEntrypoint):" in entry
    assert "def fetch(self, request):" in entry
    assert "from routes.app import app" in entry


def test_only_modules_the_entry_reaches_are_bundled(dist: Path) -> None:
    src = {p.relative_to(dist / "src").as_posix() for p in (dist / "src").rglob("*.py*")}
    assert "runtime/app.pyc" in src and "routes/app.pyc" in src  # the DJ API ships bytecode
    assert not {"runtime/testing.pyc", "runtime/testing/__init__.pyc"} & src  # test helpers
    assert not any(p.startswith(("djbuild/", "tests/", "bench/")) for p in src)


def test_pydantic_core_is_the_pyodide_build(dist: Path) -> None:
    natives = [p.name for p in (dist / "python_modules" / "pydantic_core").glob("*.so")]
    assert natives and all("wasm32-emscripten" in n for n in natives)


def test_wrangler_config_selects_python_314_and_points_at_the_built_assets(dist: Path) -> None:
    cfg = tomllib.loads((dist / "wrangler.toml").read_text())
    assert cfg["main"] == "src/entry.py"
    assert "python_workers" in cfg["compatibility_flags"]
    assert cfg["compatibility_date"] >= "2026-09-08"
    assert cfg["assets"]["directory"] == "assets"
    assert cfg["assets"]["binding"] == "ASSETS"
    assert cfg["assets"]["run_worker_first"] == ["/api/*"]
    assert [ns["binding"] for ns in cfg["kv_namespaces"]] == [
        "SESSIONS",
        "AUDIO_FEATURES_CACHE",
        "MIX_SESSIONS",
    ]
    assert cfg["vars"]["FRONTEND_URL"] == "https://dj.current.space"
    assert "build" not in cfg


def test_assets_merge_the_project_files_and_the_generated_ones(dist: Path) -> None:
    assets = dist / "assets"
    for path in (ROOT / "public").rglob("*"):
        if path.is_file():
            rel = path.relative_to(ROOT / "public")
            assert (assets / rel).read_bytes() == path.read_bytes()
    assert not (ROOT / "public" / "_djbuild").exists()  # the project's folder is never written
    generated = {p.relative_to(assets).as_posix() for p in (assets / "_djbuild").rglob("*")}
    assert {
        "_djbuild/openapi.json",
        "_djbuild/docs/index.html",
        "_djbuild/docs/docs.js",
        "_djbuild/docs/swagger-ui-bundle.js",
        "_djbuild/docs/swagger-ui.css",
        "_djbuild/docs/LICENSE-swagger-ui.txt",
    } <= generated


def test_openapi_document_is_valid_31_compact_and_not_a_worker_module(dist: Path) -> None:
    doc = json.loads((dist / "openapi.json").read_text())
    validate(doc)
    assert doc["openapi"] == "3.1.0"
    assert "/api/health" in doc["paths"]
    served = (dist / "assets" / "_djbuild" / "openapi.json").read_text()
    assert json.loads(served) == doc
    assert served == json.dumps(doc, separators=(",", ":"), ensure_ascii=False)
    assert not list((dist / "src").glob("djbuild_generated*"))
    assert b"openapi" not in (dist / "src" / "entry.py").read_bytes()


def test_docs_page_is_swagger_ui_from_local_files_listing_every_operation(dist: Path) -> None:
    docs = dist / "assets" / "_djbuild" / "docs"
    html = (docs / "index.html").read_text()
    doc = json.loads((dist / "openapi.json").read_text())
    # every file the page loads is one of ours: nothing from a CDN, so it works offline
    refs = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert refs and all(r.startswith("/_djbuild/") for r in refs)
    for ref in refs:
        assert (dist / "assets" / ref.lstrip("/")).is_file(), ref
    assert 'data-spec="/_djbuild/openapi.json"' in html
    assert "validatorUrl: null" in (docs / "docs.js").read_text()
    assert "SwaggerUIBundle" in (docs / "swagger-ui-bundle.js").read_text()
    operations = re.findall(r'<li id="op-([^"]+)"><code>(\w+) ([^<]+)</code>', html)
    listed = {(method.lower(), path) for _, method, path in operations}
    assert listed == {(m, p) for p, ops in doc["paths"].items() for m in ops}
    assert len(listed) >= 40
    lock = json.loads((ROOT / "djbuild" / "node" / "package-lock.json").read_text())
    version = lock["packages"]["node_modules/swagger-ui-dist"]["version"]
    manifest = json.loads((dist / "manifest.json").read_text())
    origins = {f["path"]: f["origin"] for f in manifest["files"]}
    assert origins["assets/_djbuild/docs/swagger-ui-bundle.js"] == f"npm:swagger-ui-dist@{version}"


def test_manifest_lists_every_file_with_size_hash_origin_and_importers(dist: Path) -> None:
    manifest = json.loads((dist / "manifest.json").read_text())
    files = {f["path"]: f for f in manifest["files"]}
    on_disk = set(_tree(dist)) - {"manifest.json"}
    assert set(files) == on_disk
    for path, entry in files.items():
        data = (dist / path).read_bytes()
        assert entry["bytes"] == len(data)
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()
    assert files["src/runtime/app.pyc"]["origin"] == "runtime"
    assert files["src/routes/app.pyc"]["origin"] == "app"
    assert files["src/routes/app.pyc"]["importedBy"] == ["entry:6"]
    assert files["python_modules/pydantic/main.pyc"]["origin"].startswith("vendor:pydantic==")
    assert any(
        i.startswith("routes.") or i.startswith("runtime.")
        for i in files["python_modules/pydantic/__init__.pyc"]["importedBy"]
    )
    assert len(manifest["bundleHash"]) == 64


def test_two_builds_are_byte_identical(tmp_path: Path, dist: Path) -> None:
    again = tmp_path / "dist"
    build_project(ROOT, again)
    first = _tree(dist)
    second = _tree(again)
    assert first == second
    m1 = json.loads((dist / "manifest.json").read_text())
    m2 = json.loads((again / "manifest.json").read_text())
    assert m1 == m2


def test_rebuilding_into_the_same_folder_gives_the_same_hash(tmp_path: Path) -> None:
    out = tmp_path / "dist"
    first = build_project(ROOT, out).manifest
    tree1 = _tree(out)
    second = build_project(ROOT, out).manifest
    assert first is not None and second is not None
    assert first.bundle_hash == second.bundle_hash
    assert _tree(out) == tree1


def test_cli_build_json_reports_sizes_against_the_limits(tmp_path: Path) -> None:
    out = tmp_path / "dist"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "djbuild.cli",
            "build",
            "--root",
            str(ROOT),
            "--out",
            str(out),
            "--json",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["total"]["raw"] == sum(g["raw"] for g in report["groups"])
    assert 0 < report["total"]["gzip"] < report["total"]["raw"]
    assert report["limits"]["free"]["gzip"] == 3 * 1024 * 1024
    assert report["limits"]["paid"]["fits"] is True
    everything = b"".join(
        (out / f["path"]).read_bytes()
        for f in json.loads((out / "manifest.json").read_text())["files"]
        if f["path"].startswith(("src/", "python_modules/"))
    )
    assert report["total"]["raw"] == len(everything)
    assert (
        abs(report["total"]["gzip"] - len(gzip.compress(everything)))
        < 0.1 * report["total"]["gzip"]
    )


def test_cli_build_failure_exits_1_with_the_findings_on_stderr(
    make_project, tmp_path: Path
) -> None:
    root = make_project(
        {"webapp/helper.py": "import subprocess\n"}, app_imports="from . import helper\n"
    )
    out = tmp_path / "never"
    proc = subprocess.run(
        [sys.executable, "-m", "djbuild.cli", "build", "--root", str(root), "--out", str(out)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert proc.returncode == 1
    assert "forbidden module 'subprocess'" in proc.stderr
    assert proc.stdout == ""
    assert not out.exists()


def test_optional_body_and_a_declared_400_both_show_in_openapi() -> None:
    from pydantic import BaseModel

    from djbuild.openapi import build_document
    from runtime import App, Context, Router

    class Body(BaseModel):
        uri: str

    class Refused(BaseModel):
        error: str

    app = App(title="t", version="1")
    router = Router()

    @router.post("/play", body=Body, body_required=False, responses={200: None, 400: Refused})
    async def play(c: Context) -> None: ...

    app.route("/api", router)
    doc = build_document(app)
    validate(doc)
    op = doc["paths"]["/api/play"]["post"]
    assert op["requestBody"]["required"] is False
    schema = op["responses"]["400"]["content"]["application/json"]["schema"]
    assert schema == {
        "anyOf": [
            {"$ref": "#/components/schemas/Refused"},
            {"$ref": "#/components/schemas/ValidationError"},
        ]
    }
