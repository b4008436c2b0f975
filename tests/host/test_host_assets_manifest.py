"""The host finds assets in a manifest made from the folder, as Cloudflare does from the upload.

The manifest is made when the host starts and again when the folder is replaced (djbuild dev
swaps in a new dist/ on every rebuild) or changes at its top; a file that vanished since is a
miss, never an error.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from djbuild.host import LocalHost

from .conftest import make_dist


@pytest.fixture()
def served(tmp_path: Path, node_ready: None) -> Iterator[tuple[LocalHost, httpx.Client, Path]]:
    dist = make_dist(tmp_path / "dist")
    host = LocalHost(dist, in_memory=True)
    host.start()
    try:
        with httpx.Client(base_url=host.url, timeout=30) as client:
            yield host, client, dist
    finally:
        host.stop()


def test_a_replaced_assets_folder_is_served_from_its_new_files(
    served: tuple[LocalHost, httpx.Client, Path],
) -> None:
    _host, client, dist = served
    assert client.get("/hello.txt").text == "hi from assets\n"
    fresh = dist / "public.new"
    shutil.copytree(dist / "public", fresh)
    (fresh / "hello.txt").unlink()
    (fresh / "docs" / "new.txt").write_text("added deep down\n")
    (dist / "public").rename(dist / "public.old")
    fresh.rename(dist / "public")

    assert client.get("/docs/new.txt").text == "added deep down\n"
    gone = client.get("/hello.txt")  # no asset any more: the worker answers
    assert gone.text != "hi from assets\n"


def test_a_file_added_at_the_top_of_the_folder_is_found(
    served: tuple[LocalHost, httpx.Client, Path],
) -> None:
    _host, client, dist = served
    assert client.get("/late.txt").text != "late\n"
    (dist / "public" / "late.txt").write_text("late\n")
    assert client.get("/late.txt").text == "late\n"


def test_a_file_deleted_after_the_manifest_was_made_is_a_miss_not_an_error(
    served: tuple[LocalHost, httpx.Client, Path],
) -> None:
    host, client, dist = served
    assert client.get("/docs/").text == "<h1>docs</h1>\n"
    (dist / "public" / "docs" / "index.html").unlink()  # the folder's top is unchanged
    resp = client.get("/docs/")
    assert resp.status_code != 500
    assert "<h1>docs</h1>" not in resp.text
    assert "worker raised" not in host.output()


def test_a_link_to_a_file_outside_the_folder_is_never_served(
    served: tuple[LocalHost, httpx.Client, Path],
) -> None:
    _host, client, dist = served
    os.symlink(dist / "secret.txt", dist / "public" / "leak.txt")
    os.symlink(dist / "public" / "app.css", dist / "public" / "alias.css")
    assert "TOP-SECRET" not in client.get("/leak.txt").text
    assert client.get("/alias.css").text == "body { color: red }\n"
