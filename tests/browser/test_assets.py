"""The web app's size and self-containment: no build, no CDN, at most 150 KB gzip."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

PUBLIC = Path(__file__).resolve().parents[2] / "public"
LIMIT = 150 * 1024
# The SVG namespace is an identifier, not something fetched.
REMOTE = re.compile(r"https?://(?!www\.w3\.org/2000/svg)[^\s\"')]+")


def test_all_assets_together_are_at_most_150_kb_gzipped() -> None:
    files = [p for p in PUBLIC.rglob("*") if p.is_file()]
    assert files and (PUBLIC / "index.html") in files and (PUBLIC / "app" / "main.js") in files
    total = sum(len(gzip.compress(p.read_bytes(), compresslevel=9)) for p in files)
    print(f"public/: {len(files)} files, {total} bytes gzipped (limit {LIMIT})")
    assert total <= LIMIT


def test_the_app_loads_nothing_from_other_hosts() -> None:
    for path in PUBLIC.rglob("*"):
        if path.suffix in (".html", ".js", ".css"):
            found = REMOTE.findall(path.read_text())
            assert not found, f"{path.relative_to(PUBLIC)} refers to {found}"
