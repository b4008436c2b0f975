"""`MemoryKV`: an in-memory KV binding with the real rules, for tests on CPython.

TTL ≥ 60 s, key ≤ 512 bytes, value ≤ 25 MiB, expiry on an injected clock, the same call
shapes as the `workers` SDK's binding. Lives outside `runtime.kv` so the Worker never loads it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from .. import jsonsafe
from ..keys import MAX_KEY_BYTES
from ..kv import MAX_LIST_LIMIT, MAX_VALUE_BYTES, MIN_TTL, KVError


class MemoryKV:
    """An in-memory KV binding with the real rules, for tests (same call shapes as the SDK)."""

    def __init__(self, *, clock: Callable[[], float] = time.time, require_ttl: bool = True) -> None:
        self._clock = clock
        self.require_ttl = require_ttl
        self.data: dict[str, tuple[str, float | None]] = {}
        self.ops: list[tuple[str, str]] = []
        self.ttls: dict[str, int] = {}

    def _check_key(self, key: str) -> None:
        if not key or key in (".", ".."):
            raise KVError(f"invalid key {key!r}", status=400)
        if len(key.encode("utf-8")) > MAX_KEY_BYTES:
            raise KVError("UTF-8 encoded length exceeds key length limit of 512", status=414)

    def _live(self, key: str) -> str | None:
        entry = self.data.get(key)
        if entry is None:
            return None
        value, expires = entry
        if expires is not None and self._clock() >= expires:
            del self.data[key]
            return None
        return value

    async def get(self, key: str, type: str | dict[str, Any] | None = None) -> Any:
        self._check_key(key)
        self.ops.append(("get", key))
        value = self._live(key)
        kind = type.get("type") if isinstance(type, dict) else type
        if value is None or kind in (None, "text"):
            return value
        if kind == "json":
            return jsonsafe.loads(value)
        raise KVError(f"unsupported get type {kind!r}")

    async def put(
        self,
        key: str,
        value: str | bytes,
        expirationTtl: int | None = None,
        expiration: int | None = None,
        metadata: Any = None,
    ) -> None:
        self._check_key(key)
        self.ops.append(("put", key))
        text = value.decode("utf-8") if isinstance(value, bytes) else value
        if not isinstance(text, str):
            raise KVError("KV values are strings here (serialise JSON first)")
        if len(text.encode("utf-8")) > MAX_VALUE_BYTES:
            raise KVError("value too large", status=413)
        now = self._clock()
        expires: float | None = None
        if expirationTtl is not None:
            if expirationTtl < MIN_TTL:
                raise KVError(
                    f"Invalid expiration_ttl of {expirationTtl}. Expiration TTL must be at "
                    f"least {MIN_TTL}.",
                    status=400,
                )
            expires = now + expirationTtl
            self.ttls[key] = int(expirationTtl)
        elif expiration is not None:
            if expiration < now + MIN_TTL:
                raise KVError("expiration must be at least 60 s in the future", status=400)
            expires = float(expiration)
        elif self.require_ttl:
            raise KVError(f"put of {key!r} without an expiration (this app requires one)")
        self.data[key] = (text, expires)

    async def delete(self, key: str) -> None:
        self._check_key(key)
        self.ops.append(("delete", key))
        self.data.pop(key, None)

    async def list(
        self, prefix: str | None = None, cursor: str | None = None, limit: int | None = None
    ) -> dict[str, Any]:
        self.ops.append(("list", prefix or ""))
        size = MAX_LIST_LIMIT if limit is None else max(1, min(MAX_LIST_LIMIT, limit))
        names = sorted(k for k in list(self.data) if k.startswith(prefix or "") and self._live(k))
        start = int(cursor) if cursor else 0
        page = names[start : start + size]
        complete = start + size >= len(names)
        result: dict[str, Any] = {
            "keys": [
                {"name": name, **({"expiration": int(exp)} if (exp := self.data[name][1]) else {})}
                for name in page
            ],
            "list_complete": complete,
        }
        if not complete:
            result["cursor"] = str(start + size)
        return result
