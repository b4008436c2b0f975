"""The `djbuild` command line: build, check, openapi, deploy, dev and init.

Exit codes: 0 success, 1 the project has problems (listed on stderr), 2 usage errors.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from . import __version__
from .build import BuildError, build_project
from .config import BYTECODE_MODES

ROOT_OPTION = click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Project folder (holds pyproject.toml and wrangler.toml).",
)
APP_OPTION = click.option(
    "--app", help="App to build as 'module:attribute' (default: [tool.djbuild] app)."
)


def _fail(exc: BuildError) -> None:
    click.secho(f"error: {exc.summary}", fg="red", err=True)
    for detail in exc.details:
        click.echo(detail, err=True)
    sys.exit(1)


class _Commands(click.Group):
    """`dev` (the local host, fakes...) is imported only when it runs or help lists it, so
    `build` and `check` start fast."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), "dev"})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name == "dev" and name not in self.commands:
            _register_dev()
        return super().get_command(ctx, name)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="djbuild")
def main() -> None:
    """Build declarative route modules into a Cloudflare Python Worker.

    \b
    djbuild check      validate routes and imports (fast, writes nothing)
    djbuild build      write dist/: a folder `wrangler deploy` accepts as it is
    djbuild openapi    print the OpenAPI document
    djbuild dev        build and serve locally on Pyodide, rebuilding on change
    djbuild deploy     run wrangler against dist/ (--dry-run works offline)
    djbuild init NAME  create a new Worker project
    """


@main.command()
@ROOT_OPTION
@APP_OPTION
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Output folder [default: ROOT/dist].",
)
@click.option("--json", "as_json", is_flag=True, help="Print the build summary as JSON.")
@click.option(
    "--check-startup",
    is_flag=True,
    help="Then start the built worker on the local host and fail (exit 1) when its top level "
    "takes more CPU time than the startup budget, as Cloudflare refuses such an upload.",
)
@click.option(
    "--startup-budget-ms",
    type=click.FloatRange(min=1),
    default=None,
    help="Startup budget for --check-startup [default: [tool.djbuild] startup_budget_ms, "
    "else 1000, workerd's limit].",
)
@click.option(
    "--bytecode",
    type=click.Choice(BYTECODE_MODES),
    default=None,
    help="Ship modules as Python 3.14 bytecode: none, the project's, or the project's and the "
    "vendored packages' [default: [tool.djbuild] bytecode, else off].",
)
def build(
    root: Path,
    app: str | None,
    out: Path | None,
    as_json: bool,
    check_startup: bool,
    startup_budget_ms: float | None,
    bytecode: str | None,
) -> None:
    """Build the Worker into dist/ and print what went into it.

    Writes src/ (the entry and only the modules it imports), python_modules/ (third-party
    packages built for Pyodide), wrangler.toml, openapi.json and manifest.json. With
    bytecode, modules ship as .pyc compiled by Pyodide (cached by content). Fails with
    exit code 1, writing nothing, when a route declaration is wrong or a module in the
    bundle imports something that cannot work on Workers.
    """
    from .report import as_dict, table

    try:
        result = build_project(root, out, app=app, measure=True, bytecode=bytecode)
    except BuildError as exc:
        _fail(exc)
        return
    if as_json:
        click.echo(json.dumps(as_dict(result), indent=2))
    else:
        click.echo(table(result))
    if check_startup:
        _check_startup(root, result.out_dir or root / "dist", startup_budget_ms)


def _check_startup(root: Path, dist: Path, option: float | None) -> None:
    """Time the built worker's top level on the local host; exit 1 over the budget."""
    from .host import HostError, check_startup, startup_budget

    budget = startup_budget(root, option)
    try:
        report = check_startup(dist, budget_ms=budget)
    except HostError as exc:
        click.secho(f"error: the built worker does not start: {exc}", fg="red", err=True)
        sys.exit(1)
    if report.over:
        click.secho(f"error: {report.production_message()}", fg="red", err=True)
        click.echo(
            "Cloudflare refuses this upload (error 10021). Top modules by import CPU time:",
            err=True,
        )
        click.echo(report.top_table(), err=True)
        sys.exit(1)
    click.echo(
        f"startup: {report.import_cpu_ms:.0f} ms CPU for the top level, "
        f"budget {report.budget_ms:.0f} ms: ok",
        err=True,
    )


@main.command()
@ROOT_OPTION
@APP_OPTION
@click.option(
    "--strict",
    is_flag=True,
    help="Also validate the OpenAPI document against the 3.1 schema (needs openapi-spec-validator).",
)
def check(root: Path, app: str | None, strict: bool) -> None:
    """Validate route declarations and the import closure without writing dist/."""
    try:
        result = build_project(root, app=app, write=False, openapi=strict)
        if strict:
            from .openapi import InvalidDocument, validate_document

            try:
                validate_document(result.openapi)
            except InvalidDocument as exc:
                raise BuildError("the generated OpenAPI document is invalid", [str(exc)]) from None
    except BuildError as exc:
        _fail(exc)
        return
    modules = len(result.closure.modules)
    click.echo(
        f"ok: {result.routes} routes, {modules} modules reached, "
        f"{len(result.allowed)} allowed exception(s), {result.seconds * 1000:.0f} ms"
    )


@main.command()
@ROOT_OPTION
@APP_OPTION
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to a file instead of stdout.",
)
def openapi(root: Path, app: str | None, output: Path | None) -> None:
    """Print the OpenAPI 3.1 document generated from the route declarations."""
    try:
        result = build_project(root, app=app, write=False)
    except BuildError as exc:
        _fail(exc)
        return
    text = json.dumps(result.openapi, indent=2, ensure_ascii=False) + "\n"
    if output:
        output.write_text(text)
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(text, nl=False)


@main.command(context_settings={"ignore_unknown_options": True})
@ROOT_OPTION
@click.option(
    "--dry-run", is_flag=True, help="Validate and measure the upload without deploying (offline)."
)
@click.option("--no-build", is_flag=True, help="Deploy dist/ as it is instead of building first.")
@click.argument("wrangler_args", nargs=-1, type=click.UNPROCESSED)
def deploy(root: Path, dry_run: bool, no_build: bool, wrangler_args: tuple[str, ...]) -> None:
    """Build, then run `wrangler deploy` against dist/wrangler.toml.

    Extra arguments after `--` go to wrangler as they are.
    """
    from .deploy import DeployError, deploy_dist

    out = (root / "dist").resolve()
    if not no_build:
        try:
            build_project(root, out)
        except BuildError as exc:
            _fail(exc)
            return
    try:
        report = deploy_dist(out, dry_run=dry_run, extra=list(wrangler_args))
    except DeployError as exc:
        click.secho(f"error: {exc}", fg="red", err=True)
        sys.exit(1)
    if report.upload_kib is not None:
        click.echo(f"wrangler: total upload {report.upload_kib} KiB / gzip {report.gzip_kib} KiB")


@main.command()
@click.argument("name")
@click.option(
    "--dir",
    "parent",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Folder to create the project in.",
)
def init(name: str, parent: Path) -> None:
    """Create a new Worker project NAME: routes, a test, pyproject.toml, wrangler.toml.

    The project checks, builds, serves (`djbuild dev`) and deploys as it is.
    """
    from .scaffold import ScaffoldError, create

    try:
        target, written = create(name, parent)
    except ScaffoldError as exc:
        click.secho(f"error: {exc}", fg="red", err=True)
        sys.exit(1)
    for rel in written:
        click.echo(f"  wrote {name}/{rel}")
    click.echo(
        f"next: cd {target} && djbuild check && djbuild dev   "
        "(tests: python -m pytest; deploy: djbuild deploy)"
    )


def _register_dev() -> None:
    try:
        from .dev import dev
    except ImportError:
        return
    main.add_command(dev)


if __name__ == "__main__":
    main()
