"""`djbuild init NAME`: a new Worker project that checks, builds, serves and deploys as it is.

Rendered from `templates/init/` (shipped inside the package): pyproject.toml with
`[tool.djbuild]`, wrangler.toml, a package with one route module, its test on the runtime's
test client, public/ for the ASSETS binding, and .gitignore.
"""

from __future__ import annotations

import re
from pathlib import Path

import jinja2

from .render import TEMPLATES

# The date the DJ API's own wrangler.toml uses: Python 3.14 on Workers (>= PY314_DATE), and a
# date the pinned wrangler and the local host know. tests/djbuild/test_init.py keeps them equal.
COMPATIBILITY_DATE = "2026-11-01"

NAME = re.compile(r"^[a-z][a-z0-9-]{0,52}[a-z0-9]$")

# template -> path in the new project ("{package}" is the Python package's name)
FILES = {
    "pyproject.toml.j2": "pyproject.toml",
    "wrangler.toml.j2": "wrangler.toml",
    "gitignore.j2": ".gitignore",
    "package_init.py.j2": "{package}/__init__.py",
    "routes.py.j2": "{package}/routes.py",
    "test_routes.py.j2": "tests/test_routes.py",
    "index.html.j2": "public/index.html",
}


class ScaffoldError(Exception):
    pass


def package_name(name: str) -> str:
    return name.replace("-", "_")


def check_name(name: str) -> None:
    if not NAME.match(name) or "--" in name:
        raise ScaffoldError(
            f"{name!r} is not a Worker name: use lowercase letters, digits and single dashes, "
            "starting with a letter (e.g. my-worker)"
        )


def create(name: str, parent: Path) -> tuple[Path, list[str]]:
    """Write the project into parent/NAME; returns its folder and the files written."""
    check_name(name)
    target = parent / name
    if target.exists() and any(target.iterdir()):
        raise ScaffoldError(f"{target} already exists and is not empty")
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES / "init"),
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    values = {
        "name": name,
        "package": package_name(name),
        "compatibility_date": COMPATIBILITY_DATE,
    }
    written = []
    for template, rel in FILES.items():
        path = target / rel.format(package=values["package"])
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(env.get_template(template).render(values))
        written.append(path.relative_to(target).as_posix())
    return target, written
