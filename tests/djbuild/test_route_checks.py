from __future__ import annotations

import pytest

from djbuild.build import BuildError, build_project
from tests.djbuild.conftest import Project

MODELS = """
from pydantic import BaseModel
class P(BaseModel):
    id: int
class Body(BaseModel):
    name: str
class Weird(BaseModel):
    model_config = {"arbitrary_types_allowed": True}
    handle: object
    fn: type
"""


def _problems(make_project: Project, routes: str) -> list[str]:
    root = make_project(
        {"webapp/extra.py": MODELS + routes}, app_imports="from .extra import extra\n"
    )
    main = root / "webapp" / "main.py"
    main.write_text(main.read_text() + 'app.route("/api/x", extra)\n')
    with pytest.raises(BuildError) as err:
        build_project(root, write=False)
    assert "problem(s) in the route declarations" in err.value.summary
    return err.value.details


HEAD = "from runtime import Router, Context\nextra = Router()\n"


def test_duplicate_method_and_path_names_both_places(make_project: Project) -> None:
    [problem] = _problems(
        make_project,
        HEAD
        + """
@extra.get("/{id}", path_params=P)
async def a(c: Context): ...

@extra.get("/{id}/", path_params=P)
async def b(c: Context): ...
""",
    )
    assert problem.startswith("webapp/extra.py:")
    assert "duplicate route: also declared at webapp.extra:" in problem


def test_path_param_without_a_model_is_named_with_module_and_line(make_project: Project) -> None:
    problems = _problems(
        make_project,
        HEAD
        + """
@extra.get("/{id}")
async def a(c: Context): ...
""",
    )
    assert any(
        "webapp/extra.py:" in p and "path parameter(s) id have no model" in p for p in problems
    )


def test_path_model_fields_must_match_the_path(make_project: Project) -> None:
    problems = _problems(
        make_project,
        HEAD
        + """
@extra.get("/{item}", path_params=P)
async def a(c: Context): ...
""",
    )
    assert any("lacks field(s) item" in p for p in problems)
    assert any("not in the path: id" in p for p in problems)


def test_response_model_that_cannot_be_serialised_is_rejected(make_project: Project) -> None:
    problems = _problems(
        make_project,
        HEAD
        + """
@extra.get("/w", responses={200: Weird})
async def a(c: Context): ...
""",
    )
    assert any("response 200 model Weird cannot be serialised" in p for p in problems)


def test_body_on_a_get_route_and_sync_handlers_are_rejected(make_project: Project) -> None:
    problems = _problems(
        make_project,
        HEAD
        + """
@extra.get("/b", body=Body)
def a(c: Context): ...
""",
    )
    assert any("cannot declare a JSON body" in p for p in problems)
    assert any("must be `async def`" in p for p in problems)
