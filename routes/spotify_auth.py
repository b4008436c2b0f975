"""Spotify login (PKCE + signed state cookie), token refresh, and the small Spotify proxies.

Mounted at `/api/spotify`. The contract is the TypeScript worker's (reference §1.2, "Spotify
OAuth"); deliberate differences are listed in docs/dj-differences.md, "Spotify routes":

* the callback's `redirect_uri` comes from the var `SPOTIFY_REDIRECT_URI`, defaulting to
  `<request origin>/api/spotify/callback`, so local development can complete a login (the
  upstream hard-coded production);
* the state cookie's signature is compared in constant time;
* each OAuth state is remembered in SESSIONS once used, so a callback cannot be replayed;
* Spotify being busy (429) or down (5xx) is not reported as 401, which the web client reads
  as "log in again", and does not clear the refresh cookie.
"""

import time
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import BaseModel, Field, RootModel

from dj import spotify_oauth as oauth
from dj.spotify import SpotifyClient, failure_status, token_error_description, upstream_error
from dj.spotify_models import (
    BadRequest,
    ErrorBody,
    SearchResult,
    SpotifyUser,
    TokenGrant,
    ValidationEnvelope,
)
from dj.upstreams import Upstreams
from runtime import Context, HTTPError, Response, Router
from runtime.keys import fit_key
from runtime.kv import sessions_store

router = Router(tags=["spotify-auth"])

DEFAULT_FRONTEND = "https://dj.current.space"
CALLBACK_PATH = "/api/spotify/callback"
USED_STATE_PREFIX = "oauth_state:"
NO_STORE = "no-store"

# -- models ----------------------------------------------------------------------------------
# Models marked `defer_build` only document responses (handlers answer plain dicts, never
# validated against them): the Worker does not build them at start-up.


class AuthUrl(BaseModel):
    url: str = Field(description="Spotify's authorize URL with the S256 challenge and state.")


class CallbackQuery(BaseModel):
    code: str | None = None
    state: str | None = None
    error: str | None = Field(None, description="Set by Spotify when the user declined.")


class TokenRequest(BaseModel):
    code: str = Field(min_length=1)
    codeVerifier: str = Field(min_length=1)


class TokenResponse(BaseModel, defer_build=True):
    access_token: str
    expires_in: int
    refresh_token: str | None = Field(None, description="Absent when Spotify sent none.")
    scope: str
    token_type: Literal["Bearer"] = "Bearer"


class TokenErrorBody(BaseModel, defer_build=True):
    error: str
    error_description: str | None = None


class TokenBadRequest(RootModel[TokenErrorBody | ValidationEnvelope], defer_build=True):
    """A 400 from `POST /token`: Spotify refused the code, or the input was invalid."""


class RefreshResponse(BaseModel, defer_build=True):
    access_token: str
    expires_in: int


class Me(BaseModel, defer_build=True):
    id: str
    display_name: str | None
    country: str | None = Field(None, description="Absent for development-mode apps (2026).")
    email: str | None = Field(None, description="Absent for development-mode apps (2026).")
    product: str | None = Field(None, description="Absent for development-mode apps (2026).")


class ScopeTests(BaseModel):
    playlist_read_private: bool = Field(alias="playlist-read-private")
    user_read_private: bool = Field(alias="user-read-private")


class TokenInfo(BaseModel):
    country: str
    display_name: str
    email: str
    product: str
    user_id: str


class ScopesReport(BaseModel, defer_build=True):
    required_scopes: list[str]
    scope_tests: ScopeTests
    token_info: TokenInfo


class SearchRequest(BaseModel):
    query: str = Field(min_length=1)
    type: Literal["track", "album", "artist"] = "track"


def _spotify_errors(*statuses: int) -> dict[int, type[BaseModel]]:
    return {status: ErrorBody for status in statuses}


# -- helpers ---------------------------------------------------------------------------------


def _credentials(c: Context) -> tuple[str, str]:
    client_id = c.var("SPOTIFY_CLIENT_ID")
    secret = c.var("SPOTIFY_CLIENT_SECRET")
    if not client_id or not secret:
        c.log.error("Spotify credentials are not configured")
        raise HTTPError(500, "Spotify login is not configured")
    return client_id, secret


def redirect_uri(c: Context) -> str:
    """`SPOTIFY_REDIRECT_URI`, or this deployment's own callback URL."""
    return c.var("SPOTIFY_REDIRECT_URI") or f"{c.req.origin}{CALLBACK_PATH}"


def frontend_url(c: Context, params: dict[str, str]) -> str:
    """FRONTEND_URL (its first entry, when CORS lists several) with `params` added."""
    configured = c.var("FRONTEND_URL") or DEFAULT_FRONTEND
    base = configured.split(",")[0].strip() or DEFAULT_FRONTEND
    parts = urlsplit(base)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", urlencode(query), ""))


def _to_frontend(c: Context, params: dict[str, str]) -> Response:
    response = c.redirect(frontend_url(c, params))
    response.headers.set("Cache-Control", NO_STORE)
    return response


def _now_ms() -> int:
    return int(time.time() * 1000)


async def _claim_state(c: Context, state: str) -> bool:
    """Record `state` as used in SESSIONS; False when it was used before (a replay).

    Best effort: without the binding, or when KV fails, the login goes on (Spotify's codes
    are single use anyway) and the problem is logged. KV reads are eventually consistent,
    so a replay from another location within about a minute may not be seen.
    """
    store = sessions_store(c.env, logger=c.log)
    if store is None:
        c.log.warn("SESSIONS is not bound: OAuth state replay protection is off")
        return True
    key = fit_key(USED_STATE_PREFIX + state)
    try:
        if await store.get_text(key) is not None:
            return False
        await store.put_text(key, str(_now_ms()))
    except Exception as exc:
        c.log.warn("could not record the OAuth state", reason=type(exc).__name__)
    return True


# -- login -----------------------------------------------------------------------------------


@router.get(
    "/auth-url",
    responses={200: AuthUrl, 500: ErrorBody},
    summary="Spotify authorize URL (PKCE); sets the signed spotify_oauth cookie",
    operation_id="getSpotifyAuthUrl",
)
async def auth_url(c: Context) -> AuthUrl:
    client_id, secret = _credentials(c)
    verifier = oauth.new_code_verifier()
    state = oauth.new_state()
    cookie = oauth.seal_state(oauth.OAuthState(state, _now_ms(), verifier), secret)
    params = {
        "client_id": client_id,
        "code_challenge": oauth.code_challenge(verifier),
        "code_challenge_method": "S256",
        "redirect_uri": redirect_uri(c),
        "response_type": "code",
        "scope": " ".join(oauth.SCOPES),
        "show_dialog": "true",
        "state": state,
    }
    c.header("Set-Cookie", oauth.oauth_cookie(cookie))
    c.header("Cache-Control", NO_STORE)
    accounts = Upstreams.from_context(c).spotify_accounts
    return AuthUrl(url=f"{accounts}/authorize?{urlencode(params)}")


@router.get(
    "/callback",
    query=CallbackQuery,
    responses={302: None},
    summary="OAuth callback: exchanges the code, redirects to the web app",
    description=(
        "Always a 302 to FRONTEND_URL: on success with `spotify_token`, `expires_in` and "
        "`auth_success=true` (and the `spotify_refresh` cookie); otherwise with `error=` one "
        "of Spotify's error, missing_parameters, missing_cookie, invalid_cookie, "
        "tampered_cookie, state_mismatch, expired_auth, token_exchange_failed, "
        "invalid_token_response, callback_failed."
    ),
    operation_id="handleSpotifyCallback",
)
async def callback(c: Context) -> Response:
    try:
        return await _callback(c)
    except Exception as exc:
        c.log.error("Spotify callback failed", exc)
        return _to_frontend(c, {"error": "callback_failed"})


async def _callback(c: Context) -> Response:
    q: CallbackQuery = c.query
    if q.error:
        c.log.warn("Spotify refused the authorization", reason=q.error[:100])
        return _to_frontend(c, {"error": q.error})
    if not q.code or not q.state:
        return _to_frontend(c, {"error": "missing_parameters"})
    client_id, secret = _credentials(c)
    try:
        data = oauth.open_state(
            oauth.read_cookie(c.req.headers.get("cookie"), oauth.OAUTH_COOKIE), secret
        )
    except oauth.CookieError as exc:
        c.log.warn("OAuth state cookie refused", problem=exc.problem.value)
        return _to_frontend(c, {"error": exc.problem.value})
    if data.state != q.state:
        c.log.warn("OAuth state mismatch")
        return _to_frontend(c, {"error": "state_mismatch"})
    if oauth.is_expired(data, _now_ms()):
        return _to_frontend(c, {"error": "expired_auth"})
    if not await _claim_state(c, data.state):
        c.log.warn("OAuth state used twice: callback replay refused")
        # The contract has no code for a replay; this login attempt is over, so: expired.
        c.header("Set-Cookie", oauth.clear_oauth_cookie())
        return _to_frontend(c, {"error": "expired_auth"})

    client = SpotifyClient.for_request(c, token="")
    result = await client.exchange_code(
        client_id=client_id,
        client_secret=secret,
        code=q.code,
        verifier=data.verifier,
        redirect_uri=redirect_uri(c),
    )
    # The state is spent either way: the cookie is of no further use.
    c.header("Set-Cookie", oauth.clear_oauth_cookie())
    if not result.ok:
        invalid = result.error in ("invalid_json", "invalid_response")
        c.log.warn(
            "Spotify code exchange failed",
            status=result.status,
            reason=result.error,
            description=token_error_description(result),
        )
        return _to_frontend(
            c, {"error": "invalid_token_response" if invalid else "token_exchange_failed"}
        )
    grant: TokenGrant = result.data
    if grant.refresh_token:
        c.header("Set-Cookie", oauth.refresh_cookie(grant.refresh_token))
    return _to_frontend(
        c,
        {
            "spotify_token": grant.access_token,
            "expires_in": str(grant.expires_in),
            "auth_success": "true",
        },
    )


@router.post(
    "/token",
    body=TokenRequest,
    responses={
        200: TokenResponse,
        400: TokenBadRequest,
        429: TokenErrorBody,
        500: TokenErrorBody,
        502: TokenErrorBody,
        503: TokenErrorBody,
        504: TokenErrorBody,
    },
    summary="Exchange an authorization code and PKCE verifier for tokens",
    operation_id="exchangeSpotifyToken",
)
async def token(c: Context) -> Response:
    client_id, secret = _credentials(c)
    body: TokenRequest = c.body
    result = await SpotifyClient.for_request(c, token="").exchange_code(
        client_id=client_id,
        client_secret=secret,
        code=body.code,
        verifier=body.codeVerifier,
        redirect_uri=redirect_uri(c),
    )
    if not result.ok:
        if result.error in ("invalid_json", "invalid_response"):
            raise HTTPError(502, "Invalid token response", error_description=result.detail or "")
        status = failure_status(result)
        # Spotify refusing the code (any 4xx but 429) is the caller's problem: 400.
        status = 400 if 400 <= status < 500 and status != 429 else status
        retry_after = result.headers.get("Retry-After") if status == 429 else None
        headers = {"Retry-After": retry_after} if retry_after else {}
        raise HTTPError(
            status,
            "Token exchange failed",
            headers=headers,
            error_description=token_error_description(result),
        )
    grant: TokenGrant = result.data
    out: dict[str, Any] = {
        "access_token": grant.access_token,
        "expires_in": grant.expires_in,
        "scope": grant.scope,
        "token_type": "Bearer",
    }
    if grant.refresh_token:
        out["refresh_token"] = grant.refresh_token
    return Response.json(out, headers={"Cache-Control": NO_STORE})


@router.post(
    "/refresh",
    responses={
        200: RefreshResponse,
        401: ErrorBody,
        429: ErrorBody,
        500: ErrorBody,
        502: ErrorBody,
        503: ErrorBody,
        504: ErrorBody,
    },
    summary="New access token from the spotify_refresh cookie (rotated when Spotify rotates it)",
    operation_id="refreshSpotifyToken",
)
async def refresh(c: Context) -> Response:
    client_id = c.var("SPOTIFY_CLIENT_ID")
    if not client_id:
        raise HTTPError(500, "Spotify login is not configured")
    current = oauth.read_cookie(c.req.headers.get("cookie"), oauth.REFRESH_COOKIE)
    if not current:
        raise HTTPError(401, "No refresh token available")
    result = await SpotifyClient.for_request(c, token="").refresh(
        client_id=client_id, refresh_token=current
    )
    if not result.ok:
        if result.error in ("invalid_json", "invalid_response"):
            raise HTTPError(502, "Invalid response from Spotify")
        status = failure_status(result)
        c.log.warn("Spotify token refresh failed", status=result.status, reason=result.error)
        if 400 <= status < 500 and status != 429:
            # Spotify refused the refresh token: it is no use any more.
            c.header("Set-Cookie", oauth.clear_refresh_cookie())
            raise HTTPError(401, "Token refresh failed - please log in again")
        # Spotify busy or unreachable: keep the cookie, the next try may work.
        raise upstream_error(result, "Token refresh failed")
    grant: TokenGrant = result.data
    if grant.refresh_token and grant.refresh_token != current:
        c.header("Set-Cookie", oauth.refresh_cookie(grant.refresh_token))
    return Response.json(
        {"access_token": grant.access_token, "expires_in": grant.expires_in},
        headers={"Cache-Control": NO_STORE},
    )


# -- proxies ---------------------------------------------------------------------------------


async def _profile(c: Context, client: SpotifyClient) -> SpotifyUser:
    result = await client.me()
    if not result.ok:
        raise upstream_error(
            result,
            "Failed to get user profile",
            messages={401: "Invalid or expired token"},
            invalid="Invalid user profile response",
        )
    return result.data


@router.get(
    "/me",
    auth="bearer",
    responses={200: Me, **_spotify_errors(401, 403, 429, 502, 503, 504)},
    summary="The current user's Spotify profile (validates the token)",
    operation_id="getSpotifyMe",
)
async def me(c: Context) -> dict[str, Any]:
    user = await _profile(c, SpotifyClient.for_request(c))
    out: dict[str, Any] = {"display_name": user.display_name, "id": user.id}
    for name in ("country", "email", "product"):
        value = getattr(user, name)
        if value is not None:
            out[name] = value
    return out


@router.get(
    "/debug/scopes",
    auth="bearer",
    responses={200: ScopesReport, **_spotify_errors(401, 403, 429, 502, 503, 504)},
    summary="Which scopes the token works for, and who it belongs to",
    operation_id="getSpotifyDebugScopes",
)
async def debug_scopes(c: Context) -> dict[str, Any]:
    client = SpotifyClient.for_request(c)
    user = await _profile(c, client)
    playlists = await client.call("GET", "/me/playlists", params={"limit": 1})
    return {
        "required_scopes": list(oauth.SCOPES),
        "scope_tests": {"playlist-read-private": playlists.ok, "user-read-private": True},
        "token_info": {
            "country": user.country or "Unknown",
            "display_name": user.display_name or "Unknown",
            "email": user.email or "Not provided",
            "product": user.product or "Unknown",
            "user_id": user.id,
        },
    }


@router.post(
    "/search",
    auth="bearer",
    body=SearchRequest,
    responses={200: SearchResult, 400: BadRequest, **_spotify_errors(401, 403, 429, 502, 503, 504)},
    summary="Search Spotify (10 results: Spotify's 2026 cap)",
    operation_id="searchSpotify",
)
async def search(c: Context) -> dict[str, Any]:
    body: SearchRequest = c.body
    result = await SpotifyClient.for_request(c).search(body.query, body.type)
    if not result.ok:
        raise upstream_error(
            result, "Spotify search failed", invalid="Invalid response from Spotify"
        )
    data: SearchResult = result.data
    return data.to_client()
