"""A small Spotify client: Web API and accounts service, every call through `runtime.outbound`.

Calls go out as service `spotify` (Web API) or `spotify-accounts` (token endpoint), both in
the `spotify` lane, so they share its concurrency slots, the request's rate limit and
subrequest budget, timeouts and retries (429/5xx with `Retry-After`), and are logged with
secrets redacted. Base URLs come from `Upstreams` (production unless a var points elsewhere).

Endpoints are the ones a development-mode app has after Spotify's February-2026 changes
(reference §11):

| what                    | before (upstream)                | now                              |
|-------------------------|----------------------------------|----------------------------------|
| playlist entries        | `GET /playlists/{id}/tracks`     | `GET /playlists/{id}/items`, at most 50 per page |
| add / remove entries    | `POST|DELETE /playlists/{id}/tracks` (`{tracks:[{uri}]}` to remove) | `POST|DELETE /playlists/{id}/items` (`{items:[{uri}]}` to remove) |
| create a playlist       | `GET /me` + `POST /users/{id}/playlists` | `POST /me/playlists` (one call) |
| search                  | `limit` up to 50                 | `limit` up to 10                 |

The answers are read with the tolerant models of `dj.spotify_models`, which also map the new
shapes back to the ones the web client expects (`items` → `tracks`, `item` → `track`).

`upstream_error` turns a failed call into the `HTTPError` a route answers with; its status
mapping is the same for every route, so a client can tell "log in again" (401) from "Spotify
is busy" (429) and "Spotify is down" (502/504).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlencode

from runtime import jsonsafe, outbound
from runtime.context import Context
from runtime.errors import HTTPError
from runtime.logging import redact_text
from runtime.records import record

from .spotify_models import (
    PlaylistEntriesPage,
    PlaylistEntry,
    PlaylistFull,
    PlaylistPage,
    SearchResult,
    SnapshotResult,
    SpotifyUser,
    TokenGrant,
)
from .upstreams import Upstreams

API_SERVICE = "spotify"
ACCOUNTS_SERVICE = "spotify-accounts"
LANE = "spotify"

PLAYLIST_ITEMS_PAGE_MAX = 50
"""Spotify's cap on one page of `GET /playlists/{id}/items` (2026)."""
PLAYLIST_WRITE_BATCH = 100
"""Spotify's cap on URIs per add or remove request."""
SEARCH_LIMIT = 10
"""Spotify's cap on search results per type for development-mode apps (2026)."""
AUDIO_FEATURES_BATCH = 100
"""Spotify's cap on ids per `GET /audio-features` request."""

DETAILS_MAX = 1000


def _path_id(value: str) -> str:
    """An id placed in a URL path: every reserved character escaped (`/`, `?`, `..`)."""
    return quote(value, safe="")


@record(frozen=True)
class BatchOutcome:
    """The result of a write sent in batches: how many URIs were applied before a failure."""

    applied: int
    snapshot_id: str | None
    failure: outbound.FetchResult[Any] | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None


class SpotifyClient:
    """Spotify calls on behalf of one user token (or none, for the accounts service)."""

    def __init__(
        self,
        upstreams: Upstreams,
        token: str | None = None,
        http: outbound.OutboundClient | None = None,
    ) -> None:
        self.api = upstreams.spotify_api
        self.accounts = upstreams.spotify_accounts
        self.token = token
        self.http = http
        """The outbound client to call through (None: the current request's)."""

    @classmethod
    def for_request(cls, c: Context, token: str | None = None) -> SpotifyClient:
        return cls(Upstreams.from_context(c), token if token is not None else c.token)

    # -- plumbing ---------------------------------------------------------------------------

    async def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        model: Any = None,
        retries: int = outbound.DEFAULT_RETRIES,
    ) -> outbound.FetchResult[Any]:
        """One Web API call with the user's token; `path` starts with `/`."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        fetch = self.http.fetch if self.http is not None else outbound.fetch
        return await fetch(
            service=API_SERVICE,
            lane=LANE,
            url=self.api + path,
            method=method,
            headers=headers,
            params=params,
            json=json_body,
            model=model,
            retries=retries,
        )

    async def _token_call(self, form: Mapping[str, str]) -> outbound.FetchResult[Any]:
        # Not retried: an authorization code is single use, and a refresh answered with a
        # rotated token that got lost on the way would make a retry fail anyway.
        return await outbound.fetch(
            service=ACCOUNTS_SERVICE,
            lane=LANE,
            url=f"{self.accounts}/api/token",
            method="POST",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            body=urlencode(form),
            model=TokenGrant,
            retries=0,
        )

    # -- accounts ---------------------------------------------------------------------------

    async def exchange_code(
        self,
        *,
        client_id: str,
        client_secret: str,
        code: str,
        verifier: str,
        redirect_uri: str,
    ) -> outbound.FetchResult[TokenGrant]:
        """`grant_type=authorization_code` with the PKCE verifier and the client secret."""
        return await self._token_call(
            {
                "client_id": client_id,
                "client_secret": client_secret,
                "code": code,
                "code_verifier": verifier,
                "grant_type": "authorization_code",
                "redirect_uri": redirect_uri,
            }
        )

    async def refresh(self, *, client_id: str, refresh_token: str) -> outbound.FetchResult[Any]:
        """`grant_type=refresh_token` with the client id only (PKCE style), as upstream."""
        return await self._token_call(
            {
                "client_id": client_id,
                "grant_type": "refresh_token",
                "refresh_token": refresh_token,
            }
        )

    # -- user, search -----------------------------------------------------------------------

    async def me(self) -> outbound.FetchResult[SpotifyUser]:
        return await self.call("GET", "/me", model=SpotifyUser)

    async def search(
        self, query: str, kind: str, limit: int = SEARCH_LIMIT
    ) -> outbound.FetchResult[Any]:
        return await self.call(
            "GET",
            "/search",
            params={"q": query, "type": kind, "limit": min(limit, SEARCH_LIMIT)},
            model=SearchResult,
        )

    async def audio_features(self, track_ids: Sequence[str]) -> outbound.FetchResult[Any]:
        """`GET /audio-features?ids=` for at most 100 ids; the body is left to the caller.

        Spotify answers 403 to apps created after 2024-11-27 (extended access only)."""
        if not 0 < len(track_ids) <= AUDIO_FEATURES_BATCH:
            raise ValueError(f"audio features take 1 to {AUDIO_FEATURES_BATCH} ids")
        return await self.call("GET", "/audio-features", params={"ids": ",".join(track_ids)})

    # -- playlists --------------------------------------------------------------------------

    async def my_playlists(self, limit: int, offset: int) -> outbound.FetchResult[Any]:
        return await self.call(
            "GET", "/me/playlists", params={"limit": limit, "offset": offset}, model=PlaylistPage
        )

    async def playlist_entries(
        self, playlist_id: str, limit: int, offset: int
    ) -> tuple[list[PlaylistEntry], outbound.FetchResult[Any]]:
        """Up to `limit` entries from `offset`, in pages of at most 50 (Spotify's 2026 cap).

        Returns the entries and the last call's result; when that result is not ok the
        entries are incomplete and the caller answers with the failure.
        """
        path = f"/playlists/{_path_id(playlist_id)}/items"
        entries: list[PlaylistEntry] = []
        position = offset
        while True:
            size = min(PLAYLIST_ITEMS_PAGE_MAX, offset + limit - position)
            result = await self.call(
                "GET",
                path,
                params={"limit": size, "offset": position},
                model=PlaylistEntriesPage,
            )
            if not result.ok:
                return entries, result
            page: PlaylistEntriesPage = result.data
            entries.extend(page.items)
            position += size
            if position >= offset + limit or len(page.items) < size or page.next is None:
                return entries, result

    async def create_playlist(
        self, name: str, description: str | None, public: bool
    ) -> outbound.FetchResult[Any]:
        body: dict[str, Any] = {"name": name, "public": public}
        if description is not None:
            body["description"] = description
        # Not retried: a 5xx after Spotify created the playlist would create a second one.
        return await self.call(
            "POST", "/me/playlists", json_body=body, model=PlaylistFull, retries=0
        )

    async def add_items(self, playlist_id: str, uris: Sequence[str]) -> BatchOutcome:
        """Append `uris` in batches of 100; stops at the first failed batch."""
        path = f"/playlists/{_path_id(playlist_id)}/items"

        async def send(batch: list[str]) -> outbound.FetchResult[Any]:
            # Not retried: a retried add after a lost answer would add the tracks twice.
            return await self.call(
                "POST", path, json_body={"uris": batch}, model=SnapshotResult, retries=0
            )

        return await _in_batches(list(uris), send)

    async def remove_items(self, playlist_id: str, uris: Sequence[str]) -> BatchOutcome:
        """Remove every occurrence of `uris`, in batches of 100 (idempotent, so retried)."""
        path = f"/playlists/{_path_id(playlist_id)}/items"

        async def send(batch: list[str]) -> outbound.FetchResult[Any]:
            return await self.call(
                "DELETE",
                path,
                json_body={"items": [{"uri": uri} for uri in batch]},
                model=SnapshotResult,
            )

        return await _in_batches(list(uris), send)

    # -- player -----------------------------------------------------------------------------

    async def player(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        idempotent: bool = True,
    ) -> outbound.FetchResult[Any]:
        """A `/me/player...` call; commands that move the player (next, previous, queue) are
        not retried, so a lost answer cannot skip twice."""
        return await self.call(
            method,
            "/me/player" + path,
            params=params,
            json_body=json_body,
            retries=outbound.DEFAULT_RETRIES if idempotent else 0,
        )


async def _in_batches(uris: list[str], send: Any) -> BatchOutcome:
    applied = 0
    snapshot: str | None = None
    for start in range(0, len(uris), PLAYLIST_WRITE_BATCH):
        batch = uris[start : start + PLAYLIST_WRITE_BATCH]
        result = await send(batch)
        if not result.ok:
            return BatchOutcome(applied, snapshot, result)
        snapshot = result.data.snapshot_id if result.data is not None else snapshot
        applied += len(batch)
    return BatchOutcome(applied, snapshot)


# -- failures -> responses ------------------------------------------------------------------


def spotify_details(result: outbound.FetchResult[Any]) -> str:
    """Spotify's error text for a client (`details`), redacted and bounded."""
    if result.error == "http_status":
        text = result.text.strip() or f"Spotify answered {result.status}"
    elif result.error == "timeout":
        text = "Spotify did not answer in time"
    elif result.error == "network":
        text = "Spotify could not be reached"
    elif result.error == "budget_exhausted":
        text = "This request has used up its subrequests"
    elif result.error in ("invalid_json", "invalid_response"):
        text = "Spotify's answer was not in the expected shape"
    else:
        text = "Spotify call failed"
    return redact_text(text)[:DETAILS_MAX]


def failure_status(result: outbound.FetchResult[Any], *, passthrough: bool = False) -> int:
    """The status a route answers with when a Spotify call failed.

    `http_status` failures: 401, 403, 404 and 429 as Spotify sent them; other 4xx → 400
    (or Spotify's own status with `passthrough`, the player routes' contract); 5xx → 502.
    Without an answer: timeout → 504, network → 502, no subrequests left → 503. An answer
    that is not JSON or not in the expected shape → 502 (upstream: 500). Never a 500: that
    status is kept for our own bugs.
    """
    status = result.status
    if result.error == "http_status" and status is not None:
        if status >= 500:
            return 502
        if passthrough or status in (401, 403, 404, 429):
            return status
        return 400
    return {"timeout": 504, "budget_exhausted": 503}.get(result.error or "", 502)


def upstream_error(
    result: outbound.FetchResult[Any],
    message: str,
    *,
    messages: Mapping[int, str] | None = None,
    invalid: str | None = None,
    passthrough: bool = False,
    details: bool = False,
    **extra: Any,
) -> HTTPError:
    """The HTTPError for a failed call: `{error: message}` (+ `details` for player routes).

    `messages` replaces `message` for particular answered statuses (e.g. 404 → "Playlist not
    found"); `invalid` replaces it for an answer that was not JSON or not in the expected
    shape (a 502, like an outage). A 429 carries Spotify's `Retry-After` on to the client.
    """
    status = failure_status(result, passthrough=passthrough)
    if invalid and result.error in ("invalid_json", "invalid_response"):
        message = invalid
    elif messages and status in messages:
        message = messages[status]
    headers: dict[str, str] = {}
    retry_after = result.headers.get("Retry-After") if result.status == 429 else None
    if retry_after:
        headers["Retry-After"] = retry_after
    body_extra = dict(extra)
    if details:
        body_extra["details"] = spotify_details(result)
    return HTTPError(status, message, headers=headers, **body_extra)


def token_error_description(result: outbound.FetchResult[Any]) -> str:
    """The accounts service's `error_description` (or `error`), never the raw body."""
    if result.error != "http_status":
        return spotify_details(result)
    try:
        data = jsonsafe.loads(result.body)
    except ValueError:
        data = None
    if isinstance(data, dict):
        for key in ("error_description", "error"):
            value = data.get(key)
            if isinstance(value, str) and value:
                return redact_text(value)[:DETAILS_MAX]
    return f"Spotify answered {result.status}"
