"""Who the caller is, and the one way a request reads and writes its mix session.

User id: the Bearer token is exchanged for the Spotify user id with `GET /me`, once per
request (the answer is kept in `c.state`, keyed by the token, so a route that needs it twice
asks Spotify once; upstream's save asked twice). Spotify refusing the token (401/403/400) is
our 401 `Invalid authorization token`; Spotify being busy or down keeps its meaning (429 with
`Retry-After`, 502, 504), as the Spotify routes do.

Sessions live in MIX_SESSIONS under `mix:{userId}` for 8 hours, refreshed on every save.
Every read validates the stored JSON against `MixSession`; a value that fails is logged and
read as "no session", never a 500. Every write stamps `updatedAt` and validates again.

Concurrency. KV has no transactions or compare-and-swap, and a write takes up to a minute to
be seen everywhere, so two requests changing one session at the same moment end with the last
writer's version (reference §12.15). Within one request nothing is lost: `MixService`
remembers the last version it saved and every later step builds on it (never on the copy the
request started with). Work that runs after the response (`waitUntil`) calls `refresh`, which
re-reads KV and keeps whichever of the stored and the remembered version is newer, and gives
up when the session was ended in between (so a background auto-fill never revives it).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from dj.js_compat import ms_from_iso
from dj.mix_rules import touch
from dj.models.mix import MixSession
from dj.spotify import SpotifyClient, upstream_error
from runtime import kv
from runtime.context import Context
from runtime.errors import HTTPError

USER_STATE_KEY = "mix.user"
NO_SESSION = "No active session"
INVALID_TOKEN = "Invalid authorization token"
NOT_AVAILABLE = "Mix sessions not available"


def now_ms() -> int:
    return int(time.time() * 1000)


async def user_id(c: Context, *, failure_message: str = INVALID_TOKEN) -> str:
    """The Spotify user id of the request's Bearer token (cached for the request)."""
    token = c.token or ""
    cached = c.state.get(USER_STATE_KEY)
    if cached is not None and cached[0] == token:
        return str(cached[1])
    result = await SpotifyClient.for_request(c, token).me()
    if not result.ok or result.data is None:
        if result.error == "http_status" and result.status in (400, 401, 403):
            raise HTTPError(401, failure_message)
        raise upstream_error(result, failure_message)
    uid = str(result.data.id)
    c.state[USER_STATE_KEY] = (token, uid)
    return uid


def _version(session: MixSession) -> int:
    try:
        return ms_from_iso(session.updated_at)
    except ValueError:
        return 0


class MixService:
    """One request's access to one user's session."""

    def __init__(
        self,
        c: Context,
        store: kv.MixSessionStore[MixSession],
        uid: str,
        *,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self.c = c
        self.store = store
        self.user_id = uid
        self.clock = clock
        self.latest: MixSession | None = None

    @classmethod
    async def for_request(cls, c: Context, *, failure_message: str = INVALID_TOKEN) -> MixService:
        """The caller's service: user id from `/me`, then the MIX_SESSIONS binding (500
        `Mix sessions not available` without it)."""
        uid = await user_id(c, failure_message=failure_message)
        store = kv.mix_sessions(c.env, MixSession, logger=c.log.child("kv"))
        if store is None:
            raise HTTPError(500, NOT_AVAILABLE)
        return cls(c, store, uid)

    async def load(self) -> MixSession | None:
        """The stored session; absent or invalid reads as None."""
        session = await self.store.load(self.user_id)
        if session is not None:
            self.latest = session
        return session

    async def require(self, message: str = NO_SESSION) -> MixSession:
        session = await self.load()
        if session is None:
            raise HTTPError(404, message)
        return session

    async def save(self, session: MixSession) -> MixSession:
        """Stamp `updatedAt`, validate, write with the 8 h TTL; remember it as the latest."""
        stamped = touch(session, self.clock())
        if self.latest is not None and _version(stamped) <= _version(self.latest):
            # Two saves in the same millisecond must still order: later means newer.
            stamped = touch(session, _version(self.latest) + 1)
        saved = await self.store.save(self.user_id, stamped)
        self.latest = saved
        return saved

    async def delete(self) -> None:
        await self.store.delete(self.user_id)
        self.latest = None

    async def refresh(self) -> MixSession | None:
        """For work after the response: the newer of KV's and this request's version, or
        None when the session is gone (ended) or was replaced by a new one."""
        stored = await self.store.load(self.user_id)
        mine = self.latest
        if stored is None:
            return None
        if mine is None or stored.id != mine.id:
            return stored if mine is None else None
        return stored if _version(stored) > _version(mine) else mine
