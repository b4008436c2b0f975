"""Fixtures for the local Worker host: a hand-made dist/ and a host serving it."""

from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from djbuild import toolchain
from djbuild.host import LocalHost

HERE = Path(__file__).resolve().parent
SAMPLE_WORKER = HERE / "sample_worker.py"

WRANGLER_TOML = """\
name = "host-sample"
main = "src/entry.py"
compatibility_date = "2026-09-10"
compatibility_flags = {flags}

[vars]
GREETING = "hej"

[[kv_namespaces]]
binding = "CACHE"
id = "cache-namespace"

[assets]
directory = "public"
binding = "ASSETS"
not_found_handling = "single-page-application"
run_worker_first = ["/api/*"]
"""


def make_dist(
    dist: Path,
    *,
    entry_source: str | None = None,
    flags: tuple[str, ...] = ("python_workers", "enable_request_signal"),
    vendor_sdk: bool = True,
    extra_config: str = "",
) -> Path:
    """Write a deployable-shaped dist/: wrangler.toml, src/entry.py, python_modules/, public/."""
    shutil.rmtree(dist, ignore_errors=True)
    (dist / "src").mkdir(parents=True)
    if entry_source is None:
        shutil.copy(SAMPLE_WORKER, dist / "src" / "entry.py")
    else:
        (dist / "src" / "entry.py").write_text(entry_source)
    if vendor_sdk:
        toolchain.vendor_workers_sdk(dist / "python_modules")
    public = dist / "public"
    (public / "api").mkdir(parents=True)
    (public / "index.html").write_text("<!doctype html><h1>single page app</h1>\n")
    (public / "hello.txt").write_text("hi from assets\n")
    (public / "app.css").write_text("body { color: red }\n")
    (public / "docs").mkdir()
    (public / "docs" / "index.html").write_text("<h1>docs</h1>\n")
    # Shadowed by run_worker_first = ["/api/*"]: the worker must answer /api/hello.
    (public / "api" / "hello").write_text("asset, not worker\n")
    (dist / "secret.txt").write_text("TOP-SECRET-OUTSIDE-ASSETS\n")
    flag_list = "[" + ", ".join(f'"{f}"' for f in flags) + "]"
    (dist / "wrangler.toml").write_text(WRANGLER_TOML.format(flags=flag_list) + extra_config)
    (dist / ".dev.vars").write_text('# secrets for local runs\nAPI_TOKEN="s3cret"\n')
    return dist


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def node_ready() -> None:
    """Install the npm packages and the SDK once, before any timing-sensitive test."""
    toolchain.ensure_node_modules()
    toolchain.ensure_workers_sdk()


@pytest.fixture(scope="module")
def sample_dist(tmp_path_factory: pytest.TempPathFactory, node_ready: None) -> Path:
    return make_dist(tmp_path_factory.mktemp("sample") / "dist")


@pytest.fixture(scope="module")
def host(sample_dist: Path) -> Iterator[LocalHost]:
    """One in-memory host per test module, always stopped."""
    local = LocalHost(sample_dist, in_memory=True)
    local.start()
    try:
        yield local
    finally:
        local.stop()
