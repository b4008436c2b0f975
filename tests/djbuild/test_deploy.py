from __future__ import annotations

import json
from pathlib import Path

from djbuild.build import build_project
from djbuild.deploy import deploy_dist, parse_upload

ROOT = Path(__file__).resolve().parents[2]


def test_wrangler_dry_run_accepts_the_bundle_and_reports_its_upload_size(tmp_path: Path) -> None:
    out = tmp_path / "dist"
    build_project(ROOT, out)
    report = deploy_dist(out, dry_run=True, echo=False)
    assert report.upload_kib is not None and report.gzip_kib is not None
    manifest = json.loads((out / "manifest.json").read_text())
    uploaded = manifest["totals"]["bytes"] / 1024
    # wrangler counts the same modules we list (plus nothing else of size)
    assert abs(report.upload_kib - uploaded) / uploaded < 0.02
    assert report.gzip_kib < report.upload_kib
    assert "python_modules" not in report.output or "cannot exist" not in report.output
    assert "Vendored Modules" in report.output


def test_upload_line_parser_reads_wranglers_figures() -> None:
    assert parse_upload("Total Upload: 6,876.00 KiB / gzip: 1886.56 KiB\n") == (6876.0, 1886.56)
    assert parse_upload("nothing here") == (None, None)
