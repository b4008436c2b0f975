"""KV wrapper, MemoryKV rules, TTL policies, the cache envelope, negative caching."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import BaseModel

from runtime.budget import BudgetExceededError, KVOpBudget
from runtime.context import Context, Env, bind, unbind
from runtime.http import Request
from runtime.keys import InvalidKeyError, bpm_key, lastfm_correction_key
from runtime.kv import (
    BPM_TTL,
    DAY,
    LASTFM_CORRECTION_TTL,
    MUSICBRAINZ_ISRC_TTL,
    EnvelopeCache,
    KVError,
    KVStore,
    MissingTTLError,
    audio_features_cache,
    iso_timestamp,
    merge_prefer_new,
    mix_sessions,
    sessions_store,
)
from runtime.logging import ServiceLogger
from runtime.platform.local import LocalPlatform
from runtime.testing import MemoryKV

NOW = 1_762_000_000.0


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Enrichment(BaseModel):
    bpm: float | None = None
    gain: float | None = None
    rank: int | None = None
    release_date: str | None = None
    source: str | None = None


class Session(BaseModel):
    user_id: str
    queue: list[str] = []


def budgeted(binding: MemoryKV, limit: int = 1000, **kwargs: Any) -> KVStore:
    return KVStore(binding, name="TEST", budget=KVOpBudget(limit), **kwargs)


# -- MemoryKV: the platform's rules -------------------------------------------------------


async def test_memory_kv_rejects_short_ttls_long_keys_and_missing_expirations() -> None:
    kv = MemoryKV()
    with pytest.raises(KVError) as short:
        await kv.put("k", "v", expirationTtl=59)
    assert short.value.status == 400
    with pytest.raises(KVError) as long_key:
        await kv.put("k" * 513, "v", expirationTtl=60)
    assert long_key.value.status == 414
    with pytest.raises(KVError):
        await kv.put("k", "v")
    await kv.put("k", "v", expirationTtl=60)
    assert await kv.get("k") == "v"


async def test_memory_kv_entries_expire_on_the_injected_clock() -> None:
    clock = Clock()
    kv = MemoryKV(clock=clock)
    await kv.put("k", '{"a":1}', expirationTtl=60)
    assert await kv.get("k", "json") == {"a": 1}
    clock.now += 60
    assert await kv.get("k") is None


# -- KVStore -------------------------------------------------------------------------------


async def test_every_put_needs_an_expiration() -> None:
    store = budgeted(MemoryKV())
    with pytest.raises(MissingTTLError):
        await store.put_text("k", "v")


async def test_namespace_policies_set_the_default_ttl() -> None:
    env = Env({"SESSIONS": MemoryKV(), "MIX_SESSIONS": MemoryKV(), "AUDIO_FEATURES_CACHE": None})
    sessions = sessions_store(env)
    assert sessions is not None
    await sessions.put_text("event:playlist:p", "{}")
    assert env.get("SESSIONS").ttls["event:playlist:p"] == 4 * 3600
    mixes = mix_sessions(env, Session)
    assert mixes is not None
    await mixes.save("u1", Session(user_id="u1"))
    assert env.get("MIX_SESSIONS").ttls["mix:u1"] == 8 * 3600
    assert audio_features_cache(env) is None  # no binding, no cache (enrichment skips KV)


async def test_bad_keys_and_ttls_are_refused_before_anything_is_sent() -> None:
    binding = MemoryKV()
    store = budgeted(binding)
    with pytest.raises(InvalidKeyError):
        await store.put_text("x" * 600, "v", ttl=300)
    with pytest.raises(ValueError, match="below the KV minimum"):
        await store.put_text("k", "v", ttl=30)
    with pytest.raises(InvalidKeyError):
        await store.get_text("x" * 600)
    assert binding.ops == []


async def test_put_passes_expiration_ttl_as_the_sdk_keyword() -> None:
    seen: list[tuple[str, Any, dict[str, Any]]] = []

    class Recording:
        async def get(self, key: str, *args: Any, **kwargs: Any) -> Any:
            return None

        async def put(self, key: str, value: Any, **kwargs: Any) -> None:
            seen.append((key, value, kwargs))

        async def delete(self, key: str) -> None:
            pass

        async def list(self, **kwargs: Any) -> Any:
            return {"keys": [], "list_complete": True}

    await KVStore(Recording(), name="T", budget=KVOpBudget()).put_json("k", {"a": 1}, ttl=300)
    assert seen == [("k", '{"a":1}', {"expirationTtl": 300})]


async def test_kv_operations_count_against_the_budget_and_stop_at_the_limit() -> None:
    binding = MemoryKV()
    store = budgeted(binding, limit=3)
    await store.put_text("a", "1", ttl=60)
    await store.get_text("a")
    await store.delete("a")
    with pytest.raises(BudgetExceededError):
        await store.get_text("a")
    assert len(binding.ops) == 3


async def test_kv_budget_comes_from_the_request_context() -> None:
    ctx = Context(
        Request("GET", "https://dj.example/"),
        Env({}),
        LocalPlatform(),
        ServiceLogger("t", sink=lambda line: None),
    )
    token = bind(ctx)
    try:
        store = KVStore(MemoryKV(), name="T", policy=BPM_TTL)
        await store.put_text("a", "1")
        await store.get_text("a")
    finally:
        unbind(token)
    assert ctx.state["budget.kv_ops"].count == 2


async def test_get_model_treats_invalid_values_as_absent_and_logs_it() -> None:
    binding = MemoryKV()
    lines: list[str] = []
    store = budgeted(binding, logger=ServiceLogger("kv", sink=lines.append))
    await binding.put("mix:u", '{"queue": "not a list"}', expirationTtl=60)
    assert await store.get_model("mix:u", Session) is None
    assert json.loads(lines[0])["msg"] == "KV value failed validation"


async def test_list_pages_with_prefix_and_cursor() -> None:
    binding = MemoryKV()
    store = budgeted(binding)
    for i in range(5):
        await store.put_text(f"bpm:{i}", "{}", ttl=60)
    await store.put_text("other", "{}", ttl=60)
    first = await store.list(prefix="bpm:", limit=3)
    assert [k.name for k in first.keys] == ["bpm:0", "bpm:1", "bpm:2"]
    assert not first.complete and first.cursor
    second = await store.list(prefix="bpm:", cursor=first.cursor, limit=3)
    assert [k.name for k in second.keys] == ["bpm:3", "bpm:4"]
    assert second.complete and second.cursor is None


# -- envelope cache ------------------------------------------------------------------------


def cache_for(binding: MemoryKV, clock: Clock, limit: int = 1000) -> EnvelopeCache:
    return EnvelopeCache(budgeted(binding, limit=limit), clock=clock)


async def test_envelope_is_written_in_the_upstream_shape_with_the_hit_ttl() -> None:
    clock = Clock()
    binding = MemoryKV(clock=clock)
    cache = cache_for(binding, clock)
    await cache.write(
        bpm_key("t1"), "enrichment", Enrichment(bpm=120, source="deezer"), policy=BPM_TTL
    )
    raw = json.loads(binding.data["bpm:t1"][0])
    assert raw["enrichment"]["bpm"] == 120
    assert raw["fetched_at"] == iso_timestamp(NOW) == "2025-11-01T12:26:40.000Z"
    assert raw["is_miss"] is False and raw["ttl"] == 90 * DAY
    assert binding.ttls["bpm:t1"] == 90 * DAY


async def test_a_miss_is_fresh_for_five_minutes_and_kept_a_week_for_merging() -> None:
    clock = Clock()
    binding = MemoryKV(clock=clock)
    cache = cache_for(binding, clock)
    await cache.write("bpm:t2", "enrichment", Enrichment(rank=5), policy=BPM_TTL, is_miss=True)
    assert json.loads(binding.data["bpm:t2"][0])["ttl"] == 300
    assert binding.ttls["bpm:t2"] == 7 * DAY
    clock.now += 301
    cached = await cache.read("bpm:t2", "enrichment", Enrichment)
    assert cached is not None and cached.stale and cached.value == Enrichment(rank=5)


async def test_entries_written_by_the_typescript_worker_are_readable() -> None:
    clock = Clock()
    binding = MemoryKV(clock=clock)
    upstream = (
        '{"enrichment":{"bpm":128,"gain":-7.2,"rank":512000,"release_date":"2001-03-12",'
        '"source":"deezer"},"fetched_at":"2025-11-01T12:00:00.123Z","is_miss":false,'
        '"ttl":7776000}'
    )
    await binding.put("bpm:abc", upstream, expirationTtl=7776000)
    cached = await cache_for(binding, clock).read("bpm:abc", "enrichment", Enrichment)
    assert cached is not None and cached.fresh and not cached.is_miss
    assert cached.value == Enrichment(
        bpm=128, gain=-7.2, rank=512000, release_date="2001-03-12", source="deezer"
    )


async def test_an_entry_older_than_its_ttl_is_stale_even_if_kv_still_has_it() -> None:
    clock = Clock()
    binding = MemoryKV(clock=clock)
    cache = cache_for(binding, clock)
    await binding.put(
        "bpm:x",
        json.dumps(
            {
                "enrichment": {"bpm": None},
                "fetched_at": iso_timestamp(NOW - 301),
                "is_miss": True,
                "ttl": 300,
            }
        ),
        expirationTtl=3600,
    )
    cached = await cache.read("bpm:x", "enrichment", Enrichment)
    assert cached is not None and cached.stale and cached.is_miss


async def test_get_or_fetch_tells_a_cached_miss_from_not_cached() -> None:
    clock = Clock()
    binding = MemoryKV(clock=clock)
    cache = cache_for(binding, clock)
    calls: list[int] = []

    async def fetch() -> Enrichment | None:
        calls.append(1)
        return Enrichment(bpm=None, rank=7)

    def is_miss(value: Enrichment | None) -> bool:
        return value is None or value.bpm is None

    first = await cache.get_or_fetch(
        "bpm:m", "enrichment", Enrichment, policy=BPM_TTL, fetch=fetch, is_miss=is_miss
    )
    assert first.source == "fetched" and first.is_miss and not first.from_cache
    clock.now += 299
    second = await cache.get_or_fetch(
        "bpm:m", "enrichment", Enrichment, policy=BPM_TTL, fetch=fetch, is_miss=is_miss
    )
    assert second.source == "cached_miss" and second.from_cache
    assert second.value == Enrichment(rank=7)
    assert len(calls) == 1


async def test_an_old_miss_is_retried_and_merged_field_by_field() -> None:
    clock = Clock()
    binding = MemoryKV(clock=clock)
    cache = cache_for(binding, clock)
    await cache.write(
        "bpm:r", "enrichment", Enrichment(rank=7, gain=-3.0), policy=BPM_TTL, is_miss=True
    )
    clock.now += 301

    async def fetch() -> Enrichment:
        return Enrichment(bpm=124, rank=None, source="deezer")

    result = await cache.get_or_fetch(
        "bpm:r",
        "enrichment",
        Enrichment,
        policy=BPM_TTL,
        fetch=fetch,
        is_miss=lambda v: v is None or v.bpm is None,
    )
    assert result.source == "merged" and not result.is_miss
    assert result.value == Enrichment(bpm=124, gain=-3.0, rank=7, source="deezer")
    assert binding.ttls["bpm:r"] == 90 * DAY


async def test_upstream_failure_returns_the_stale_entry_and_writes_nothing() -> None:
    clock = Clock()
    binding = MemoryKV(clock=clock)
    cache = cache_for(binding, clock)
    await cache.write("bpm:s", "enrichment", Enrichment(rank=1), policy=BPM_TTL, is_miss=True)
    before = binding.data["bpm:s"]
    clock.now += 400

    async def failing() -> Enrichment:
        raise ConnectionError("deezer down")

    result = await cache.get_or_fetch(
        "bpm:s", "enrichment", Enrichment, policy=BPM_TTL, fetch=failing
    )
    assert result.source == "stale_fallback" and result.value == Enrichment(rank=1)
    assert binding.data["bpm:s"] == before
    with pytest.raises(ConnectionError):
        await cache.get_or_fetch(
            "bpm:none", "enrichment", Enrichment, policy=BPM_TTL, fetch=failing
        )


async def test_an_exhausted_kv_budget_reads_as_not_cached_and_skips_the_write() -> None:
    clock = Clock()
    binding = MemoryKV(clock=clock)
    cache = cache_for(binding, clock, limit=0)

    async def fetch() -> Enrichment:
        return Enrichment(bpm=100)

    result = await cache.get_or_fetch(
        "bpm:b", "enrichment", Enrichment, policy=BPM_TTL, fetch=fetch
    )
    assert result.source == "fetched" and result.value == Enrichment(bpm=100)
    assert binding.ops == []
    assert cache.stats.skipped == 1


async def test_plain_entries_distinguish_cached_null_from_absent() -> None:
    clock = Clock()
    binding = MemoryKV(clock=clock)
    cache = cache_for(binding, clock)
    key = lastfm_correction_key("queen", "bohemian")
    assert await cache.read_plain(key, dict) is None
    await cache.write_plain(key, None, policy=LASTFM_CORRECTION_TTL)
    found = await cache.read_plain(key, dict)
    assert found is not None and found.value is None
    assert binding.ttls[key] == 30 * DAY
    await binding.put("old", '"null"', expirationTtl=60)  # the upstream's JSON string "null"
    old = await cache.read_plain("old", dict)
    assert old is not None and old.value is None
    await cache.write_text("musicbrainz:isrc:a:b:1s", "GBUM71029604", policy=MUSICBRAINZ_ISRC_TTL)
    isrc = await cache.read_text("musicbrainz:isrc:a:b:1s")
    assert isrc is not None and isrc.value == "GBUM71029604"


def test_merge_prefers_new_values_and_keeps_old_ones_where_new_is_missing() -> None:
    old = Enrichment(bpm=None, gain=1.0, rank=3)
    new = Enrichment(bpm=99, gain=None, rank=4)
    assert merge_prefer_new(old, new) == Enrichment(bpm=99, gain=1.0, rank=4)
    assert merge_prefer_new(None, new) is new
    assert merge_prefer_new(old, None) is old


# -- mix sessions --------------------------------------------------------------------------


async def test_mix_sessions_validate_on_save_and_invalid_stored_sessions_read_as_none() -> None:
    binding = MemoryKV()
    mixes = mix_sessions(Env({"MIX_SESSIONS": binding}), Session)
    assert mixes is not None
    saved = await mixes.save("u1", Session(user_id="u1", queue=["t1"]))
    assert await mixes.load("u1") == saved
    with pytest.raises(ValueError):
        await mixes.save("u2", {"queue": []})  # type: ignore[arg-type]
    await binding.put("mix:u3", '{"user_id": 5}', expirationTtl=60)
    assert await mixes.load("u3") is None
    await mixes.delete("u1")
    assert await mixes.load("u1") is None
