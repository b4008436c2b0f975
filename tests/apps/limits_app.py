"""A test app that drives the runtime's limits from inside the Worker, for end-to-end tests.

The test tells it which fake upstream to call (`base`), how many calls to make and through
which lane; the fake records arrival times and concurrency.
"""

from __future__ import annotations

import asyncio

from pydantic import BaseModel, Field

from runtime import App, Context, Router, outbound
from runtime import budget as budget_mod
from runtime import kv as kv_mod
from runtime.middleware import request_id


class BurstQuery(BaseModel):
    base: str
    n: int = Field(ge=1, le=2000)
    service: str = "deezer"


class BurstResult(BaseModel):
    ok: int
    failed: int
    errors: dict[str, int]
    subrequests: int
    remaining: int


class KVQuery(BaseModel):
    prefix: str


router = Router()


@router.post("/burst", query=BurstQuery, responses={200: BurstResult})
async def burst(c: Context) -> BurstResult:
    q = c.query

    async def one(i: int) -> outbound.FetchResult:
        return await outbound.fetch(
            service=q.service, url=f"{q.base}/track/{3135556 + i}", retries=0
        )

    results = await asyncio.gather(*(one(i) for i in range(q.n)))
    errors: dict[str, int] = {}
    for r in results:
        if not r.ok:
            errors[r.error or "?"] = errors.get(r.error or "?", 0) + 1
    tracker = budget_mod.subrequests()
    assert tracker is not None
    return BurstResult(
        ok=sum(r.ok for r in results),
        failed=sum(not r.ok for r in results),
        errors=errors,
        subrequests=tracker.count,
        remaining=tracker.remaining,
    )


@router.post("/kv", query=KVQuery)
async def kv_write(c: Context) -> dict:
    """One value per TTL policy, written through the runtime's KV layer."""
    sessions = kv_mod.sessions_store(c.env)
    cache = kv_mod.audio_features_cache(c.env)
    mixes = kv_mod.KVStore(c.env.MIX_SESSIONS, name="MIX_SESSIONS", policy=kv_mod.MIX_SESSIONS_TTL)
    assert sessions is not None and cache is not None
    p = c.query.prefix
    await sessions.put_json(f"{p}session", {"user": "u1"})
    await mixes.put_json(f"{p}mix", {"queue": []})
    await cache.write(f"{p}hit", "enrichment", {"bpm": 120}, policy=kv_mod.BPM_TTL, is_miss=False)
    await cache.write(f"{p}miss", "enrichment", {"bpm": None}, policy=kv_mod.BPM_TTL, is_miss=True)
    try:
        await sessions.put_text(f"{p}short", "x", ttl=30)
        short = "accepted"
    except Exception as exc:  # the KV layer (or Miniflare) must refuse a TTL under 60 s
        short = type(exc).__name__
    listed = {}
    for ns in (sessions, mixes, cache.store):
        page = await ns.list(prefix=p)
        listed.update({k.name: k.expiration for k in page.keys})
    return {"expirations": listed, "short_ttl": short}


@router.get("/kv", query=KVQuery)
async def kv_read(c: Context) -> dict:
    cache = kv_mod.audio_features_cache(c.env)
    assert cache is not None
    p = c.query.prefix
    hit = await cache.store.get_json(f"{p}hit")
    miss = await cache.store.get_json(f"{p}miss")
    return {"hit": hit, "miss": miss}


app = App(title="limits test app", version="0")
app.use(request_id())
app.route("/api/limits", router)
