"""Typed access to the Workers KV namespaces, with TTL policies and the cache envelope.

Three layers:

* `KVStore`: one namespace over a binding with the Workers KV API as the `workers` SDK
  exposes it (`await ns.get(key)` → text or None, `await ns.put(key, value,
  expirationTtl=N)`, `await ns.delete(key)`, `await ns.list(prefix=..., cursor=...,
  limit=...)`; the SDK's env wrapper turns keyword arguments into the JS options object
  and JS results into Python values). Every operation counts against the request's KV
  budget (1,000 per invocation); every put has an expiration (no TTL is an error), keys
  over 512 bytes and TTLs under 60 s are refused before anything is sent.
* `EnvelopeCache`: the upstream's cached-value envelope `{<field>: value, fetched_at, ttl,
  is_miss}` with stale detection, negative caching and retry-and-merge of old misses. Best
  effort: a KV failure or an exhausted KV budget reads as "not cached" and skips the write.
* `MixSessionStore`: `mix:{userId}` sessions validated by a pydantic model on read and write.

The in-memory binding for tests on CPython is `runtime.testing.MemoryKV` (never bundled).
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Generic, Literal, Protocol, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from runtime.records import field, record

from . import budget as budget_mod
from . import jsonsafe
from .keys import MAX_KEY_BYTES, InvalidKeyError, mix_session_key

if TYPE_CHECKING:
    from .budget import KVOpBudget
    from .logging import ServiceLogger

M = TypeVar("M")

MIN_TTL = 60
MAX_VALUE_BYTES = 25 * 1024 * 1024
MAX_LIST_LIMIT = 1000
MINUTE = 60
HOUR = 3600
DAY = 86400


# -- policies ------------------------------------------------------------------------------


@record(frozen=True)
class TTLPolicy:
    """Freshness of a hit and (if different) of a negative-cached miss, in seconds.

    `keep_misses` lets a miss outlive its freshness in KV (its envelope still says
    `ttl: miss`, so it reads as stale): that old entry is what retry-and-merge merges with
    and what a failed retry falls back to. With the KV expiration equal to the 5-minute miss
    TTL, as upstream, the entry is gone by the time it is stale and the merge never happens.
    """

    hit: int
    miss: int | None = None
    keep_misses: int | None = None

    def ttl(self, is_miss: bool = False) -> int:
        return self.miss if is_miss and self.miss is not None else self.hit

    def expiration(self, is_miss: bool = False) -> int:
        """The `expirationTtl` sent to KV."""
        fresh = self.ttl(is_miss)
        if is_miss and self.keep_misses is not None:
            return max(fresh, self.keep_misses)
        return fresh


# Namespace defaults.
SESSIONS_TTL = TTLPolicy(hit=4 * HOUR)
AUDIO_FEATURES_TTL = TTLPolicy(hit=90 * DAY, miss=5 * MINUTE, keep_misses=7 * DAY)
MIX_SESSIONS_TTL = TTLPolicy(hit=8 * HOUR)
# Key families inside AUDIO_FEATURES_CACHE (reference §3).
BPM_TTL = AUDIO_FEATURES_TTL
LASTFM_SIGNALS_TTL = TTLPolicy(hit=7 * DAY, miss=5 * MINUTE, keep_misses=7 * DAY)
MUSICBRAINZ_ISRC_TTL = TTLPolicy(hit=30 * DAY)
LASTFM_CORRECTION_TTL = TTLPolicy(hit=30 * DAY)
ARTIST_INFO_TTL = TTLPolicy(hit=7 * DAY)
PLAYLIST_TRACKS_TTL = TTLPolicy(hit=5 * MINUTE)
PLAYLIST_EVENT_TTL = TTLPolicy(hit=30 * DAY)


# -- errors and binding protocol -----------------------------------------------------------


class KVError(RuntimeError):
    """A KV operation the platform would reject (status as workerd reports it)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class MissingTTLError(ValueError):
    """A put without an expiration: every KV entry this app writes must expire."""


class KVBinding(Protocol):
    async def get(self, key: str, *args: Any, **kwargs: Any) -> Any: ...

    async def put(self, key: str, value: Any, **kwargs: Any) -> Any: ...

    async def delete(self, key: str) -> Any: ...

    async def list(self, **kwargs: Any) -> Any: ...


def _check_key(key: str) -> None:
    if not key or key in (".", ".."):
        raise InvalidKeyError(f"invalid KV key {key!r}")
    size = len(key.encode("utf-8"))
    if size > MAX_KEY_BYTES:
        raise InvalidKeyError(
            f"KV key of {size} bytes exceeds {MAX_KEY_BYTES}: build keys with runtime.keys"
        )


def _check_ttl(ttl: int) -> None:
    if ttl < MIN_TTL:
        raise ValueError(f"expirationTtl {ttl} is below the KV minimum of {MIN_TTL} s")


def _plain(value: Any) -> Any:
    """A JS value (or an already converted one) as plain Python; JS null → None."""
    if value is None or isinstance(value, (str, bytes, int, float, bool, dict, list)):
        return value
    if type(value).__name__ in ("JsNull", "JsUndefined"):
        return None
    to_py = getattr(value, "to_py", None)
    return to_py() if callable(to_py) else value


# -- raw namespace -------------------------------------------------------------------------


@record(frozen=True)
class KVKeyInfo:
    name: str
    expiration: int | None = None
    metadata: Any = None


@record(frozen=True)
class KVListPage:
    keys: list[KVKeyInfo]
    complete: bool
    cursor: str | None


_adapters: dict[Any, TypeAdapter[Any]] = {}


def _adapter(model: Any) -> TypeAdapter[Any]:
    adapter = _adapters.get(model)
    if adapter is None:
        adapter = TypeAdapter(model)
        _adapters[model] = adapter
    return adapter


def _to_json(value: Any) -> str:
    if isinstance(value, BaseModel):
        return value.model_dump_json(by_alias=True)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=_dump)


def _dump(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True)
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


class KVStore:
    """One KV namespace: checked keys and TTLs, JSON through pydantic, ops counted."""

    def __init__(
        self,
        binding: KVBinding,
        *,
        name: str,
        policy: TTLPolicy | None = None,
        budget: KVOpBudget | None = None,
        logger: ServiceLogger | None = None,
    ) -> None:
        self.binding = binding
        self.name = name
        self.policy = policy
        self._budget = budget
        self.logger = logger

    def _spend(self) -> None:
        tracker = self._budget if self._budget is not None else budget_mod.kv_ops()
        if tracker is not None:
            tracker.spend(1)

    async def get_text(self, key: str) -> str | None:
        _check_key(key)
        self._spend()
        value = _plain(await self.binding.get(key))
        if value is None:
            return None
        return value.decode("utf-8") if isinstance(value, bytes) else str(value)

    async def get_json(self, key: str) -> Any:
        """The parsed JSON value, or None when absent (or not JSON, which is logged)."""
        text = await self.get_text(key)
        if text is None:
            return None
        try:
            return jsonsafe.loads(text)
        except ValueError:
            self._warn("KV value is not JSON", key)
            return None

    async def get_model(self, key: str, model: type[M] | Any) -> M | None:
        """The value validated as `model`; absent or invalid → None (invalid is logged)."""
        text = await self.get_text(key)
        if text is None:
            return None
        try:
            jsonsafe.check_depth(text)
            return _adapter(model).validate_json(text)
        except ValidationError as exc:
            self._warn("KV value failed validation", key, errors=exc.error_count())
            return None
        except jsonsafe.JSONTooDeep:
            self._warn("KV value is nested too deep", key)
            return None

    async def put_text(self, key: str, value: str, *, ttl: int | None = None) -> None:
        _check_key(key)
        expiration = ttl if ttl is not None else (self.policy.hit if self.policy else None)
        if expiration is None:
            raise MissingTTLError(f"put to {self.name} key {key!r} without an expiration")
        _check_ttl(expiration)
        if len(value.encode("utf-8")) > MAX_VALUE_BYTES:
            raise KVError(f"value for {key!r} exceeds 25 MiB", status=413)
        self._spend()
        await self.binding.put(key, value, expirationTtl=int(expiration))

    async def put_json(self, key: str, value: Any, *, ttl: int | None = None) -> None:
        await self.put_text(key, _to_json(value), ttl=ttl)

    async def delete(self, key: str) -> None:
        _check_key(key)
        self._spend()
        await self.binding.delete(key)

    async def list(
        self, *, prefix: str | None = None, cursor: str | None = None, limit: int | None = None
    ) -> KVListPage:
        options: dict[str, Any] = {}
        if prefix is not None:
            options["prefix"] = prefix
        if cursor:
            options["cursor"] = cursor
        if limit is not None:
            options["limit"] = max(1, min(MAX_LIST_LIMIT, limit))
        self._spend()
        raw = _plain(await self.binding.list(**options)) or {}
        keys = [
            KVKeyInfo(
                name=str(item["name"]),
                expiration=item.get("expiration"),
                metadata=item.get("metadata"),
            )
            for item in (_plain(k) for k in (raw.get("keys") or []))
        ]
        complete = bool(raw.get("list_complete", True))
        return KVListPage(
            keys=keys, complete=complete, cursor=None if complete else raw.get("cursor")
        )

    def _warn(self, message: str, key: str, **fields: Any) -> None:
        if self.logger is not None:
            self.logger.warn(message, namespace=self.name, key=key, **fields)


# -- envelope cache ------------------------------------------------------------------------


def iso_timestamp(ts: float) -> str:
    """`Date.prototype.toISOString` format: millisecond precision, `Z`."""
    moment = datetime.fromtimestamp(ts, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_timestamp(text: Any) -> float | None:
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


@record(frozen=True)
class Cached(Generic[M]):
    """A cache entry as read: `is_miss` marks a negative-cached upstream miss."""

    value: M | None
    is_miss: bool
    fetched_at: float | None
    ttl: int
    stale: bool

    @property
    def fresh(self) -> bool:
        return not self.stale


@record(frozen=True)
class Found(Generic[M]):
    """A plain (non-envelope) entry that exists; `value` None means a cached `null`."""

    value: M | None


Source = Literal["hit", "cached_miss", "fetched", "merged", "stale_fallback"]


@record(frozen=True)
class Lookup(Generic[M]):
    value: M | None
    source: Source
    is_miss: bool = False

    @property
    def from_cache(self) -> bool:
        return self.source in ("hit", "cached_miss", "stale_fallback")


def merge_prefer_new(old: M | None, new: M | None) -> M | None:
    """Field-wise `new ?? old` for pydantic models (the upstream's merge of retried misses)."""
    if old is None:
        return new
    if new is None:
        return old
    if isinstance(old, BaseModel) and isinstance(new, BaseModel):
        merged = {
            name: (getattr(new, name) if getattr(new, name) is not None else getattr(old, name))
            for name in type(new).model_fields
        }
        return type(new).model_validate(merged)
    return new


@record
class _Stats:
    reads: int = 0
    writes: int = 0
    skipped: int = 0
    failures: list[str] = field(default_factory=list)


class EnvelopeCache:
    """Best-effort cache over a KV namespace with the upstream's value envelope."""

    def __init__(
        self,
        store: KVStore,
        *,
        clock: Callable[[], float] = time.time,
        logger: ServiceLogger | None = None,
    ) -> None:
        self.store = store
        self._clock = clock
        self.logger = logger or store.logger
        self.stats = _Stats()

    def _note(self, what: str, key: str, exc: BaseException) -> None:
        self.stats.failures.append(f"{what}:{type(exc).__name__}")
        if self.logger is not None:
            self.logger.warn(f"cache {what} skipped", key=key, reason=str(exc)[:200])

    async def read(self, key: str, field_name: str, model: type[M] | Any) -> Cached[M] | None:
        """The envelope under `key`, or None if absent, unreadable or over budget."""
        self.stats.reads += 1
        try:
            raw = await self.store.get_json(key)
        except Exception as exc:  # best effort: KV down or budget gone reads as "not cached"
            self._note("read", key, exc)
            return None
        if not isinstance(raw, dict) or field_name not in raw:
            return None
        try:
            value = (
                None
                if raw[field_name] is None
                else _adapter(model).validate_python(raw[field_name])
            )
        except ValidationError:
            return None
        is_miss = bool(raw.get("is_miss", False))
        policy_ttl = raw.get("ttl")
        ttl = int(policy_ttl) if isinstance(policy_ttl, (int, float)) else 0
        fetched_at = parse_timestamp(raw.get("fetched_at"))
        stale = fetched_at is None or ttl <= 0 or (self._clock() - fetched_at) > ttl
        return Cached(value=value, is_miss=is_miss, fetched_at=fetched_at, ttl=ttl, stale=stale)

    async def write(
        self,
        key: str,
        field_name: str,
        value: Any,
        *,
        policy: TTLPolicy,
        is_miss: bool = False,
    ) -> bool:
        """Store `value` in an envelope with the hit or miss TTL; False if it was skipped."""
        ttl = policy.ttl(is_miss)
        expiration = policy.expiration(is_miss)
        envelope: dict[str, Any] = {
            field_name: value,
            "fetched_at": iso_timestamp(self._clock()),
            "is_miss": is_miss,
            "ttl": ttl,
        }
        return await self._put(key, _to_json(envelope), expiration)

    async def _put(self, key: str, text: str, ttl: int) -> bool:
        try:
            await self.store.put_text(key, text, ttl=ttl)
        except (MissingTTLError, InvalidKeyError):
            raise  # programming errors, not cache trouble
        except Exception as exc:
            self.stats.skipped += 1
            self._note("write", key, exc)
            return False
        self.stats.writes += 1
        return True

    async def get_or_fetch(
        self,
        key: str,
        field_name: str,
        model: type[M] | Any,
        *,
        policy: TTLPolicy,
        fetch: Callable[[], Awaitable[M | None]],
        is_miss: Callable[[M | None], bool] = lambda value: value is None,
        merge: Callable[[M | None, M | None], M | None] | None = merge_prefer_new,
    ) -> Lookup[M]:
        """Fresh entry (hit or cached miss) as is; otherwise fetch, merge with old, store.

        `fetch` returns the upstream value (None or a value `is_miss` accepts = a miss,
        cached with the short TTL) and raises when the upstream failed: nothing is cached
        then, and an old entry, if any, is returned as `stale_fallback`.
        """
        cached = await self.read(key, field_name, model)
        if cached is not None and cached.fresh:
            return Lookup(
                cached.value, "cached_miss" if cached.is_miss else "hit", is_miss=cached.is_miss
            )
        try:
            fresh = await fetch()
        except Exception as exc:
            if self.logger is not None:
                self.logger.warn("upstream lookup failed", key=key, reason=str(exc)[:200])
            if cached is not None:
                return Lookup(cached.value, "stale_fallback", is_miss=cached.is_miss)
            raise
        source: Source = "fetched"
        if cached is not None and merge is not None:
            fresh = merge(cached.value, fresh)
            source = "merged"
        missed = is_miss(fresh)
        await self.write(key, field_name, fresh, policy=policy, is_miss=missed)
        return Lookup(fresh, source, is_miss=missed)

    async def read_plain(self, key: str, model: type[M] | Any) -> Found[M] | None:
        """A non-envelope JSON entry (corrections, artist info); `null` → Found(None)."""
        self.stats.reads += 1
        try:
            text = await self.store.get_text(key)
        except Exception as exc:
            self._note("read", key, exc)
            return None
        if text is None:
            return None
        if text.strip() in ("null", '"null"'):
            return Found(None)
        try:
            jsonsafe.check_depth(text)
            return Found(_adapter(model).validate_json(text))
        except (ValidationError, jsonsafe.JSONTooDeep):
            return None

    async def write_plain(self, key: str, value: Any, *, policy: TTLPolicy) -> bool:
        """Store plain JSON (`null` for None) with the policy's hit TTL."""
        return await self._put(key, "null" if value is None else _to_json(value), policy.hit)

    async def read_text(self, key: str) -> Found[str] | None:
        """A plain-text entry (MusicBrainz ISRC); the text `null` → Found(None)."""
        self.stats.reads += 1
        try:
            text = await self.store.get_text(key)
        except Exception as exc:
            self._note("read", key, exc)
            return None
        if text is None:
            return None
        return Found(None if text == "null" else text)

    async def write_text(self, key: str, value: str | None, *, policy: TTLPolicy) -> bool:
        return await self._put(key, "null" if value is None else value, policy.hit)


# -- mix sessions --------------------------------------------------------------------------


class MixSessionStore(Generic[M]):
    """`mix:{userId}` → session JSON, validated on every read and write, 8 h TTL per save."""

    def __init__(self, store: KVStore, model: type[M]) -> None:
        self.store = store
        self.model = model

    async def load(self, user_id: str) -> M | None:
        """The session, or None when absent or invalid (an invalid one is logged)."""
        return await self.store.get_model(mix_session_key(user_id), self.model)

    async def save(self, user_id: str, session: M) -> M:
        checked = _adapter(self.model).validate_python(
            session.model_dump() if isinstance(session, BaseModel) else session
        )
        await self.store.put_json(mix_session_key(user_id), checked, ttl=MIX_SESSIONS_TTL.hit)
        return checked

    async def delete(self, user_id: str) -> None:
        await self.store.delete(mix_session_key(user_id))


# -- namespaces from env -------------------------------------------------------------------


def sessions_store(env: Any, *, logger: ServiceLogger | None = None) -> KVStore | None:
    binding = env.get("SESSIONS")
    if binding is None:
        return None
    return KVStore(binding, name="SESSIONS", policy=SESSIONS_TTL, logger=logger)


def audio_features_cache(
    env: Any,
    *,
    logger: ServiceLogger | None = None,
    clock: Callable[[], float] = time.time,
) -> EnvelopeCache | None:
    binding = env.get("AUDIO_FEATURES_CACHE")
    if binding is None:
        return None
    store = KVStore(binding, name="AUDIO_FEATURES_CACHE", policy=AUDIO_FEATURES_TTL, logger=logger)
    return EnvelopeCache(store, clock=clock, logger=logger)


def mix_sessions(
    env: Any, model: type[M], *, logger: ServiceLogger | None = None
) -> MixSessionStore[M] | None:
    binding = env.get("MIX_SESSIONS")
    if binding is None:
        return None
    store = KVStore(binding, name="MIX_SESSIONS", policy=MIX_SESSIONS_TTL, logger=logger)
    return MixSessionStore(store, model)
