"""Vendored packages are shaken at module level: only what the import walk reaches ships."""

from __future__ import annotations

import ast
import gzip
import json
from pathlib import Path

import pytest

from djbuild import vendor
from djbuild.analysis.scan import scan_source
from djbuild.build import BuildError, build_project
from djbuild.shrink import shrink_python
from tests.djbuild.conftest import Project

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("shaken") / "dist"
    build_project(ROOT, out, bytecode="off")  # sources, to compare with the originals
    return out


@pytest.fixture(scope="module")
def files(dist: Path) -> dict[str, dict]:
    return {f["path"]: f for f in json.loads((dist / "manifest.json").read_text())["files"]}


def test_modules_nothing_reaches_are_left_out(dist: Path) -> None:
    pm = dist / "python_modules"
    assert (pm / "pydantic" / "main.py").is_file()
    assert not (pm / "pydantic" / "v1").exists()  # reached only for v1-style types
    assert not (pm / "pydantic" / "mypy.py").exists()
    assert not (pm / "pydantic" / "experimental").exists()
    assert not list(pm.rglob("*.pyi")) and not list(pm.rglob("__pycache__"))


def test_every_vendored_module_says_who_imports_it(files: dict[str, dict]) -> None:
    vendored = {p: f for p, f in files.items() if p.startswith("python_modules/")}
    modules = {p: f for p, f in vendored.items() if p.endswith((".py", ".so"))}
    assert len(modules) > 50
    for path, entry in modules.items():
        assert entry["module"], path
        assert entry["importedBy"], path
    main = files["python_modules/pydantic/main.py"]
    assert main["module"] == "pydantic.main"
    assert any(i.startswith("pydantic:") for i in main["importedBy"])  # its lazy table
    so = next(p for p in modules if p.endswith(".so"))
    assert files[so]["module"] == "pydantic_core._pydantic_core"
    assert "pydantic_core:8" in " ".join(files[so]["importedBy"])


def test_data_native_and_metadata_files_of_reached_packages_ship(dist: Path) -> None:
    pm = dist / "python_modules"
    assert (pm / "pydantic" / "py.typed").is_file()
    assert list((pm / "pydantic_core").glob("_pydantic_core.*.so"))
    [info] = pm.glob("pydantic-*.dist-info")
    metadata = (info / "METADATA").read_text()
    assert "Name: pydantic" in metadata and "Version: 2." in metadata
    assert list(info.glob("licenses/*"))
    # the long description is a README, not metadata a program reads
    assert len(metadata) < 20_000


def test_bundle_gzip_fits_the_target(dist: Path, files: dict[str, dict]) -> None:
    uploaded = [p for p in files if p.startswith(("src/", "python_modules/"))]
    everything = b"".join((dist / p).read_bytes() for p in uploaded)
    assert len(gzip.compress(everything, compresslevel=6)) <= 1.7 * 1024 * 1024


def test_include_ships_modules_reached_only_dynamically(make_project: Project) -> None:
    extra = """
    [tool.djbuild]
    include = ["pydantic.v1.*", "pydantic.experimental.pipeline"]
    """
    root = make_project(app_imports="import pydantic\n")
    pyproject = root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("[tool.djbuild]\n", extra.strip() + "\n"))
    out = root / "dist"
    build_project(root, out)
    files = {f["path"]: f for f in json.loads((out / "manifest.json").read_text())["files"]}
    main = files["python_modules/pydantic/v1/main.py"]
    assert main["module"] == "pydantic.v1.main"
    assert "[tool.djbuild] include:0" in main["importedBy"]
    assert "python_modules/pydantic/experimental/pipeline.py" in files
    assert "python_modules/pydantic/experimental/__init__.py" in files
    assert "python_modules/pydantic/experimental/arguments_schema.py" not in files


def test_an_include_naming_nothing_fails_the_build(make_project: Project) -> None:
    root = make_project(app_imports="import pydantic\n")
    pyproject = root / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace(
            "[tool.djbuild]\n", '[tool.djbuild]\ninclude = ["pydantic.no_such_module"]\n'
        )
    )
    with pytest.raises(BuildError) as err:
        build_project(root, write=False)
    assert "pydantic.no_such_module" in "\n".join(err.value.details)


def test_a_lazy_import_table_counts_as_imports() -> None:
    source = (
        "_dynamic_imports = {\n"
        "    'BaseModel': (__spec__.parent, '.main'),\n"
        "    'dataclasses': (__spec__.parent, '__module__'),\n"
        "    'validator': (__spec__.parent, '.deprecated.class_validators'),\n"
        "}\n"
    )
    scan = scan_source(source, "pkg", is_package=True)
    assert {i.module for i in scan.imports} == {
        "pkg.main",
        "pkg.dataclasses",
        "pkg.deprecated.class_validators",
    }


def _lines(tree: ast.AST) -> list[tuple[str, int]]:
    return [
        (type(n).__name__, n.lineno) for n in ast.walk(tree) if isinstance(n, (ast.stmt, ast.expr))
    ]


def _code(tree: ast.Module) -> str:
    for node in ast.walk(tree):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            if isinstance(node.value.value, (str, bytes)):
                node.value = ast.Constant("")
    return ast.dump(tree)


def test_shipped_python_is_the_same_code_on_the_same_lines(dist: Path) -> None:
    manifest = json.loads((dist / "manifest.json").read_text())
    vendored = vendor.ensure(manifest["requirements"]).path
    pairs = [
        (ROOT / rel, dist / "src" / rel)
        for rel in (
            p.relative_to(ROOT).as_posix()
            for base in ("routes", "runtime", "dj")
            for p in (ROOT / base).rglob("*.py")
        )
        if (dist / "src" / rel).exists()
    ]
    pairs += [
        (vendored / f["path"].removeprefix("python_modules/"), dist / f["path"])
        for f in manifest["files"]
        if f["path"].startswith("python_modules/") and f["path"].endswith(".py")
    ]
    assert len(pairs) > 150
    smaller = 0
    for source, shipped in pairs:
        before, after = source.read_text(), shipped.read_text()
        assert after.count("\n") == before.count("\n"), shipped
        assert _code(ast.parse(after)) == _code(ast.parse(before)), shipped
        assert _lines(ast.parse(after)) == _lines(ast.parse(before)), shipped
        smaller += len(after) < len(before)
    assert smaller > 0.9 * len(pairs)


def test_shrinking_drops_comments_docstrings_and_spaces_only() -> None:
    source = (
        '"""Module doc."""\n'
        "from __future__ import annotations\n"
        "x = (1,  # one\n"
        "        2)\n"
        "def f(a, b = 3):\n"
        '    """Doc — with ü."""\n'
        "    if a is not None and b > 1.5 :\n"
        "        return 1 if a else 2\n"
        "    return [\n"
        "        'keep  spaces',  'and # this'\n"
        "    ]\n"
        "y = 1 \\\n"
        "    + 2\n"
    )
    out = shrink_python(source)
    assert out.count("\n") == source.count("\n")
    assert "Doc" not in out and "# one" not in out
    assert "'keep  spaces'" in out and "'and # this'" in out
    assert "def f(a,b=3):" in out
    ns: dict = {}
    exec(compile(out, "shrunk", "exec"), ns)
    assert ns["f"](1) == 1 and ns["f"](None) == ["keep  spaces", "and # this"]
    assert ns["x"] == (1, 2) and ns["y"] == 3


def test_source_that_does_not_parse_ships_unchanged() -> None:
    source = "def broken(:\n    pass\n"
    assert shrink_python(source) == source
