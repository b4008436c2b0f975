"""`python -m fakes`: start every fake on loopback and print the worker's `.dev.vars` lines.

python -m fakes                      # free ports
python -m fakes --port spotify=8801 --port anthropic=8805
python -m fakes --write .dev.vars    # also write the lines to a file
python -m fakes --demo-playback      # Spotify player starts out playing a playlist
python -m fakes fault spotify --status 429 --retry-after 2 --times 3   # see fakes/control.py
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from . import control
from .control import COMMANDS
from .suite import SERVICES, start_all


def _port(value: str) -> tuple[str, int]:
    name, _, port = value.partition("=")
    if name not in SERVICES or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected SERVICE=PORT with SERVICE in {SERVICES}")
    return name, int(port)


def main(argv: list[str] | None = None) -> int:
    given = sys.argv[1:] if argv is None else argv
    if (given and given[0] in COMMANDS) or given[:1] == ["--vars"]:
        return control.main(given)
    parser = argparse.ArgumentParser(
        prog="python -m fakes",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--port",
        action="append",
        type=_port,
        default=[],
        help="fix one service's port, e.g. spotify=8801 (repeatable)",
    )
    parser.add_argument("--write", type=Path, help="also write the vars to this file")
    parser.add_argument(
        "--demo-playback", action="store_true", help="start the Spotify player in a playing state"
    )
    parser.add_argument(
        "--no-musicbrainz-limit",
        action="store_true",
        help="disable the fake MusicBrainz rate limit (3 calls/s)",
    )
    args = parser.parse_args(argv)
    suite = start_all(
        dict(args.port),
        demo_playback=args.demo_playback,
        musicbrainz_rate=None if args.no_musicbrainz_limit else (3, 1.0),
    )
    lines = suite.dev_vars()
    sys.stdout.write(lines)
    sys.stdout.flush()
    if args.write:
        args.write.write_text(lines, encoding="utf-8")
        print(f"# written to {args.write}", file=sys.stderr)
    print("# fakes running; Ctrl-C to stop", file=sys.stderr)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    try:
        done.wait()
    except KeyboardInterrupt:
        pass
    finally:
        suite.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
