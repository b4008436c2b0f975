"""What tests need on CPython, kept out of every module the Worker imports.

`Client` calls an App in-process; `MemoryKV` is a KV binding with the real rules;
`MemoryStream`/`MemoryStreamTransport` script outbound responses. Nothing reached from the
generated entry imports this package, so `djbuild build` never puts it in dist/.
"""

from __future__ import annotations

from .client import Client, Result
from .kv import MemoryKV
from .streams import MemoryStream, MemoryStreamTransport

__all__ = ["Client", "MemoryKV", "MemoryStream", "MemoryStreamTransport", "Result"]
