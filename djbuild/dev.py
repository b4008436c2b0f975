"""`djbuild dev`: build, serve on the local Worker host, rebuild and reload on change.

Each build goes to a staging folder first; only a build that succeeds replaces the served
`dist/`, so a broken edit keeps the last good build serving. The host then reloads the worker
in place: Node, Pyodide and KV's state stay up, the edited modules and every module importing
them (from the manifest's import graph) are imported again. When vendored packages
(python_modules/), the wrangler config or the env file changed, or the in-place reload fails,
the host restarts instead; the log says which happened. If the new build fails to start
(e.g. it raises at import), the previous build is put back and served.
Every build sees the project as it is on disk: edited modules, and the modules importing them,
are imported afresh (djbuild.fresh), so route checks and the OpenAPI document always match the
code being served. What to watch and which local services to start come from
`[tool.djbuild.dev]` (djbuild.config, djbuild.services): djbuild imports nothing of the app
itself. Changes are found by polling modification times; no extra dependency.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sys
import time
import traceback
from collections.abc import Callable, Iterable
from pathlib import Path
from types import FrameType
from typing import Any

import click

from djbuild import config as config_mod
from djbuild import services as services_mod
from djbuild.fresh import ProjectModules, forget_bytecode, importers_from
from djbuild.host import HostError, LocalHost, ReloadError, startup_budget

BuildFn = Callable[[Path, Path], object]
# Never worth a rebuild, wherever they sit under a watched folder.
SKIPPED_PARTS = frozenset({"__pycache__", "node_modules", ".git", ".venv", ".wrangler"})


def snapshot(paths: Iterable[Path], ignore: Iterable[Path] = ()) -> dict[str, float]:
    """Modification times of every file under `paths` (folders walked, caches skipped)."""
    ignored = {str(p.resolve()) for p in ignore}
    seen: dict[str, float] = {}
    for base in paths:
        if base.is_file():
            seen[str(base)] = base.stat().st_mtime
            continue
        if not base.is_dir():
            continue
        for folder, dirs, files in os.walk(base):
            dirs[:] = [
                d for d in dirs if d not in SKIPPED_PARTS and os.path.join(folder, d) not in ignored
            ]
            for name in files:
                if name.endswith(".pyc"):
                    continue
                path = os.path.join(folder, name)
                try:
                    seen[path] = os.stat(path).st_mtime
                except OSError:
                    continue
    return seen


def _watched(root: Path) -> list[Path]:
    try:
        return config_mod.load(root).dev.watch
    except config_mod.ConfigError as exc:
        raise click.ClickException(str(exc)) from None


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
    """Build `root` into `out_dir`, serve it, rebuild and reload (or restart) on change."""

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
        leave: Iterable[str] = (),
        host_options: dict[str, Any] | None = None,
    ) -> None:
        self.root = root.resolve()
        self.out_dir = out_dir if out_dir.is_absolute() else self.root / out_dir
        self.modules = ProjectModules(self.root, leave)  # `leave`: the dev services' packages
        self.build_fn: BuildFn = build or self._build_from_disk
        self.port = port
        self.host = host
        self.persist_to = persist_to or self.root / ".wrangler" / "state"
        self.watch_paths = list(watch) if watch is not None else _watched(self.root)
        self.echo = echo
        self.env_file = env_file
        self.host_options = dict(host_options or {})  # limits: plan, startup budget, clock
        self.local: LocalHost | None = None
        self.url = ""
        self.builds = 0
        self.failed_builds = 0
        self.reloads = 0  # rebuilds served by an in-place reload
        self.restarts = 0  # rebuilds that restarted the host
        self.last_change = ""  # "reload", "restart" or "assets": what the last rebuild did
        self._mtimes: dict[str, float] = {}
        self._env_mtime: float | None = None

    def _build_from_disk(self, root: Path, out_dir: Path) -> object:
        """The real build, importing what changed since the last one afresh (djbuild.fresh)."""
        from djbuild.build import build_project

        with self.modules.active():
            # bytecode (if the project ships it) is compiled by the first build only: a rebuild
            # ships an edited module as source rather than wait for Pyodide to start
            result = build_project(root, out_dir, compile_bytecode=self.builds == 0)
        self.modules.importers = importers_from(result)
        return result

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
            result = self.build_fn(self.root, self._staging)
        except Exception as exc:
            self.failed_builds += 1
            _say(f"build failed, still serving the last good build:\n{_describe(exc)}")
            shutil.rmtree(self._staging, ignore_errors=True)
            return False
        self.builds += 1
        laps = getattr(result, "timings", None) or {}
        detail = ", ".join(f"{name} {seconds * 1000:.0f}" for name, seconds in laps.items())
        _say(
            f"built in {(time.perf_counter() - started) * 1000:.0f} ms"
            + (f" ({detail} ms)" if detail else "")
        )
        return True

    def _env_stamp(self) -> float | None:
        try:
            return self.env_file.stat().st_mtime if self.env_file is not None else None
        except OSError:
            return None

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
            control=True,
            **self.host_options,
        )
        self._env_mtime = self._env_stamp()
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

    def _snapshot(self) -> dict[str, float]:
        outputs = (self.out_dir, self._staging, self._previous, self.persist_to)
        return snapshot(self.watch_paths, ignore=outputs)

    def start(self) -> str:
        """First build and start; raises if there is no good build to serve."""
        self._mtimes = self._snapshot()
        if not self._build_staging():
            raise click.ClickException("the first build failed; fix it and run djbuild dev again")
        shutil.rmtree(self.out_dir, ignore_errors=True)
        self._staging.rename(self.out_dir)
        self._start_host()
        return self.url

    def changed(self) -> bool:
        current = self._snapshot()
        if current != self._mtimes:
            paths = current.keys() | self._mtimes.keys()
            edited = {p for p in paths if current.get(p) != self._mtimes.get(p)}
            forget_bytecode(edited)
            self.modules.forget(edited)
            self._mtimes = current
            return True
        return False

    def rebuild(self) -> bool:
        """Rebuild, then reload in place (or restart); on any failure keep (or bring back)
        the last good build."""
        if not self._build_staging():
            return False
        plan = self._reload_plan()
        shutil.rmtree(self._previous, ignore_errors=True)
        if self.out_dir.exists():
            self.out_dir.rename(self._previous)
        self._staging.rename(self.out_dir)
        if isinstance(plan, str):
            if self.local is not None:
                _say(f"restarting the host: {plan}")
            ok = self._restart()
        elif not plan:
            self.last_change = "assets"
            _say("no module changed: assets served from the new build, nothing to reload")
            ok = True
        else:
            ok = self._reload(plan)
        shutil.rmtree(self._previous, ignore_errors=True)
        return ok

    def _reload(self, modules: set[str]) -> bool:
        assert self.local is not None
        started = time.perf_counter()
        try:
            done = self.local.reload(sorted(modules))
        except ReloadError as exc:
            first = str(exc).strip().splitlines()[-1] if str(exc).strip() else "no answer"
            _say(f"in-place reload failed ({first}); restarting the host")
            return self._restart()
        self.reloads += 1
        self.last_change = "reload"
        _say(
            f"reloaded in place in {(time.perf_counter() - started) * 1000:.0f} ms "
            f"(host pid {self.local.pid} kept, KV state kept): "
            f"{len(done.modules)} module(s) imported again, "
            f"estimated cold start CPU {self.local.startup.import_cpu_ms if self.local.startup else 0:.0f} ms"
        )
        return True

    def _restart(self) -> bool:
        """Stop the host and start it on the new build; if that fails, on the previous one."""
        if self.local is not None:
            self.local.stop()
        self.restarts += 1
        self.last_change = "restart"
        try:
            self._start_host()
        except HostError as exc:
            self.failed_builds += 1
            _say(f"the new build does not start; serving the last good build again:\n{exc}")
            shutil.rmtree(self.out_dir, ignore_errors=True)
            self._previous.rename(self.out_dir)
            self._start_host()
            return False
        return True

    def _reload_plan(self) -> set[str] | str:
        """The modules to import again in place, or why the host must restart instead."""
        if self.local is None or not self.local.running:
            return "the host is not running"
        old = _manifest_files(self.out_dir)
        new = _manifest_files(self._staging)
        if old is None or new is None:
            return "no manifest to compare the builds with"
        changed = {
            p
            for p in old.keys() | new.keys()
            if old.get(p, {}).get("sha256") != new.get(p, {}).get("sha256")
        }
        vendored = sorted(p for p in changed if p.startswith("python_modules/"))
        if vendored:
            return f"vendored packages changed (python_modules/: {len(vendored)} file(s))"
        if "wrangler.toml" in changed:
            return "the wrangler config changed (bindings, vars, flags or limits)"
        if self._env_stamp() != self._env_mtime:
            return f"the env file {self.env_file} changed"
        edited = {
            entry["module"]
            for files in (old, new)
            for path, entry in files.items()
            if path in changed and path.startswith("src/") and entry.get("module")
        }
        return importers_closure(edited, (old, new)) if edited else set()

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

    def serve_forever(self, interval: float = 0.1) -> None:
        try:
            while True:
                time.sleep(interval)
                self.poll_once()
        finally:
            self.stop()


def _manifest_files(out: Path) -> dict[str, dict[str, Any]] | None:
    import json

    try:
        data = json.loads((out / "manifest.json").read_text())
        return {f["path"]: f for f in data["files"]}
    except (OSError, ValueError, KeyError, TypeError):
        return None


def importers_closure(
    modules: set[str], manifests: Iterable[dict[str, dict[str, Any]]]
) -> set[str]:
    """`modules` and every module importing them, directly or not, by the manifests' graphs."""
    importers: dict[str, set[str]] = {}
    for files in manifests:
        for entry in files.values():
            name = entry.get("module")
            if name:
                found = importers.setdefault(name, set())
                found.update(ref.rpartition(":")[0] for ref in entry.get("importedBy", []))
    out = set(modules)
    queue = list(modules)
    while queue:
        for importer in importers.get(queue.pop(), ()):
            if importer in importers and importer not in out:
                out.add(importer)
                queue.append(importer)
    return out


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
    "--services",
    "--fakes",
    "with_services",
    is_flag=True,
    help="Start the local services of [tool.djbuild.dev] services and give the worker their "
    "vars (the DJ API: fakes of Spotify, Deezer, Last.fm, MusicBrainz and Anthropic, an "
    "offline demo with no account needed).",
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
    with_services: bool,
    plan: str,
    startup_budget_ms: float | None,
    workerd_clock: bool,
) -> None:
    """Build the worker, serve it locally, rebuild and reload it in place on change."""
    try:
        cfg = config_mod.load(root)
    except config_mod.ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    port = port or _free_port(host)
    origin = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    user_env = env_file or _default_env_file(cfg)
    running = None
    if with_services:
        if not cfg.dev.services:
            raise click.ClickException(
                "--services needs [tool.djbuild.dev] services = 'module:function' in pyproject.toml"
            )
        try:
            running = services_mod.start(cfg.dev.services, cfg.root, origin)
        except services_mod.ServicesError as exc:
            raise click.ClickException(str(exc)) from None
        _say(f"services {running.spec} started; vars for the worker: {', '.join(running.vars)}")
    try:
        env_path = _compose_env(cfg.root, running, user_env)
        leave = [running.spec.partition(":")[0].split(".")[0]] if running else []
        host_options = {
            "plan": plan,
            "startup_budget_ms": startup_budget(root, startup_budget_ms),
            "workerd_clock": workerd_clock or None,  # None: $DJBUILD_WORKERD_CLOCK decides
        }
        _serve(root, out_dir, port, host, persist_to, env_path, cfg.dev.watch, leave, host_options)
    finally:
        if running is not None:
            running.stop()
    sys.exit(0)


def _serve(
    root: Path,
    out_dir: Path,
    port: int,
    host: str,
    persist_to: Path | None,
    env_file: Path | None,
    watch: list[Path],
    leave: list[str],
    host_options: dict[str, Any] | None = None,
) -> None:
    server = DevServer(
        root,
        out_dir,
        port=port,
        host=host,
        persist_to=persist_to,
        env_file=env_file,
        watch=watch,
        leave=leave,
        host_options=host_options,
    )
    signal.signal(signal.SIGTERM, _raise_interrupt)
    started = time.perf_counter()
    try:
        url = server.start()
    except HostError as exc:
        server.stop()
        # The host's own output (traceback, error line) was already echoed above.
        raise click.ClickException(str(exc).splitlines()[0]) from exc
    click.echo(f"ready: {url} (started in {(time.perf_counter() - started):.1f} s; Ctrl-C stops)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        click.echo("stopped", err=True)
    finally:
        server.stop()


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _default_env_file(cfg: config_mod.ProjectConfig) -> Path | None:
    """`.dev.vars` beside the wrangler config, as wrangler reads it."""
    candidate = cfg.wrangler_path.parent / ".dev.vars"
    return candidate if candidate.is_file() else None


def _compose_env(
    root: Path, running: services_mod.RunningServices | None, user_env: Path | None
) -> Path | None:
    """The env file the host reads: the services' vars, then the user's own lines."""
    if running is None:
        return user_env
    target = root / ".wrangler" / "djbuild-dev.vars"
    target.parent.mkdir(parents=True, exist_ok=True)
    user_text = user_env.read_text() if user_env is not None else ""
    target.write_text(services_mod.dev_vars(running.vars, user_text))
    return target
