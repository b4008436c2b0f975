"""The host's output is kept in a bounded ring buffer and waited on incrementally."""

from __future__ import annotations

import io
import threading
import time
from pathlib import Path

import pytest

from djbuild.host import LocalHost


def fed(host: LocalHost, lines: list[str]) -> None:
    host._pump(io.StringIO("".join(f"{line}\n" for line in lines)))


def test_only_the_latest_lines_are_kept(tmp_path: Path) -> None:
    host = LocalHost(tmp_path, max_lines=100)
    fed(host, [f"line {i}" for i in range(1000)])
    assert host.lines.held() == 100 and host.lines[900] == "line 900"
    assert host.lines[-3:] == ["line 997", "line 998", "line 999"]
    assert len(host.lines) == host.lines_seen == 1000
    with pytest.raises(IndexError):
        host.lines[0]  # dropped


def test_a_length_mark_still_slices_the_new_lines_once_old_ones_were_dropped(
    tmp_path: Path,
) -> None:
    host = LocalHost(tmp_path, max_lines=100)
    fed(host, [f"old {i}" for i in range(500)])
    mark = len(host.lines)
    fed(host, ["new 1", "new 2"])
    assert host.lines[mark:] == ["new 1", "new 2"]
    # 502 lines read, the last 100 held: lines 0..401 are gone
    assert host.lines[:402] == [] and host.lines[:403] == ["old 402"]


def test_wait_for_line_since_a_mark_ignores_older_lines(tmp_path: Path) -> None:
    host = LocalHost(tmp_path, max_lines=100)
    fed(host, ["GET /a 200 1.0ms", "GET /b 200 1.0ms"])
    mark = host.mark()
    with pytest.raises(TimeoutError):
        host.wait_for_line(r"^GET /a ", since=mark, timeout=0.05)
    fed(host, ["GET /a 404 1.0ms"])
    assert host.wait_for_line(r"^GET /a ", since=mark) == "GET /a 404 1.0ms"
    assert host.wait_for_line(r"^GET /a ") == "GET /a 200 1.0ms"  # no mark: every held line


def test_wait_for_line_wakes_on_a_line_that_arrives_later(tmp_path: Path) -> None:
    host = LocalHost(tmp_path, max_lines=10)
    mark = host.mark()

    def later() -> None:
        time.sleep(0.05)
        fed(host, [f"noise {i}" for i in range(50)] + ["the one"])

    feeder = threading.Thread(target=later)
    feeder.start()
    assert host.wait_for_line(r"^the one$", since=mark, timeout=10) == "the one"
    feeder.join()
