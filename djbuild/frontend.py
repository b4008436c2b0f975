"""The front-end build step: `[tool.djbuild.assets] build = "..."`, run before the Worker build.

The command runs in the project root with the environment djbuild has; its output is kept
and shown only when it fails. The folder it writes (`[tool.djbuild.assets] dir`) is what the
ASSETS binding serves (djbuild.config points wrangler's `[assets] directory` at it).
"""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

from .config import AssetSettings

OUTPUT_TAIL_LINES = 40


class FrontendBuildError(Exception):
    def __init__(self, summary: str, details: list[str]) -> None:
        super().__init__(summary)
        self.summary = summary
        self.details = details


def run(settings: AssetSettings, root: Path) -> bool:
    """Run the configured step; False when none is configured. Raises FrontendBuildError."""
    if not settings.build:
        return False
    shown = shlex.join(settings.build)
    try:
        done = subprocess.run(
            settings.build,
            cwd=root,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            check=False,
        )
    except OSError as exc:
        raise FrontendBuildError(
            f"the assets build step could not start: {shown}",
            [f"{exc.strerror or exc} ([tool.djbuild.assets] build in pyproject.toml)"],
        ) from None
    if done.returncode != 0:
        tail = done.stdout.rstrip().splitlines()[-OUTPUT_TAIL_LINES:]
        raise FrontendBuildError(
            f"the assets build step failed with exit code {done.returncode}: {shown}", tail
        )
    if settings.dir is not None and not settings.dir.is_dir():
        raise FrontendBuildError(
            f"the assets build step did not write {settings.dir.name}/",
            [f"[tool.djbuild.assets] dir = {os.path.relpath(settings.dir, root)}"],
        )
    return True
