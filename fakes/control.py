"""Script faults into running fakes: `python -m fakes fault|faults|clear|claude|reset ...`.

Each fake answers a control endpoint under `/__fake/` to loopback clients only (see
`FakeServer.control`). This CLI finds the fakes of a running `djbuild dev --fakes` through
the vars file it writes (`.wrangler/fakes.dev.vars`: every service's base URL), or the one
given with `--vars`:

    python -m fakes fault spotify --status 429 --retry-after 2 --path /v1/me/playlists --times 3
    python -m fakes fault deezer --drop
    python -m fakes fault spotify --path audio_features --status 403   # a dev-mode app
    python -m fakes fault lastfm --malformed --times 5
    python -m fakes fault anthropic --stall 30          # Claude's stream stops halfway for 30 s
    python -m fakes claude --text "Scripted answer." --status 529 --drop-after 3
    python -m fakes faults                              # what is set, and how often it fired
    python -m fakes clear [SERVICE]
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from .base import CONTROL_PREFIX
from .suite import SERVICES, STATE_FILE

DEFAULT_VARS = STATE_FILE
COMMANDS = ("fault", "faults", "clear", "claude", "reset")

# How each service's base URL appears in the worker's vars (with the suffix to strip).
_VAR_OF = {
    "spotify": ("SPOTIFY_ACCOUNTS_BASE", ""),
    "deezer": ("DEEZER_API_BASE", ""),
    "lastfm": ("LASTFM_API_BASE", "/2.0/"),
    "musicbrainz": ("MUSICBRAINZ_API_BASE", "/ws/2"),
    "anthropic": ("ANTHROPIC_API_BASE", ""),
}


class ControlError(RuntimeError):
    pass


def find_fakes(vars_file: Path) -> dict[str, str]:
    """Each service's base URL, read from a `.dev.vars` file that points a worker at them."""
    if not vars_file.is_file():
        raise ControlError(
            f"{vars_file} not found: start `djbuild dev --fakes` (or `python -m fakes --write "
            f"{vars_file}`) first, or pass --vars"
        )
    values: dict[str, str] = {}
    for line in vars_file.read_text(encoding="utf-8").splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip()] = value.strip().strip('"')
    found = {}
    for service, (var, suffix) in _VAR_OF.items():
        url = values.get(var)
        if url:
            found[service] = url[: -len(suffix)] if suffix and url.endswith(suffix) else url
    if not found:
        raise ControlError(f"{vars_file} names no fake base URL")
    for service, url in found.items():
        host = url.split("://", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0]
        if host not in ("127.0.0.1", "localhost", "[::1]"):
            raise ControlError(f"{service} is at {url}: not a local fake")
    return found


def call(base: str, method: str, path: str, payload: Any = None) -> Any:
    data = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(
        base.rstrip("/") + CONTROL_PREFIX + path,
        data=data,
        method=method,
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        raise ControlError(f"{base}: {exc.code} {exc.read().decode(errors='replace')}") from None
    except OSError as exc:
        raise ControlError(f"{base} did not answer ({exc}): is the suite running?") from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m fakes",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--vars", type=Path, default=DEFAULT_VARS, help="the fakes' vars file")
    sub = parser.add_subparsers(dest="command", required=True)
    fault = sub.add_parser("fault", help="make matching requests to one fake fail")
    fault.add_argument("service", choices=SERVICES)
    fault.add_argument("--path", default="*", help="route name, path or glob (default: all)")
    fault.add_argument("--status", type=int, help="answer with this HTTP status")
    fault.add_argument("--retry-after", type=int, help="add Retry-After: N seconds")
    fault.add_argument("--message", help="the error message in the service's error body")
    fault.add_argument("--body", help="answer with this body instead (with --status)")
    fault.add_argument("--delay", type=float, default=0.0, help="answer N seconds late")
    fault.add_argument("--drop", action="store_true", help="close the connection, no answer")
    fault.add_argument("--malformed", action="store_true", help="a body that is not JSON")
    fault.add_argument("--truncate", action="store_true", help="the answer cut off halfway")
    fault.add_argument("--stall", type=float, default=0.0, help="pause N s halfway through")
    fault.add_argument("--times", type=int, help="fire N times (default: every time)")
    fault.add_argument("--skip", type=int, default=0, help="let N matching calls pass first")
    claude = sub.add_parser("claude", help="queue a scripted reply of the fake Claude")
    claude.add_argument("--text", default="", help="the reply's text")
    claude.add_argument("--status", type=int, help="answer with an HTTP error (429, 529...)")
    claude.add_argument("--error-type", help="its error type (overloaded_error...)")
    claude.add_argument("--retry-after", type=int)
    claude.add_argument("--drop-after", type=int, help="drop the stream after N deltas")
    claude.add_argument("--error-after", type=int, help="an error event after N deltas")
    claude.add_argument("--event-delay", type=float, help="seconds between streamed events")
    sub.add_parser("faults", help="list the faults set on every fake")
    clear = sub.add_parser("clear", help="remove faults (and Claude's scripted replies)")
    clear.add_argument("service", nargs="?", choices=SERVICES)
    reset = sub.add_parser("reset", help="forget calls and faults on every fake")
    reset.add_argument("service", nargs="?", choices=SERVICES)
    return parser


def _fault_payload(args: argparse.Namespace) -> dict[str, Any]:
    payload: dict[str, Any] = {"target": args.path}
    for name in ("status", "retry_after", "message", "body", "times"):
        value = getattr(args, name)
        if value is not None:
            payload[name] = value
    for name in ("delay", "stall", "skip"):
        if getattr(args, name):
            payload[name] = getattr(args, name)
    for name in ("drop", "malformed", "truncate"):
        if getattr(args, name):
            payload[name] = True
    if len(payload) == 1:
        payload["status"] = 500
    return payload


def run(argv: list[str]) -> Any:
    args = _parser().parse_args(argv)
    fakes = find_fakes(args.vars)

    def base(service: str) -> str:
        if service not in fakes:
            raise ControlError(f"{args.vars} names no {service} fake")
        return fakes[service]

    if args.command == "fault":
        return call(base(args.service), "POST", "faults", _fault_payload(args))
    if args.command == "claude":
        reply = {
            k: v
            for k, v in {
                "text": args.text,
                "status": args.status,
                "error_type": args.error_type,
                "retry_after": args.retry_after,
                "drop_after": args.drop_after,
                "error_after": args.error_after,
                "event_delay": args.event_delay,
            }.items()
            if v not in (None, "")
        }
        return call(base("anthropic"), "POST", "script", {"replies": [reply]})
    if args.command == "faults":
        return {s: call(url, "GET", "faults")["faults"] for s, url in fakes.items()}
    services = [args.service] if args.service else list(fakes)
    out = {}
    for service in services:
        path, method = ("reset", "POST") if args.command == "reset" else ("faults", "DELETE")
        out[service] = call(base(service), method, path)
        if service == "anthropic":
            call(base(service), "DELETE", "script")
    return out


def main(argv: list[str]) -> int:
    try:
        result = run(argv)
    except ControlError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2))
    return 0
