"""The console summary of a build: what went in, how big it is against Workers' limits."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .manifest import Manifest

FREE_LIMIT = 3 * 1024 * 1024
PAID_LIMIT = 10 * 1024 * 1024


@dataclass
class SizeRow:
    group: str
    files: int
    raw: int
    gzip: int


def _gz(chunks: list[bytes]) -> int:
    return len(gzip.compress(b"".join(chunks), compresslevel=6, mtime=0))


def sizes(manifest: Manifest, out_dir: Path) -> tuple[list[SizeRow], SizeRow]:
    """Raw and gzip size per group; the total's gzip is the sum of the groups' (a group is
    compressed as one stream, which is what matters against the limits, within a few %).
    A group's gzip size is remembered by the hashes of its files: the vendored groups, the
    biggest, are compressed once."""
    # vendored groups' sizes live beside the vendor sets, like their shrunk files and scans
    stores = {False: _GzipSizes(), True: _GzipSizes("vendor/gzip-sizes.json")}
    rows = []
    for group, files in sorted(manifest.groups().items()):
        known = stores[group.startswith("vendor:")]
        key = hashlib.sha256("\n".join(f.sha256 for f in files).encode()).hexdigest()
        size = known.get(key)
        if size is None:
            size = _gz([(out_dir / f.path).read_bytes() for f in files])
            known.put(key, size)
        rows.append(SizeRow(group, len(files), sum(f.bytes for f in files), size))
    for known in stores.values():
        known.save()
    rows.sort(key=lambda r: -r.raw)
    total = SizeRow(
        "total",
        sum(r.files for r in rows),
        sum(r.raw for r in rows),
        sum(r.gzip for r in rows),
    )
    return rows, total


class _GzipSizes:
    def __init__(self, name: str = "gzip-sizes.json") -> None:
        from .vendor import cache_root

        self.path = cache_root() / name
        self.dirty = False
        try:
            self.sizes: dict[str, int] = json.loads(self.path.read_text())
        except (OSError, ValueError):
            self.sizes = {}

    def get(self, key: str) -> int | None:
        return self.sizes.get(key)

    def put(self, key: str, size: int) -> None:
        self.sizes[key] = size
        self.dirty = True

    def save(self) -> None:
        if not self.dirty:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(dict(list(self.sizes.items())[-200:])))
            tmp.replace(self.path)
        except OSError:
            pass  # only costs time


def _kib(n: int) -> str:
    return f"{n / 1024:,.1f} KiB"


def as_dict(result: Any) -> dict[str, Any]:
    manifest: Manifest = result.manifest
    known = getattr(result, "sizes", None)
    if known:
        rows = [SizeRow(**r) for r in known["rows"]]
        total = SizeRow(**known["total"])
    else:
        rows, total = sizes(manifest, result.out_dir)
    return {
        "outDir": str(result.out_dir),
        "bundleHash": manifest.bundle_hash,
        "routes": result.routes,
        "modules": total.files,
        "groups": [r.__dict__ for r in rows],
        "total": {"files": total.files, "raw": total.raw, "gzip": total.gzip},
        "limits": {
            "free": {"gzip": FREE_LIMIT, "fits": total.gzip <= FREE_LIMIT},
            "paid": {"gzip": PAID_LIMIT, "fits": total.gzip <= PAID_LIMIT},
        },
        "allowed": [
            {"module": f.module, "target": f.target, "reason": f.allowed_by} for f in result.allowed
        ],
        "vendorCached": result.vendor_cached,
        "cached": getattr(result, "cached", False),
        "seconds": round(result.seconds, 3),
    }


def table(result: Any) -> str:
    data = as_dict(result)
    lines = [f"{'':2}{'group':<34}{'files':>6}{'raw':>14}{'gzip':>14}"]
    for r in data["groups"]:
        lines.append(
            f"{'':2}{r['group']:<34}{r['files']:>6}{_kib(r['raw']):>14}{_kib(r['gzip']):>14}"
        )
    t = data["total"]
    lines.append(f"{'':2}{'total':<34}{t['files']:>6}{_kib(t['raw']):>14}{_kib(t['gzip']):>14}")
    gz = t["gzip"]
    lines.append(
        f"  limits (gzip): free 3 MB {100 * gz / FREE_LIMIT:.0f}% used"
        f"{'' if gz <= FREE_LIMIT else ' OVER'} · paid 10 MB {100 * gz / PAID_LIMIT:.0f}% used"
        f"{'' if gz <= PAID_LIMIT else ' OVER'}"
    )
    for a in data["allowed"]:
        lines.append(f"  allowed: {a['module']} -> {a['target']} ({a['reason']})")
    lines.append(
        f"  {data['routes']} routes · bundle {data['bundleHash'][:16]} · "
        f"{'unchanged, reused in' if data['cached'] else 'built in'} {data['seconds'] * 1000:.0f} ms"
        f"{' (vendor cache hit)' if data['vendorCached'] and not data['cached'] else ''}"
        f" -> {data['outDir']}"
    )
    return "\n".join(lines)
