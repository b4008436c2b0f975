"""Spotify OAuth helpers with no I/O: PKCE, the signed state cookie, cookie headers.

The login flow (reference §1.2, "Spotify OAuth"):

1. `GET /api/spotify/auth-url` makes a PKCE verifier and a random state, puts both (with the
   time) in a short-lived cookie signed with HMAC-SHA256, and sends the browser to Spotify
   with the S256 challenge and the state.
2. `GET /api/spotify/callback` checks the cookie's signature (in constant time), the state and
   the cookie's age, then exchanges the code with the verifier.

Cookie value: `<payload>.<signature>`, where payload = base64url(JSON `{state, timestamp,
verifier}`) with the timestamp in epoch milliseconds, and signature = base64url(HMAC-SHA256(
payload, key=SPOTIFY_CLIENT_SECRET)), both unpadded. That is the TypeScript worker's format,
so a login started on one worker can finish on the other during a switch-over.

Randomness comes from `secrets`, imported inside the functions that use it: nothing random
runs while the module loads (Workers' memory snapshot).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from enum import Enum

from runtime.records import record

OAUTH_COOKIE = "spotify_oauth"
REFRESH_COOKIE = "spotify_refresh"
OAUTH_COOKIE_MAX_AGE = 900
"""Seconds the browser keeps the state cookie (15 minutes)."""
OAUTH_MAX_AGE_MS = 15 * 60 * 1000
"""How old a state cookie may be when the callback arrives."""
REFRESH_COOKIE_MAX_AGE = 30 * 24 * 3600
REFRESH_COOKIE_PATH = "/api/spotify"

SCOPES = (
    "playlist-modify-public",
    "playlist-modify-private",
    "user-read-private",
    "user-read-playback-state",
    "user-read-currently-playing",
    "user-read-recently-played",
    "user-top-read",
    "playlist-read-private",
    "playlist-read-collaborative",
    "user-modify-playback-state",
    "streaming",
)


def b64url(data: bytes) -> str:
    """Unpadded base64url, as the web platform's `btoa` + replacements produce."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Inverse of `b64url`; raises ValueError on anything that is not base64url."""
    if not text or any(ch not in _B64URL for ch in text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


_B64URL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


# -- PKCE ------------------------------------------------------------------------------------


def new_code_verifier() -> str:
    """base64url of 32 random bytes: 43 characters, inside RFC 7636's 43-128 range."""
    import secrets  # at call time: no entropy while modules load

    return b64url(secrets.token_bytes(32))


def code_challenge(verifier: str) -> str:
    """The S256 challenge: base64url(SHA-256(verifier))."""
    return b64url(hashlib.sha256(verifier.encode("ascii")).digest())


def new_state() -> str:
    """A random state (a UUID4 string, like the upstream's `crypto.randomUUID()`)."""
    import uuid  # at call time: no entropy while modules load

    return str(uuid.uuid4())


# -- signed state cookie ---------------------------------------------------------------------


@record(frozen=True)
class OAuthState:
    state: str
    timestamp: int
    verifier: str


class CookieProblem(Enum):
    """Why a state cookie was refused; the value is the callback's `error=` code."""

    MISSING = "missing_cookie"
    INVALID = "invalid_cookie"
    TAMPERED = "tampered_cookie"


class CookieError(ValueError):
    def __init__(self, problem: CookieProblem) -> None:
        super().__init__(problem.value)
        self.problem = problem


def sign(payload: str, key: str) -> str:
    return b64url(hmac.new(key.encode("utf-8"), payload.encode("ascii"), hashlib.sha256).digest())


def seal_state(data: OAuthState, key: str) -> str:
    """The cookie value for `data`: `<payload>.<signature>`."""
    raw = json.dumps(
        {"state": data.state, "timestamp": data.timestamp, "verifier": data.verifier},
        separators=(",", ":"),
    )
    payload = b64url(raw.encode("utf-8"))
    return f"{payload}.{sign(payload, key)}"


def open_state(value: str | None, key: str) -> OAuthState:
    """The state a cookie value carries, or `CookieError` saying why it cannot be trusted.

    The signature is compared with `hmac.compare_digest` (constant time; the upstream's
    string equality leaked timing, reference §12.14). A payload is only decoded after its
    signature checks out.
    """
    if not value:
        raise CookieError(CookieProblem.MISSING)
    payload, dot, signature = value.partition(".")
    if not dot or not payload or not signature or "." in signature:
        raise CookieError(CookieProblem.INVALID)
    expected = sign(payload, key)
    if not hmac.compare_digest(expected.encode("ascii"), signature.encode("ascii", "replace")):
        raise CookieError(CookieProblem.TAMPERED)
    try:
        data = json.loads(b64url_decode(payload))
        state, timestamp, verifier = data["state"], data["timestamp"], data["verifier"]
    except (ValueError, KeyError, TypeError):
        raise CookieError(CookieProblem.INVALID) from None
    if (
        not isinstance(state, str)
        or not isinstance(verifier, str)
        or isinstance(timestamp, bool)
        or not isinstance(timestamp, (int, float))
    ):
        raise CookieError(CookieProblem.INVALID)
    return OAuthState(state=state, timestamp=int(timestamp), verifier=verifier)


def is_expired(data: OAuthState, now_ms: int, max_age_ms: int = OAUTH_MAX_AGE_MS) -> bool:
    return now_ms - data.timestamp > max_age_ms


# -- cookie headers --------------------------------------------------------------------------


def read_cookie(header: str | None, name: str) -> str | None:
    """The value of cookie `name` in a `Cookie` header (exact name match), or None."""
    if not header:
        return None
    for part in header.split(";"):
        key, eq, value = part.strip().partition("=")
        if eq and key == name:
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            return value or None
    return None


def set_cookie(name: str, value: str, *, max_age: int, path: str) -> str:
    """A `Set-Cookie` value with the attributes every cookie of this flow carries."""
    return f"{name}={value}; Max-Age={max_age}; Secure; SameSite=Lax; Path={path}; HttpOnly"


def oauth_cookie(value: str) -> str:
    return set_cookie(OAUTH_COOKIE, value, max_age=OAUTH_COOKIE_MAX_AGE, path="/")


def clear_oauth_cookie() -> str:
    return set_cookie(OAUTH_COOKIE, "", max_age=0, path="/")


def refresh_cookie(token: str) -> str:
    return set_cookie(
        REFRESH_COOKIE, token, max_age=REFRESH_COOKIE_MAX_AGE, path=REFRESH_COOKIE_PATH
    )


def clear_refresh_cookie() -> str:
    return set_cookie(REFRESH_COOKIE, "", max_age=0, path=REFRESH_COOKIE_PATH)
