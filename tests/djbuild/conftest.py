from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

WRANGLER = """\
name = "t"
compatibility_date = "2026-10-01"
compatibility_flags = ["python_workers"]
"""

APP = """\
from runtime import App, Context, Router
{imports}
router = Router()


@router.get("/ping")
async def ping(c: Context) -> dict:
    return {{"pong": True}}


app = App(title="t", version="1")
app.route("/api", router)
"""

Project = Callable[..., Path]


@pytest.fixture
def make_project(tmp_path: Path) -> Iterator[Project]:
    """A throwaway project: pyproject, wrangler.toml, an app module and any extra files."""
    made: list[str] = []

    def make(
        files: dict[str, str] | None = None, app_imports: str = "", pyproject_extra: str = ""
    ) -> Path:
        root = tmp_path / f"proj{len(made)}"
        root.mkdir()
        (root / "pyproject.toml").write_text(
            '[project]\nname = "t"\nversion = "0"\n\n[tool.djbuild]\napp = "webapp.main:app"\n'
            + textwrap.dedent(pyproject_extra)
        )
        (root / "wrangler.toml").write_text(WRANGLER)
        pkg = root / "webapp"
        pkg.mkdir()
        (pkg / "__init__.py").write_text("")
        (pkg / "main.py").write_text(APP.format(imports=textwrap.dedent(app_imports)))
        for rel, text in (files or {}).items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text))
        made.append(str(root))
        return root

    yield make
    # each project's modules share names ("webapp"): forget them between tests
    for name in [m for m in sys.modules if m == "webapp" or m.startswith("webapp.")]:
        del sys.modules[name]
    for root in made:
        while root in sys.path:
            sys.path.remove(root)
