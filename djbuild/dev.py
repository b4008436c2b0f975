"""`djbuild dev`: build, serve on the local Worker host, rebuild and restart on change.

Each build goes to a staging folder first; only a build that succeeds replaces the served
`dist/` and restarts the host, so a broken edit keeps the last good build serving. If the new
build fails to start (e.g. it raises at import), the previous build is put back and served.
Changes are found by polling modification times; no extra dependency.
"""

from __future__ import annotations

import shutil
import signal
import sys
import time
import traceback
from collections.abc import Callable, Iterable
from pathlib import Path
from types import FrameType
from typing import Any

import click

from djbuild.host import HostError, LocalHost, startup_budget

BuildFn = Callable[[Path, Path], object]
WATCHED = ("routes", "runtime", "dj", "wrangler.toml")


def _default_build(root: Path, out_dir: Path) -> object:
    try:
        from djbuild.build import build_project  # type: ignore[import-not-found]
    except ImportError as exc:
        raise click.ClickException(
            f"djbuild.build.build_project is not available ({exc}); cannot build the project"
        ) from exc
    return build_project(root, out_dir)


def snapshot(paths: Iterable[Path]) -> dict[str, float]:
    """Modification times of every file under `paths` (folders walked, caches skipped)."""
    seen: dict[str, float] = {}
    for base in paths:
        if base.is_file():
            seen[str(base)] = base.stat().st_mtime
            continue
        if not base.is_dir():
            continue
        for path in base.rglob("*"):
            if "__pycache__" in path.parts or path.suffix == ".pyc":
                continue
            try:
                if path.is_file():
                    seen[str(path)] = path.stat().st_mtime
            except OSError:
                continue
    return seen


def _describe(exc: BaseException) -> str:
    """A build error as the user should see it: summary and details, else the traceback."""
    details = getattr(exc, "details", None)
    if isinstance(details, list):
        return "\n".join([str(exc), *(f"  - {d}" for d in details)])
    if isinstance(exc, click.ClickException):
        return exc.format_message()
    return "".join(traceback.format_exception(exc))


def _say(message: str) -> None:
    click.echo(f"djbuild dev: {message}", err=True)


class DevServer:
    """Build `root` into `out_dir`, serve it, rebuild and restart when watched files change."""

    def __init__(
        self,
        root: Path,
        out_dir: Path,
        *,
        build: BuildFn | None = None,
        port: int = 8787,
        host: str = "127.0.0.1",
        persist_to: Path | None = None,
        watch: Iterable[Path] | None = None,
        echo: bool = True,
        env_file: Path | None = None,
        host_options: dict[str, Any] | None = None,
    ) -> None:
        self.root = root.resolve()
        self.out_dir = out_dir if out_dir.is_absolute() else self.root / out_dir
        self.build_fn: BuildFn = build or _default_build
        self.port = port
        self.host = host
        self.persist_to = persist_to or self.root / ".wrangler" / "state"
        self.watch_paths = list(watch) if watch is not None else [self.root / w for w in WATCHED]
        self.echo = echo
        self.env_file = env_file
        self.host_options = dict(host_options or {})  # limits: plan, startup budget, clock
        self.local: LocalHost | None = None
        self.url = ""
        self.builds = 0
        self.failed_builds = 0
        self._mtimes: dict[str, float] = {}

    @property
    def _staging(self) -> Path:
        return self.out_dir.with_name(self.out_dir.name + ".staging")

    @property
    def _previous(self) -> Path:
        return self.out_dir.with_name(self.out_dir.name + ".previous")

    def _build_staging(self) -> bool:
        shutil.rmtree(self._staging, ignore_errors=True)
        started = time.perf_counter()
        try:
            self.build_fn(self.root, self._staging)
        except Exception as exc:
            self.failed_builds += 1
            _say(f"build failed, still serving the last good build:\n{_describe(exc)}")
            shutil.rmtree(self._staging, ignore_errors=True)
            return False
        self.builds += 1
        _say(f"built in {(time.perf_counter() - started) * 1000:.0f} ms")
        return True

    def _start_host(self) -> None:
        port = self.port
        if self.url:  # keep the URL stable across restarts
            port = int(self.url.rsplit(":", 1)[1])
        self.local = LocalHost(
            self.out_dir,
            port=port,
            host=self.host,
            persist_to=self.persist_to,
            echo=self.echo,
            env_file=self.env_file,
            **self.host_options,
        )
        started = time.perf_counter()
        self.url = self.local.start()
        _say(
            f"serving {self.url} (host up in {(time.perf_counter() - started) * 1000:.0f} ms, "
            f"worker import {self.local.import_ms:.0f} ms)"
        )
        report = self.local.startup
        if report is not None and report.over:
            _say(
                f"warning: {report.production_message()}; Cloudflare would refuse this "
                f"upload (error 10021). Top modules by import CPU time:\n{report.top_table()}"
            )

    def start(self) -> str:
        """First build and start; raises if there is no good build to serve."""
        self._mtimes = snapshot(self.watch_paths)
        if not self._build_staging():
            raise click.ClickException("the first build failed; fix it and run djbuild dev again")
        shutil.rmtree(self.out_dir, ignore_errors=True)
        self._staging.rename(self.out_dir)
        self._start_host()
        return self.url

    def changed(self) -> bool:
        current = snapshot(self.watch_paths)
        if current != self._mtimes:
            self._mtimes = current
            return True
        return False

    def rebuild(self) -> bool:
        """Rebuild and restart; on any failure keep (or bring back) the last good build."""
        if not self._build_staging():
            return False
        if self.local is not None:
            self.local.stop()
        shutil.rmtree(self._previous, ignore_errors=True)
        if self.out_dir.exists():
            self.out_dir.rename(self._previous)
        self._staging.rename(self.out_dir)
        try:
            self._start_host()
        except HostError as exc:
            self.failed_builds += 1
            _say(f"the new build does not start; serving the last good build again:\n{exc}")
            shutil.rmtree(self.out_dir, ignore_errors=True)
            self._previous.rename(self.out_dir)
            self._start_host()
            return False
        shutil.rmtree(self._previous, ignore_errors=True)
        return True

    def poll_once(self) -> bool | None:
        """Rebuild if something changed: None when nothing did, else whether it succeeded."""
        if not self.changed():
            return None
        _say("change detected, rebuilding ...")
        return self.rebuild()

    def stop(self) -> None:
        if self.local is not None:
            self.local.stop()
            self.local = None

    def serve_forever(self, interval: float = 0.5) -> None:
        try:
            while True:
                time.sleep(interval)
                self.poll_once()
        finally:
            self.stop()


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@click.command("dev")
@click.option("--port", default=8787, show_default=True, help="Port (0 picks a free one).")
@click.option("--host", "host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option(
    "--persist-to",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Local state folder (default: .wrangler/state, shared with wrangler --local).",
)
@click.option(
    "--root",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Project root.",
)
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=Path("dist"))
@click.option(
    "--env-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Secrets and vars in .dev.vars format (default: .dev.vars beside the wrangler config).",
)
@click.option(
    "--fakes",
    is_flag=True,
    help="Start local fakes of Spotify, Deezer, Last.fm, MusicBrainz and Anthropic and point "
    "the worker at them (offline demo; no account needed).",
)
@click.option(
    "--plan",
    type=click.Choice(["free", "paid"]),
    default="paid",
    show_default=True,
    help="Workers plan whose limits the host enforces (CPU time per request, subrequests); "
    "[limits] cpu_ms in the wrangler config overrides the plan's CPU time.",
)
@click.option(
    "--startup-budget-ms",
    type=click.FloatRange(min=1),
    default=None,
    help="Warn when the top level takes more CPU time [default: [tool.djbuild] "
    "startup_budget_ms, else 1000].",
)
@click.option(
    "--workerd-clock",
    is_flag=True,
    help="Date.now()/performance.now() (and Python's time) advance only across I/O, as on workerd.",
)
def dev(
    port: int,
    host: str,
    persist_to: Path | None,
    root: Path,
    out_dir: Path,
    env_file: Path | None,
    fakes: bool,
    plan: str,
    startup_budget_ms: float | None,
    workerd_clock: bool,
) -> None:
    """Build the worker, serve it locally, rebuild and restart on change."""
    suite = None
    if fakes:
        suite, env_file = _start_fakes(root, env_file)
    host_options = {
        "plan": plan,
        "startup_budget_ms": startup_budget(root, startup_budget_ms),
        "workerd_clock": workerd_clock or None,  # None: $DJBUILD_WORKERD_CLOCK decides
    }
    server = DevServer(
        root,
        out_dir,
        port=port,
        host=host,
        persist_to=persist_to,
        env_file=env_file,
        host_options=host_options,
    )
    signal.signal(signal.SIGTERM, _raise_interrupt)
    started = time.perf_counter()
    try:
        try:
            url = server.start()
        except HostError as exc:
            # The host's own output (traceback, error line) was already echoed above.
            raise click.ClickException(str(exc).splitlines()[0]) from exc
        click.echo(
            f"ready: {url} (started in {(time.perf_counter() - started):.1f} s; Ctrl-C stops)"
        )
        if suite is not None:
            click.echo(
                "OFFLINE DEMO: every upstream is a local fake; no real Spotify, Anthropic, Deezer,\n"
                f"Last.fm or MusicBrainz is called. Try: curl {url}/api/health, open {url}/api/docs;\n"
                f"a Spotify token the fake accepts: {suite.vars.get('FAKE_SPOTIFY_DEV_TOKEN', '')}"
            )
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            click.echo("stopped", err=True)
        finally:
            server.stop()
    finally:
        if suite is not None:
            suite.stop()
    sys.exit(0)


def _start_fakes(root: Path, env_file: Path | None) -> tuple[object, Path]:
    """Start the fakes and write the vars that point the worker at them (plus any given file)."""
    from fakes import start_all

    suite = start_all(demo_playback=True)
    target = root.resolve() / ".wrangler" / "fakes.dev.vars"
    target.parent.mkdir(parents=True, exist_ok=True)
    extra = env_file.read_text() if env_file is not None else ""
    target.write_text(suite.dev_vars() + extra)
    for name, value in sorted(suite.vars.items()):
        if name.endswith("_BASE"):
            _say(f"fake {name} = {value}")
    return suite, target
