"""`wrangler deploy` against dist/, with wrangler run by the Node that djbuild installs."""

from __future__ import annotations

import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from . import toolchain

_UPLOAD = re.compile(r"Total Upload:\s*([\d.,]+)\s*KiB\s*/\s*gzip:\s*([\d.,]+)\s*KiB")


class DeployError(RuntimeError):
    pass


@dataclass
class DeployReport:
    output: str
    upload_kib: float | None
    gzip_kib: float | None


def parse_upload(output: str) -> tuple[float | None, float | None]:
    m = _UPLOAD.search(output)
    if not m:
        return None, None
    return float(m.group(1).replace(",", "")), float(m.group(2).replace(",", ""))


def deploy_dist(
    dist: Path, *, dry_run: bool, extra: list[str] | None = None, echo: bool = True
) -> DeployReport:
    dist = dist.resolve()
    config = dist / "wrangler.toml"
    if not config.exists():
        raise DeployError(f"{config} not found: run `djbuild build` first")
    args = ["deploy", "-c", str(config), *(extra or [])]
    with tempfile.TemporaryDirectory(prefix="djbuild-deploy-") as outdir:
        if dry_run:
            args += ["--dry-run", "--outdir", outdir]
        try:
            proc = toolchain.wrangler(args, cwd=dist, capture=True)
        except toolchain.ToolchainError as exc:
            raise DeployError(str(exc)) from None
    output = (proc.stdout or "") + (proc.stderr or "")
    if echo:
        sys.stderr.write(output)
    if proc.returncode != 0:
        raise DeployError(f"wrangler exited with {proc.returncode}")
    upload, gz = parse_upload(output)
    return DeployReport(output, upload, gz)
