"""`GET /api/player/stream`: live playback state as named server-sent events ("delta protocol v2").

Mounted at `/api/player`. The engine is `dj.player_stream`, the track-transition work
`dj.player_transitions`; this module wires them to the request: the bearer token, Spotify
through `runtime.outbound`, the stream, `waitUntil`, the request's budgets and the vars.

* A missing or malformed `Authorization` header is the runtime's 401 JSON, before any stream.
  Any well-formed token gets the stream; a token Spotify refuses ends it with `auth_expired`
  on the first poll.
* Vars: `PLAYER_POLL_SECONDS` (default 1), `PLAYER_STREAM_LIFETIME_SECONDS` (default 300);
  heartbeats come from the runtime (`SSE_HEARTBEAT_SECONDS`, default 15).
* Polling is one `GET /me/player` per interval, not retried (the next poll is the retry), with
  a 5-second timeout; it stops the moment the client goes away (the runtime cancels this
  handler, and the call in flight is aborted).
* When the stream ends, one log line gives its reason, polls, failures, events, transitions,
  the per-poll processing time and the subrequests and KV operations the request used.
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any

from dj.enrichment.cache import EnrichmentCache
from dj.models.mix import MixSession
from dj.player_stream import (
    LIFETIME_SECONDS_DEFAULT,
    POLL_SECONDS_DEFAULT,
    POLL_SECONDS_MIN,
    QUEUE_LOW_THRESHOLD,
    Allowance,
    Event,
    PlayerStreamLoop,
    PollAnswer,
    Transition,
    percentile,
)
from dj.player_transitions import (
    ME_SUBREQUESTS,
    TransitionHandler,
    enrichment_bpm_lookup,
)
from dj.spotify_models import ErrorBody, SpotifyUser
from dj.upstreams import Upstreams
from runtime import Context, Router, budget, kv, outbound
from runtime.sse import SSE, EventStream

router = Router(tags=["player"], auth="bearer")

POLL_VAR = "PLAYER_POLL_SECONDS"
LIFETIME_VAR = "PLAYER_STREAM_LIFETIME_SECONDS"
POLL_TIMEOUT_SECONDS = 5.0
ME_RETRIES = 1


def seconds_var(c: Context, name: str, default: float, minimum: float) -> float:
    raw = c.var(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < minimum:
        c.log.warn("ignoring a malformed duration var", var=name, value=raw)
        return default
    return value


def poll_answer(result: outbound.FetchResult[Any]) -> PollAnswer:
    """One `GET /me/player` result as the loop sees it."""
    if result.ok:
        if result.status == 204 or not result.body.strip():
            return PollAnswer("state", None)
        try:
            return PollAnswer("state", result.json())
        except ValueError:
            return PollAnswer("error", message="Invalid playback response from Spotify")
    if result.error == "budget_exhausted":
        return PollAnswer("budget")
    if result.error == "http_status" and result.status == 401:
        return PollAnswer("auth")
    if result.error == "http_status":
        retry_after = outbound.parse_retry_after(result.headers.get("Retry-After"), time.time())
        return PollAnswer(
            "error",
            message=f"Spotify API error: {result.status}",
            retry_after=retry_after if result.status == 429 else None,
        )
    if result.error == "timeout":
        return PollAnswer("error", message="Spotify did not answer in time")
    return PollAnswer("error", message="Spotify could not be reached")


class Listener:
    """The Spotify user id behind the token: one `GET /me` per stream, remembered."""

    def __init__(self, api: str, token: str) -> None:
        self.api = api
        self.token = token
        self.id: str | None = None
        self._lock = asyncio.Lock()

    async def __call__(self) -> str | None:
        async with self._lock:
            if self.id is None:
                result = await outbound.fetch(
                    service="spotify",
                    url=f"{self.api}/me",
                    headers={"Authorization": f"Bearer {self.token}"},
                    model=SpotifyUser,
                    retries=ME_RETRIES,
                )
                if result.ok and result.data is not None:
                    self.id = result.data.id
            return self.id


@router.get(
    "/stream",
    stream=SSE(framing="named"),
    responses={200: None, 401: ErrorBody},
    summary="Live playback state (SSE, delta protocol v2)",
    description=(
        "Named events: connected, init, track, idle, state, device, modes, volume, context, "
        "tick, queue_low, error, auth_expired, reconnect. Spotify is polled every "
        "PLAYER_POLL_SECONDS (1 s); the stream ends with `reconnect` after "
        "PLAYER_STREAM_LIFETIME_SECONDS (300 s), with `auth_expired` when Spotify refuses the "
        "token, and after 5 consecutive errors."
    ),
)
async def player_stream(c: Context, stream: EventStream) -> None:
    token = c.token or ""
    upstreams = Upstreams.from_context(c)
    log = c.log.child("player-stream")
    poll_seconds = seconds_var(c, POLL_VAR, POLL_SECONDS_DEFAULT, POLL_SECONDS_MIN)
    lifetime = seconds_var(c, LIFETIME_VAR, LIFETIME_SECONDS_DEFAULT, poll_seconds)
    tracker = budget.subrequests()
    kv_budget = budget.kv_ops()
    allowance = Allowance(tracker, kv_budget)
    store = kv.mix_sessions(c.env, MixSession, logger=c.log.child("kv"))
    listener = Listener(upstreams.spotify_api, token)
    player_url = f"{upstreams.spotify_api}/me/player"
    auth_header = {"Authorization": f"Bearer {token}"}

    async def fetch() -> PollAnswer:
        stream.check()  # never start a call for a client that is gone
        result = await outbound.fetch(
            service="spotify",
            url=player_url,
            headers=auth_header,
            timeout=POLL_TIMEOUT_SECONDS,
            retries=0,
        )
        return poll_answer(result)

    async def send(event: Event) -> bool:
        return await stream.send(event.name, event.data)

    bpm = None
    if store is not None:
        audio = kv.audio_features_cache(c.env, logger=c.log.child("kv"))
        bpm = enrichment_bpm_lookup(
            outbound.client(), upstreams, EnrichmentCache(audio) if audio is not None else None
        )
    transitions = TransitionHandler(
        store=store, user_id=listener, bpm=bpm, allowance=allowance, logger=log
    )

    loop: PlayerStreamLoop

    def on_transition(transition: Transition) -> None:
        if store is not None:
            c.wait_until(transitions.handle(transition))

    async def queue_check() -> None:
        if store is None or stream.closed:
            return
        if listener.id is None and not allowance.allows(subrequests=ME_SUBREQUESTS):
            return
        if kv_budget is not None and kv_budget.remaining < 1:
            return
        try:
            user = await listener()
            session = await store.load(user) if user else None
        except Exception as exc:  # best effort, as upstream
            log.warn("queue check failed", error=str(exc))
            return
        if session is not None and session.preferences.auto_fill:
            depth = len(session.queue)
            if depth < QUEUE_LOW_THRESHOLD:
                await loop.send(loop.engine.queue_low(depth))

    def on_queue_check() -> None:
        c.wait_until(queue_check())

    loop = PlayerStreamLoop(
        fetch=fetch,
        send=send,
        on_transition=on_transition,
        on_queue_check=on_queue_check,
        poll_seconds=poll_seconds,
        lifetime_seconds=lifetime,
        allowance=allowance,
    )
    try:
        await loop.run()
    finally:
        s = loop.summary
        log.info(
            "player stream ended",
            reason=s.reason,
            polls=s.polls,
            failures=s.failures,
            events=s.events,
            transitions=s.transitions,
            queue_checks=s.queue_checks,
            process_ms_mean=round(sum(s.process_ms) / len(s.process_ms), 3) if s.process_ms else 0,
            process_ms_p95=round(percentile(s.process_ms, 0.95), 3),
            fetch_ms_mean=round(sum(s.fetch_ms) / len(s.fetch_ms), 3) if s.fetch_ms else 0,
            subrequests=tracker.count if tracker is not None else None,
            kv_ops=kv_budget.count if kv_budget is not None else None,
            refused=allowance.refused,
        )
