"""Python sources made smaller for the bundle, with every line kept where it was.

Comments and string statements (docstrings) go, each block is indented by one space per level,
spaces between tokens go where the tokens stay apart without them. Line numbers do not move,
so a traceback from the Worker still points at the right line of the original file. A source
this cannot read, or whose result does not compile to the same line count, ships as it is.
"""

from __future__ import annotations

import atexit
import hashlib
import io
import os
import subprocess
import sys
import tokenize
from pathlib import Path

_STRING_STARTS = {getattr(tokenize, n, -1) for n in ("FSTRING_START", "TSTRING_START")} - {-1}
_STRING_ENDS = {getattr(tokenize, n, -1) for n in ("FSTRING_END", "TSTRING_END")} - {-1}
_SKIP = {tokenize.COMMENT, tokenize.NL, tokenize.INDENT, tokenize.DEDENT}


def _word(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def _plain_string(tok: tokenize.TokenInfo) -> bool:
    """A literal with no side effect: not an f-string (which runs code)."""
    if tok.type != tokenize.STRING:
        return False
    prefix = tok.string[: len(tok.string) - len(tok.string.lstrip("rRbBuUfFtT"))]
    return "f" not in prefix.lower() and "t" not in prefix.lower()


def _string_statement_end(tokens: list[tokenize.TokenInfo], i: int) -> int | None:
    """If a logical line starting at tokens[i] is only string literals (a docstring, or an
    attribute docstring), the index of its NEWLINE; else None."""
    j = i
    while j < len(tokens) and (_plain_string(tokens[j]) or tokens[j].type in _SKIP):
        j += 1
    if j > i and j < len(tokens) and tokens[j].type in (tokenize.NEWLINE, tokenize.ENDMARKER):
        return j
    return None


def _rebuild(source: str) -> str:
    tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    lines = source.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    out: list[str] = []
    depth = brackets = 0
    row = 1  # the output's current line
    line_start = True  # the next token begins a logical line
    prev_text, prev_kind = "", -1
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        kind, text, tok_start, tok_end = tok.type, tok.string, tok.start, tok.end
        i += 1
        if kind in _STRING_STARTS:  # Python 3.12+ splits f-strings: copy each one whole
            nested = 1
            while nested:
                nested += (tokens[i].type in _STRING_STARTS) - (tokens[i].type in _STRING_ENDS)
                i += 1
            tok_end = tokens[i - 1].end
            text = source[
                starts[tok_start[0] - 1] + tok_start[1] : starts[tok_end[0] - 1] + tok_end[1]
            ]
            kind = tokenize.STRING
        elif kind == tokenize.INDENT:
            depth += 1
            continue
        elif kind == tokenize.DEDENT:
            depth -= 1
            continue
        elif kind == tokenize.NEWLINE or (kind == tokenize.NL and brackets == 0):
            line_start = True
            continue
        elif kind in _SKIP or kind == tokenize.ENDMARKER:
            continue
        elif line_start and (end := _string_statement_end(tokens, i - 1)) is not None:
            # a statement of string literals does nothing: an empty one keeps the body valid
            # (and a module's `from __future__` legal after it)
            text, tok_end, i = '""', tokens[end - 1].end, end
            while tokens[i - 1].type in _SKIP:
                i -= 1
            tok_end = tokens[i - 1].end
        if tok_start[0] > row:
            gap = tok_start[0] - row
            if line_start or brackets:
                out.append("\n" * gap)
            else:  # a backslash continuation
                out.append(" \\\n" * gap)
            out.append(" " * depth if line_start else "")
        elif line_start:
            out.append(" " * depth)
        elif prev_text and (
            (_word(prev_text[-1]) and _word(text[0]))
            or (prev_kind == tokenize.NUMBER and (_word(text[0]) or text[0] == "."))
        ):
            out.append(" ")
        out.append(text)
        if text == '""' and tok_end[0] > tok_start[0]:
            out.append("\n" * (tok_end[0] - tok_start[0]))
        row = tok_end[0]
        line_start = False
        prev_text, prev_kind = text, kind
        if kind == tokenize.OP and text in "([{":
            brackets += 1
        elif kind == tokenize.OP and text in ")]}":
            brackets -= 1
    total = source.count("\n")
    result = "".join(out)
    return result + "\n" * (total - result.count("\n"))


def shrink_python(source: str) -> str:
    """`source` without comments, docstrings and spaces it does not need, on the same lines.

    The result must compile with the same number of lines, else the source ships as it is.
    (The tests also check, on the whole bundle, that the syntax tree and every line number
    stay the same.)
    """
    try:
        result = _rebuild(source)
        compile(result, "<shrunk>", "exec", dont_inherit=True)
    except (SyntaxError, tokenize.TokenError, ValueError, IndexError):
        return source
    if result.count("\n") != source.count("\n"):
        return source
    return result


VERSION = "3"


def shrink_bytes(data: bytes) -> bytes:
    """shrink_python for file bytes (bytes that are not UTF-8 ship as they are)."""
    try:
        return shrink_python(data.decode("utf-8")).encode("utf-8")
    except UnicodeDecodeError:
        return data


def _key(data: bytes) -> str:
    return hashlib.sha256(VERSION.encode() + b"\0" + data).hexdigest()


# Worker processes shrinking sources into the cache ahead of the build (see `prefetch`).
_WORKERS: list[subprocess.Popen[bytes]] = []
PREFETCH_MIN = 24  # fewer misses than this are shrunk in-process, as they come


def prefetch(paths: list[Path], cache: Path) -> int:
    """Start shrinking the files `cache` does not hold yet in two worker processes, while the
    build goes on (a cold build spends a few hundred ms tokenizing each dozen modules);
    `shrink_cached` waits for them before doing a missing one itself. Returns how many
    files the workers took."""
    misses: list[tuple[int, Path]] = []
    for path in paths:
        try:
            data = path.read_bytes()
        except OSError:
            continue
        key = _key(data)
        if not (cache / key[:2] / key[2:]).exists():
            misses.append((len(data), path))
    if len(misses) < PREFETCH_MIN or (os.cpu_count() or 1) < 2:
        return 0
    misses.sort(key=lambda item: -item[0])  # biggest first, dealt out in turn
    atexit.unregister(wait_for_prefetch)
    atexit.register(wait_for_prefetch)  # reaped (and their CPU time counted) even on errors
    for share in (misses[0::2], misses[1::2]):
        try:
            _WORKERS.append(
                subprocess.Popen(
                    [sys.executable, "-I", __file__, str(cache), *(str(p) for _, p in share)],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        except OSError:
            break  # no worker: the build shrinks in-process
    return len(misses)


def wait_for_prefetch() -> None:
    while _WORKERS:
        worker = _WORKERS.pop()
        try:
            worker.wait(timeout=120)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def shrink_cached(data: bytes, cache: Path | None) -> bytes:
    """shrink_python for file bytes, remembered by content hash under `cache` (if given)."""
    key = _key(data)
    hit = cache / key[:2] / key[2:] if cache is not None else None
    if hit is not None:
        try:
            return hit.read_bytes()
        except OSError:
            pass
        if _WORKERS:  # it may be one of theirs
            wait_for_prefetch()
            try:
                return hit.read_bytes()
            except OSError:
                pass
    out = shrink_bytes(data)
    if hit is not None:
        try:
            hit.parent.mkdir(parents=True, exist_ok=True)
            tmp = hit.with_name(hit.name + f".{os.getpid()}.tmp")
            tmp.write_bytes(out)
            tmp.replace(hit)
        except OSError:
            pass  # a cache that cannot be written only costs time
    return out


def cache_file(data: bytes, cache: Path) -> Path:
    """Where `cache` keeps the shrunk form of file bytes `data` (once made)."""
    key = _key(data)
    return cache / key[:2] / key[2:]


def _store(cache: Path, data: bytes, out: bytes) -> None:
    key = _key(data)
    hit = cache / key[:2] / key[2:]
    hit.parent.mkdir(parents=True, exist_ok=True)
    tmp = hit.with_name(hit.name + f".{os.getpid()}.tmp")
    tmp.write_bytes(out)
    tmp.replace(hit)


if __name__ == "__main__":  # a prefetch worker: python shrink.py CACHE FILE...
    target = Path(sys.argv[1])
    for name in sys.argv[2:]:
        try:
            source = Path(name).read_bytes()
            _store(target, source, shrink_bytes(source))
        except OSError:
            continue
