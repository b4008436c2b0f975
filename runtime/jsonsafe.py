"""JSON parsing with a nesting-depth bound checked before the parser runs.

CPython's `json` (and Pyodide's) recurses once per nested array or object. Inside Pyodide a
deep enough document (about 8,000 levels) overflows the JavaScript stack, which is a fatal
error for the whole isolate, not a catchable `RecursionError`. So every untrusted document
(request bodies, upstream answers, KV values) goes through `loads` (or `check_depth` before
pydantic's `validate_json`), which first measures the nesting with a linear scan and refuses
anything deeper than `MAX_DEPTH` levels.

The scan runs in C, in three passes: string literals (escapes included) are removed, so
brackets inside strings do not count; every byte but a bracket is dropped; a running sum of
+1 per opener and -1 per closer gives the depth. A document with no more than `MAX_DEPTH`
openers in all is not scanned.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate, count
from operator import sub
from typing import Any

MAX_DEPTH = 128
"""The deepest nesting of arrays and objects accepted (a scalar is depth 0, `[]` is 1)."""

_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"', re.DOTALL)
_NOT_BRACKETS = bytes(range(256)).translate(None, b"[]{}")
# Openers become 2 and closers 0: the running sum minus the bytes seen is the depth.
_WEIGHTS = bytes.maketrans(b"[{]}", b"\x02\x02\x00\x00")


class JSONTooDeep(json.JSONDecodeError):
    """The document nests deeper than the limit; a `JSONDecodeError`, so a `ValueError` too."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"nested deeper than {limit} levels", "", 0)
        self.limit = limit


def nesting_depth(data: str | bytes | bytearray, limit: int = MAX_DEPTH) -> int:
    """The deepest nesting in `data`, exact when it is above `limit` openers (else a bound)."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else bytes(data)
    openers = raw.count(b"[") + raw.count(b"{")
    if openers <= limit:
        return openers
    weights = _STRING.sub(b"", raw).translate(None, _NOT_BRACKETS).translate(_WEIGHTS)
    return max(map(sub, accumulate(weights), count(1)), default=0)


def check_depth(data: str | bytes | bytearray, limit: int = MAX_DEPTH) -> None:
    """Raise `JSONTooDeep` when `data` nests deeper than `limit`."""
    if nesting_depth(data, limit) > limit:
        raise JSONTooDeep(limit)


def loads(data: str | bytes | bytearray, limit: int = MAX_DEPTH) -> Any:
    """`json.loads` after the depth check; raises `JSONDecodeError` (or `UnicodeDecodeError`)."""
    check_depth(data, limit)
    return json.loads(data)
