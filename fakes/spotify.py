"""Fake Spotify: accounts service (`/authorize`, `/api/token`) and Web API (`/v1/...`).

One server answers both hosts: point the accounts base at `base_url` and the API base at
`base_url + "/v1"`. It models a **Development-Mode app after the February 2026 changes**
(existing apps migrated 2026-03-09):

- `GET /v1/me` has no `country`, `email`, `product`, `explicit_content`, `followers`.
- Playlist objects carry `items` (was `tracks`); playlist entries carry `item` (was `track`).
  `legacy_fields=True` also emits the deprecated `tracks`/`track` keys, as Spotify did during
  the deprecation window.
- `GET /v1/playlists/{id}/items` replaces `/tracks`; its `limit` is 1-50 (400 above).
  Every method on the old `/playlists/{id}/tracks` answers **403 Forbidden** (what dev-mode
  apps observe), as do `POST /users/{id}/playlists`, `GET /users/{id}`, batch
  `GET /tracks?ids=`, `/artists?ids=`, `/albums?ids=`, `/artists/{id}/top-tracks`,
  `/recommendations`, `/browse/...`.
- `GET /v1/audio-features?ids=` (up to 100 ids) and `/audio-features/{id}` answer as for an
  app created before 2024-11-27 with extended access: features derived from the track id
  (`audio_features_of`), `null` for an id the catalog does not know. Apps created after that
  date get 403 Forbidden; `python -m fakes fault spotify --path audio_features --status 403`
  (or `inject("audio_features", 403)`) makes the fake answer like one.
- Playlists the user neither owns nor collaborates on: `GET /playlists/{id}` returns the
  metadata without `items`, and `GET /playlists/{id}/items` answers 403.
- Track and album objects have no `popularity`/`available_markets`/`linked_from`;
  `external_ids` is present (its removal was reverted in March 2026). Artists have no
  `followers`/`popularity`.
- `GET /v1/search`: `limit` 0-10 (default 5), 400 `Invalid limit` above.
- Player commands need Premium (403 `PREMIUM_REQUIRED`) and an active device
  (404 `NO_ACTIVE_DEVICE`); `GET /me/player` answers 204 when nothing is active.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from .base import FakeRequest, FakeResponse, FakeServer
from .catalog import (
    CATALOG,
    Catalog,
    Image,
    Playlist,
    PlaylistEntry,
    Track,
    User,
    is_spotify_id,
    spotify_id,
)

DEFAULT_CLIENT_ID = "fake-spotify-client-id"
DEFAULT_CLIENT_SECRET = "fake-spotify-client-secret"
DEV_TOKEN = "fake-spotify-dev-token"
SCOPES = (
    "playlist-modify-public playlist-modify-private user-read-private user-read-playback-state "
    "user-read-currently-playing user-read-recently-played user-top-read playlist-read-private "
    "playlist-read-collaborative user-modify-playback-state streaming"
)
OPEN = "https://open.spotify.com"
AUDIO_FEATURES_MAX_IDS = 100


@dataclass
class TokenInfo:
    user_id: str
    client_id: str
    scope: str
    expires_at: float


@dataclass
class AuthCode:
    client_id: str
    redirect_uri: str
    code_challenge: str | None
    code_challenge_method: str | None
    scope: str


@dataclass
class Device:
    id: str
    name: str
    type: str = "Computer"
    volume_percent: int | None = 65
    supports_volume: bool = True
    is_private_session: bool = False
    is_restricted: bool = False

    def to_json(self, active: bool) -> dict[str, Any]:
        return {
            "id": self.id,
            "is_active": active,
            "is_private_session": self.is_private_session,
            "is_restricted": self.is_restricted,
            "name": self.name,
            "type": self.type,
            "volume_percent": self.volume_percent,
            "supports_volume": self.supports_volume,
        }


@dataclass
class PlayerState:
    devices: list[Device] = field(
        default_factory=lambda: [
            Device(
                "d1a2b3c4e5f60718293a4b5c6d7e8f9012345678", "Living Room Speaker", "Speaker", 40
            ),
            Device("0f9e8d7c6b5a49382716050f1e2d3c4b5a697887", "DJ Web Player", "Computer", 80),
            Device(
                "5c5c5c5c1d1d1d1d2e2e2e2e3f3f3f3f4a4a4a4a",
                "Pixel 9",
                "Smartphone",
                None,
                supports_volume=False,
            ),
        ]
    )
    active_device: str | None = None
    current: str | None = None
    is_playing: bool = False
    position_ms: int = 0
    anchor: float = 0.0
    context_uri: str | None = None
    queue: list[str] = field(default_factory=list)
    history: list[str] = field(default_factory=list)
    shuffle: bool = False
    repeat: str = "off"


class FakeSpotify(FakeServer):
    service = "spotify"

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        catalog: Catalog = CATALOG,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
        token_lifetime: int = 3600,
        rotate_refresh_tokens: str = "alternate",
        legacy_fields: bool = False,
        playlist_items_max_limit: int = 50,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(host, port)
        self.catalog = catalog
        self.clients: dict[str, str] = {client_id: client_secret}
        self.token_lifetime = token_lifetime
        # "always", "never" or "alternate" (every second refresh returns a new refresh token;
        # the old one then stops working).
        self.rotate_refresh_tokens = rotate_refresh_tokens
        self.legacy_fields = legacy_fields
        self.playlist_items_max_limit = playlist_items_max_limit
        self.clock = clock
        self.user = User(catalog.user.id, catalog.user.display_name, catalog.user.premium)
        self.playlists: dict[str, Playlist] = {
            pid: Playlist(
                p.id,
                p.name,
                p.description,
                p.owner_id,
                p.owner_name,
                p.public,
                p.collaborative,
                list(p.entries),
                None if p.images is None else list(p.images),
                p.snapshot_n,
            )
            for pid, p in catalog.playlists.items()
        }
        self.player = PlayerState()
        self.authorize_error: str | None = None  # e.g. "access_denied"
        self._state_lock = threading.RLock()
        self._codes: dict[str, AuthCode] = {}
        self._tokens: dict[str, TokenInfo] = {
            DEV_TOKEN: TokenInfo(self.user.id, client_id, SCOPES, float("inf")),
        }
        self._refresh: dict[str, tuple[str, str]] = {}  # refresh token -> (client_id, scope)
        self._refresh_count = 0
        self._timeline: list[tuple[float, dict[str, Any] | Callable[[FakeSpotify], None]]] = []
        self._timeline_t0 = 0.0
        self._clock_at: float | None = None
        self._register()

    # ------------------------------------------------------------------ helpers
    def error_body(self, status: int, message: str | None) -> FakeResponse:
        default = {
            400: "Bad request",
            401: "Invalid access token",
            403: "Forbidden",
            404: "Resource not found",
            405: "Method not allowed",
            429: "API rate limit exceeded",
            500: "Server error",
            502: "Bad gateway",
            503: "Service unavailable",
        }.get(status, "Error")
        return FakeResponse.json(
            {"error": {"status": status, "message": message or default}}, status=status
        )

    def _player_error(self, status: int, message: str, reason: str) -> FakeResponse:
        return FakeResponse.json(
            {"error": {"status": status, "message": message, "reason": reason}}, status=status
        )

    @property
    def api(self) -> str:
        return self.base_url + "/v1"

    def issue_token(
        self, user_id: str | None = None, scope: str = SCOPES, lifetime: float | None = None
    ) -> str:
        """Mint a valid access token directly (no OAuth round trip)."""
        token = "BQ" + secrets.token_urlsafe(40)
        with self._state_lock:
            self._tokens[token] = TokenInfo(
                user_id or self.user.id,
                next(iter(self.clients)),
                scope,
                time.monotonic() + (self.token_lifetime if lifetime is None else lifetime),
            )
        return token

    def issue_refresh_token(self, client_id: str | None = None, scope: str = SCOPES) -> str:
        token = "AQ" + secrets.token_urlsafe(48)
        with self._state_lock:
            self._refresh[token] = (client_id or next(iter(self.clients)), scope)
        return token

    def issue_code(
        self,
        redirect_uri: str,
        code_challenge: str | None = None,
        client_id: str | None = None,
        scope: str = SCOPES,
    ) -> str:
        """Create an authorization code as `/authorize` would."""
        code = "AQ" + secrets.token_urlsafe(60)
        with self._state_lock:
            self._codes[code] = AuthCode(
                client_id or next(iter(self.clients)),
                redirect_uri,
                code_challenge,
                "S256" if code_challenge else None,
                scope,
            )
        return code

    def expire_tokens(self) -> None:
        """Make every access token (the dev token included) expire now."""
        with self._state_lock:
            for info in self._tokens.values():
                info.expires_at = min(info.expires_at, time.monotonic() - 1)

    def revive_dev_token(self) -> None:
        with self._state_lock:
            self._tokens[DEV_TOKEN].expires_at = float("inf")

    def _auth(self, request: FakeRequest) -> tuple[TokenInfo | None, FakeResponse | None]:
        header = request.headers.get("authorization")
        if not header:
            return None, self.error_body(401, "No token provided")
        if not header.startswith("Bearer "):
            return None, self.error_body(400, "Only valid bearer authentication supported")
        token = header[7:].strip()
        with self._state_lock:
            info = self._tokens.get(token)
        if info is None:
            return None, self.error_body(401, "Invalid access token")
        if time.monotonic() >= info.expires_at:
            return None, self.error_body(401, "The access token expired")
        return info, None

    def _guard(
        self, fn: Callable[[FakeRequest, TokenInfo], FakeResponse]
    ) -> Callable[[FakeRequest], FakeResponse]:
        def wrapped(request: FakeRequest) -> FakeResponse:
            self._run_timeline()
            info, err = self._auth(request)
            if err is not None or info is None:
                return err or self.error_body(401, None)
            with self._state_lock:
                return fn(request, info)

        return wrapped

    @staticmethod
    def _int(request: FakeRequest, name: str, default: int) -> int | None:
        raw = request.q(name)
        if raw is None or raw == "":
            return default
        try:
            return int(raw)
        except ValueError:
            return None

    # ---------------------------------------------------------------- routing
    def _register(self) -> None:
        r, g = self.route, self._guard
        r("GET", "/authorize", self._authorize, "authorize")
        r("POST", "/api/token", self._token, "token")
        r("GET", "/v1/me", g(self._me), "me")
        r("GET", "/v1/me/playlists", g(self._my_playlists), "me/playlists")
        r("POST", "/v1/me/playlists", g(self._create_playlist), "create_playlist")
        r("GET", "/v1/playlists/{pid}", g(self._get_playlist), "playlist")
        r("GET", "/v1/playlists/{pid}/items", g(self._get_items), "playlist_items")
        r("POST", "/v1/playlists/{pid}/items", g(self._add_items), "add_items")
        r("DELETE", "/v1/playlists/{pid}/items", g(self._remove_items), "remove_items")
        for method in ("GET", "POST", "PUT", "DELETE"):
            r(method, "/v1/playlists/{pid}/tracks", g(self._removed), "removed")
        r("POST", "/v1/users/{uid}/playlists", g(self._removed), "removed")
        r("GET", "/v1/users/{uid}/playlists", g(self._removed), "removed")
        r("GET", "/v1/users/{uid}", g(self._removed), "removed")
        r("GET", "/v1/tracks", g(self._removed), "removed")
        r("GET", "/v1/artists", g(self._removed), "removed")
        r("GET", "/v1/albums", g(self._removed), "removed")
        r("GET", "/v1/artists/{aid}/top-tracks", g(self._removed), "removed")
        r("GET", "/v1/artists/{aid}/related-artists", g(self._removed), "removed")
        r("GET", "/v1/recommendations", g(self._removed), "removed")
        r("GET", "/v1/audio-features", g(self._audio_features), "audio_features")
        r("GET", "/v1/audio-features/{tid}", g(self._audio_feature), "audio_features")
        r("GET", "/v1/browse/{rest}", g(self._removed), "removed")
        r("GET", "/v1/tracks/{tid}", g(self._get_track), "track")
        r("GET", "/v1/artists/{aid}", g(self._get_artist), "artist")
        r("GET", "/v1/search", g(self._search), "search")
        r("GET", "/v1/me/top/tracks", g(self._top_tracks), "top_tracks")
        r("GET", "/v1/me/player/recently-played", g(self._recently_played), "recently_played")
        r("GET", "/v1/me/player", g(self._player_get), "player")
        r("PUT", "/v1/me/player", g(self._transfer), "transfer")
        r("GET", "/v1/me/player/devices", g(self._devices), "devices")
        r("GET", "/v1/me/player/queue", g(self._queue_get), "queue")
        r("POST", "/v1/me/player/queue", g(self._queue_add), "queue_add")
        r("GET", "/v1/me/player/currently-playing", g(self._currently_playing), "currently_playing")
        r("PUT", "/v1/me/player/play", g(self._play), "play")
        r("PUT", "/v1/me/player/pause", g(self._pause), "pause")
        r("POST", "/v1/me/player/next", g(self._next), "next")
        r("POST", "/v1/me/player/previous", g(self._previous), "previous")
        r("PUT", "/v1/me/player/seek", g(self._seek), "seek")
        r("PUT", "/v1/me/player/volume", g(self._volume), "volume")
        r("PUT", "/v1/me/player/shuffle", g(self._shuffle), "shuffle")
        r("PUT", "/v1/me/player/repeat", g(self._repeat), "repeat")

    def _removed(self, request: FakeRequest, info: TokenInfo) -> FakeResponse:
        return self.error_body(403, "Forbidden")

    # ------------------------------------------------------------- accounts
    def _authorize(self, request: FakeRequest) -> FakeResponse:
        client_id = request.q("client_id") or ""
        redirect_uri = request.q("redirect_uri") or ""
        if client_id not in self.clients:
            return FakeResponse.text("INVALID_CLIENT: Invalid client", 400)
        if not redirect_uri:
            return FakeResponse.text("INVALID_CLIENT: Invalid redirect URI", 400)
        if request.q("response_type") != "code":
            return FakeResponse.text("unsupported_response_type", 400)
        method = request.q("code_challenge_method")
        challenge = request.q("code_challenge")
        if challenge and method != "S256":
            return FakeResponse.text("code_challenge_method must be S256", 400)
        state = request.q("state")
        params: dict[str, str] = {}
        if self.authorize_error:
            params["error"] = self.authorize_error
        else:
            params["code"] = self.issue_code(
                redirect_uri, challenge, client_id, request.q("scope") or ""
            )
        if state is not None:
            params["state"] = state
        sep = "&" if "?" in redirect_uri else "?"
        return FakeResponse(
            status=302, headers={"Location": redirect_uri + sep + urlencode(params)}
        )

    def _token_error(self, error: str, description: str, status: int = 400) -> FakeResponse:
        return FakeResponse.json({"error": error, "error_description": description}, status=status)

    def _token(self, request: FakeRequest) -> FakeResponse:
        ctype = (request.headers.get("content-type") or "").lower()
        if "application/x-www-form-urlencoded" not in ctype:
            return self._token_error("unsupported_grant_type", "grant_type parameter is missing")
        form = request.form()
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        basic = request.headers.get("authorization") or ""
        if basic.startswith("Basic "):
            try:
                client_id, _, client_secret = base64.b64decode(basic[6:]).decode().partition(":")
            except ValueError:
                return self._token_error("invalid_client", "Invalid client", 400)
        grant = form.get("grant_type")
        if not grant:
            return self._token_error("unsupported_grant_type", "grant_type parameter is missing")
        if not client_id or client_id not in self.clients:
            return self._token_error("invalid_client", "Invalid client")
        if client_secret is not None and client_secret != self.clients[client_id]:
            return self._token_error("invalid_client", "Invalid client secret")
        with self._state_lock:
            if grant == "authorization_code":
                return self._grant_code(form, client_id, client_secret)
            if grant == "refresh_token":
                return self._grant_refresh(form, client_id)
        return self._token_error(
            "unsupported_grant_type",
            f"grant_type must be client_credentials, authorization_code "
            f"or refresh_token (got {grant})",
        )

    def _grant_code(
        self, form: dict[str, str], client_id: str, client_secret: str | None
    ) -> FakeResponse:
        code = self._codes.get(form.get("code") or "")
        if code is None:
            return self._token_error("invalid_grant", "Invalid authorization code")
        if code.client_id != client_id:
            return self._token_error("invalid_grant", "Invalid authorization code")
        if form.get("redirect_uri") != code.redirect_uri:
            return self._token_error("invalid_grant", "Invalid redirect URI")
        verifier = form.get("code_verifier")
        if code.code_challenge is not None:
            if not verifier:
                return self._token_error("invalid_request", "code_verifier required")
            digest = hashlib.sha256(verifier.encode()).digest()
            expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
            if expected != code.code_challenge:
                return self._token_error("invalid_grant", "code_verifier was incorrect")
        elif client_secret is None:
            return self._token_error("invalid_client", "Invalid client secret")
        del self._codes[form["code"]]  # single use
        scope = code.scope or SCOPES
        refresh = self.issue_refresh_token(client_id, scope)
        return FakeResponse.json(
            {
                "access_token": self.issue_token(scope=scope),
                "token_type": "Bearer",
                "expires_in": self.token_lifetime,
                "refresh_token": refresh,
                "scope": scope,
            }
        )

    def _grant_refresh(self, form: dict[str, str], client_id: str) -> FakeResponse:
        old = form.get("refresh_token") or ""
        entry = self._refresh.get(old)
        if entry is None or entry[0] != client_id:
            return self._token_error("invalid_grant", "Invalid refresh token")
        self._refresh_count += 1
        body: dict[str, Any] = {
            "access_token": self.issue_token(scope=entry[1]),
            "token_type": "Bearer",
            "expires_in": self.token_lifetime,
            "scope": entry[1],
        }
        rotate = self.rotate_refresh_tokens == "always" or (
            self.rotate_refresh_tokens == "alternate" and self._refresh_count % 2 == 0
        )
        if rotate:
            del self._refresh[old]
            body["refresh_token"] = self.issue_refresh_token(client_id, entry[1])
        return FakeResponse.json(body)

    # ------------------------------------------------------------ serializers
    def _artist_simple(self, aid: str) -> dict[str, Any]:
        a = self.catalog.artists[aid]
        return {
            "external_urls": {"spotify": f"{OPEN}/artist/{aid}"},
            "href": f"{self.api}/artists/{aid}",
            "id": aid,
            "name": a.name,
            "type": "artist",
            "uri": f"spotify:artist:{aid}",
        }

    def _artist_full(self, aid: str) -> dict[str, Any]:
        a = self.catalog.artists[aid]
        return {
            **self._artist_simple(aid),
            "genres": list(a.genres),
            "images": [i.to_json() for i in _artist_images(aid)],
        }

    def _album(self, alb_id: str) -> dict[str, Any]:
        al = self.catalog.albums[alb_id]
        return {
            "album_type": al.album_type,
            "total_tracks": al.total_tracks,
            "external_urls": {"spotify": f"{OPEN}/album/{alb_id}"},
            "href": f"{self.api}/albums/{alb_id}",
            "id": alb_id,
            "images": [i.to_json() for i in al.images],
            "name": al.name,
            "release_date": al.release_date,
            "release_date_precision": al.release_date_precision,
            "type": "album",
            "uri": f"spotify:album:{alb_id}",
            "artists": [self._artist_simple(a) for a in al.artist_ids],
            "is_playable": True,
        }

    def track_json(self, t: Track) -> dict[str, Any]:
        return {
            "album": self._album(t.album_id),
            "artists": [self._artist_simple(a) for a in t.artist_ids],
            "disc_number": t.disc_number,
            "duration_ms": t.duration_ms,
            "explicit": t.explicit,
            "external_ids": {"isrc": t.isrc} if t.isrc else {},
            "external_urls": {"spotify": f"{OPEN}/track/{t.id}"},
            "href": f"{self.api}/tracks/{t.id}",
            "id": t.id,
            "is_playable": True,
            "name": t.name,
            "preview_url": None,
            "track_number": t.track_number,
            "type": "track",
            "uri": t.uri,
            "is_local": False,
        }

    def _local_json(self, local: dict[str, Any]) -> dict[str, Any]:
        uri = ":".join(
            [
                "spotify:local",
                str(local["artist"]).replace(" ", "+"),
                str(local["album"]).replace(" ", "+"),
                str(local["name"]).replace(" ", "+"),
                str(int(local["duration_ms"]) // 1000),
            ]
        )
        none_urls: dict[str, Any] = {}
        return {
            "album": {
                "album_type": None,
                "artists": [],
                "available_markets": [],
                "external_urls": none_urls,
                "href": None,
                "id": None,
                "images": [],
                "name": local["album"],
                "release_date": None,
                "release_date_precision": None,
                "type": "album",
                "uri": None,
            },
            "artists": [
                {
                    "external_urls": none_urls,
                    "href": None,
                    "id": None,
                    "name": local["artist"],
                    "type": "artist",
                    "uri": None,
                }
            ],
            "disc_number": 0,
            "duration_ms": local["duration_ms"],
            "explicit": False,
            "external_ids": {},
            "external_urls": none_urls,
            "href": None,
            "id": None,
            "is_local": True,
            "name": local["name"],
            "preview_url": None,
            "track_number": 0,
            "type": "track",
            "uri": uri,
        }

    def _entry_json(self, e: PlaylistEntry) -> dict[str, Any]:
        if e.local is not None:
            item: dict[str, Any] | None = self._local_json(e.local)
        elif e.track_id is not None:
            t = self.catalog.track(e.track_id)
            item = self.track_json(t) if t else None
        else:
            item = None
        out: dict[str, Any] = {
            "added_at": e.added_at,
            "added_by": {
                "external_urls": {"spotify": f"{OPEN}/user/{e.added_by}"},
                "href": f"{self.api}/users/{e.added_by}",
                "id": e.added_by,
                "type": "user",
                "uri": f"spotify:user:{e.added_by}",
            },
            "is_local": e.local is not None,
            "primary_color": None,
            "item": item,
            "video_thumbnail": {"url": None},
        }
        if self.legacy_fields:
            out["track"] = item
        return out

    def _owner(self, p: Playlist) -> dict[str, Any]:
        return {
            "display_name": p.owner_name,
            "external_urls": {"spotify": f"{OPEN}/user/{p.owner_id}"},
            "href": f"{self.api}/users/{p.owner_id}",
            "id": p.owner_id,
            "type": "user",
            "uri": f"spotify:user:{p.owner_id}",
        }

    def _can_read_items(self, p: Playlist, user_id: str) -> bool:
        return p.owner_id == user_id or p.collaborative

    def _playlist_simple(self, p: Playlist) -> dict[str, Any]:
        ref = {"href": f"{self.api}/playlists/{p.id}/items", "total": len(p.entries)}
        out: dict[str, Any] = {
            "collaborative": p.collaborative,
            "description": p.description,
            "external_urls": {"spotify": f"{OPEN}/playlist/{p.id}"},
            "href": f"{self.api}/playlists/{p.id}",
            "id": p.id,
            "images": None if p.images is None else [i.to_json() for i in p.images],
            "name": p.name,
            "owner": self._owner(p),
            "primary_color": None,
            "public": p.public,
            "snapshot_id": p.snapshot_id,
            "items": ref,
            "type": "playlist",
            "uri": f"spotify:playlist:{p.id}",
        }
        if self.legacy_fields:
            out["tracks"] = ref
        return out

    def _paging(
        self, href: str, items: list[Any], total: int, limit: int, offset: int, extra: str = ""
    ) -> dict[str, Any]:
        def link(off: int) -> str:
            return f"{href}?offset={off}&limit={limit}{extra}"

        return {
            "href": link(offset),
            "items": items,
            "limit": limit,
            "next": link(offset + limit) if offset + limit < total else None,
            "offset": offset,
            "previous": link(max(0, offset - limit)) if offset > 0 else None,
            "total": total,
        }

    # ------------------------------------------------------------------- user
    def _me(self, request: FakeRequest, info: TokenInfo) -> FakeResponse:
        uid = info.user_id
        return FakeResponse.json(
            {
                "display_name": self.user.display_name,
                "external_urls": {"spotify": f"{OPEN}/user/{uid}"},
                "href": f"{self.api}/users/{uid}",
                "id": uid,
                "images": [],
                "type": "user",
                "uri": f"spotify:user:{uid}",
            }
        )

    def _my_playlists(self, request: FakeRequest, info: TokenInfo) -> FakeResponse:
        limit, offset = self._int(request, "limit", 20), self._int(request, "offset", 0)
        if limit is None or not 1 <= limit <= 50:
            return self.error_body(400, "Invalid limit")
        if offset is None or not 0 <= offset <= 100_000:
            return self.error_body(400, "Invalid offset")
        mine = list(self.playlists.values())[::-1]
        page = [self._playlist_simple(p) for p in mine[offset : offset + limit]]
        return FakeResponse.json(
            self._paging(
                f"{self.api}/users/{info.user_id}/playlists", page, len(mine), limit, offset
            )
        )

    def _find_playlist(self, pid: str) -> tuple[Playlist | None, FakeResponse | None]:
        if not is_spotify_id(pid):
            return None, self.error_body(400, "Invalid base62 id")
        p = self.playlists.get(pid)
        if p is None:
            return None, self.error_body(404, "Resource not found")
        return p, None

    def _get_playlist(self, request: FakeRequest, info: TokenInfo) -> FakeResponse:
        p, err = self._find_playlist(request.params["pid"])
        if p is None:
            return err or self.error_body(404, None)
        body = self._playlist_simple(p)
        body["followers"] = {"href": None, "total": 0}
        if self._can_read_items(p, info.user_id):
            items = [self._entry_json(e) for e in p.entries[:100]]
            body["items"] = self._paging(
                f"{self.api}/playlists/{p.id}/items", items, len(p.entries), 100, 0
            )
        else:
            body.pop("items", None)
        if self.legacy_fields and "items" in body:
            body["tracks"] = body["items"]
        return FakeResponse.json(body)

    def _get_items(self, request: FakeRequest, info: TokenInfo) -> FakeResponse:
        p, err = self._find_playlist(request.params["pid"])
        if p is None:
            return err or self.error_body(404, None)
        if not self._can_read_items(p, info.user_id):
            return self.error_body(403, "Forbidden")
        limit, offset = self._int(request, "limit", 20), self._int(request, "offset", 0)
        if limit is None or not 1 <= limit <= self.playlist_items_max_limit:
            return self.error_body(400, "Invalid limit")
        if offset is None or offset < 0:
            return self.error_body(400, "Invalid offset")
        items = [self._entry_json(e) for e in p.entries[offset : offset + limit]]
        return FakeResponse.json(
            self._paging(f"{self.api}/playlists/{p.id}/items", items, len(p.entries), limit, offset)
        )

    def _create_playlist(self, request: FakeRequest, info: TokenInfo) -> FakeResponse:
        try:
            body = request.json() if request.body else {}
        except ValueError:
            return self.error_body(400, "Error parsing JSON.")
        name = body.get("name") if isinstance(body, dict) else None
        if not isinstance(name, str) or not name:
            return self.error_body(400, "Missing required field: name")
        n = len(self.playlists)
        pid = spotify_id(f"created:{name}:{n}:{time.monotonic_ns()}")
        p = Playlist(
            pid,
            name,
            str(body.get("description") or ""),
            info.user_id,
            self.user.display_name or info.user_id,
            bool(body.get("public", True)),
            bool(body.get("collaborative", False)),
            [],
            [],
        )
        self.playlists[pid] = p
        full = self._playlist_simple(p)
        full["followers"] = {"href": None, "total": 0}
        full["items"] = self._paging(f"{self.api}/playlists/{pid}/items", [], 0, 100, 0)
        return FakeResponse.json(full, status=201)

    _URI = re.compile(r"^spotify:(track|episode):([0-9A-Za-z]{22})$")

    def _add_items(self, request: FakeRequest, info: TokenInfo) -> FakeResponse:
        p, err = self._find_playlist(request.params["pid"])
        if p is None:
            return err or self.error_body(404, None)
        if not (p.owner_id == info.user_id or p.collaborative):
            return self.error_body(403, "Forbidden")
        uris: list[str] = []
        position: int | None = None
        if request.q("uris"):
            uris = (request.q("uris") or "").split(",")
        if request.body:
            try:
                body = request.json()
            except ValueError:
                return self.error_body(400, "Error parsing JSON.")
            uris = list(body.get("uris") or uris)
            position = body.get("position")
        if not uris:
            return self.error_body(400, "No uris provided")
        if len(uris) > 100:
            return self.error_body(400, "You can add a maximum of 100 tracks per request.")
        ids: list[str] = []
        for uri in uris:
            m = self._URI.match(str(uri))
            if not m:
                return self.error_body(400, f"Invalid track uri: {uri}")
            if self.catalog.track(m.group(2)) is None:
                return self.error_body(400, f"Invalid track uri: {uri}")
            ids.append(m.group(2))
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        new = [PlaylistEntry(t, stamp, info.user_id) for t in ids]
        at = len(p.entries) if position is None else max(0, min(int(position), len(p.entries)))
        p.entries[at:at] = new
        p.snapshot_n += 1
        return FakeResponse.json({"snapshot_id": p.snapshot_id}, status=201)

    def _remove_items(self, request: FakeRequest, info: TokenInfo) -> FakeResponse:
        p, err = self._find_playlist(request.params["pid"])
        if p is None:
            return err or self.error_body(404, None)
        if not (p.owner_id == info.user_id or p.collaborative):
            return self.error_body(403, "Forbidden")
        try:
            body = request.json() if request.body else {}
        except ValueError:
            return self.error_body(400, "Error parsing JSON.")
        objs = body.get("items") or body.get("tracks") or []
        if not objs:
            return self.error_body(400, "Missing items")
        if len(objs) > 100:
            return self.error_body(400, "Too many tracks requested")
        remove: set[str] = set()
        for obj in objs:
            m = self._URI.match(str(obj.get("uri") if isinstance(obj, dict) else obj))
            if not m:
                return self.error_body(400, f"Invalid track uri: {obj}")
            remove.add(m.group(2))
        p.entries = [e for e in p.entries if e.track_id not in remove]
        p.snapshot_n += 1
        return FakeResponse.json({"snapshot_id": p.snapshot_id})

    # ------------------------------------------------------------ tracks etc
    def _get_track(self, request: FakeRequest, info: TokenInfo) -> FakeResponse:
        tid = request.params["tid"]
        if not is_spotify_id(tid):
            return self.error_body(400, "invalid id")
        t = self.catalog.track(tid)
        if t is None:
            return self.error_body(404, "Resource not found")
        return FakeResponse.json(self.track_json(t))

    def _audio_features(self, request: FakeRequest, info: TokenInfo) -> FakeResponse:
        ids = [i for i in (request.q("ids") or "").split(",") if i]
        if not ids:
            return self.error_body(400, "invalid request")
        if len(ids) > AUDIO_FEATURES_MAX_IDS:
            return self.error_body(400, "too many ids requested")
        if not all(is_spotify_id(i) for i in ids):
            return self.error_body(400, "invalid id")
        found = [self.catalog.track(i) for i in ids]
        return FakeResponse.json(
            {"audio_features": [audio_features_of(t) if t else None for t in found]}
        )

    def _audio_feature(self, request: FakeRequest, info: TokenInfo) -> FakeResponse:
        tid = request.params["tid"]
        if not is_spotify_id(tid):
            return self.error_body(400, "invalid id")
        t = self.catalog.track(tid)
        if t is None:
            return self.error_body(404, "analysis not found")
        return FakeResponse.json(audio_features_of(t))

    def _get_artist(self, request: FakeRequest, info: TokenInfo) -> FakeResponse:
        aid = request.params["aid"]
        if not is_spotify_id(aid):
            return self.error_body(400, "invalid id")
        if aid not in self.catalog.artists:
            return self.error_body(404, "Resource not found")
        return FakeResponse.json(self._artist_full(aid))

    def _top_tracks(self, request: FakeRequest, info: TokenInfo) -> FakeResponse:
        limit, offset = self._int(request, "limit", 20), self._int(request, "offset", 0)
        if limit is None or not 1 <= limit <= 50 or offset is None or offset < 0:
            return self.error_body(400, "Invalid limit")
        ranked = sorted(self.catalog.tracks, key=lambda t: -t.lastfm_playcount)
        items = [self.track_json(t) for t in ranked[offset : offset + limit]]
        return FakeResponse.json(
            self._paging(f"{self.api}/me/top/tracks", items, len(ranked), limit, offset)
        )

    def _recently_played(self, request: FakeRequest, info: TokenInfo) -> FakeResponse:
        limit = self._int(request, "limit", 20)
        if limit is None or not 1 <= limit <= 50:
            return self.error_body(400, "Invalid limit")
        items = [
            {
                "track": self.track_json(t),
                "played_at": f"2026-03-0{1 + i % 9}T12:00:00Z",
                "context": None,
            }
            for i, t in enumerate(self.catalog.tracks[40 : 40 + limit])
        ]
        return FakeResponse.json(
            {
                "items": items,
                "next": None,
                "cursors": None,
                "limit": limit,
                "href": f"{self.api}/me/player/recently-played",
            }
        )

    # ------------------------------------------------------------------ search
    def _search(self, request: FakeRequest, info: TokenInfo) -> FakeResponse:
        q = request.q("q")
        if not q:
            return self.error_body(400, "No search query")
        types_raw = request.q("type")
        if not types_raw:
            return self.error_body(400, "Missing parameter type")
        types = types_raw.split(",")
        allowed = {"track", "album", "artist", "playlist", "show", "episode", "audiobook"}
        if any(t not in allowed for t in types):
            return self.error_body(400, "Bad search type field")
        limit, offset = self._int(request, "limit", 5), self._int(request, "offset", 0)
        if limit is None or not 0 <= limit <= 10:
            return self.error_body(400, "Invalid limit")
        if offset is None or not 0 <= offset <= 1000:
            return self.error_body(400, "Invalid offset")
        tracks = search_tracks(self.catalog, q)
        out: dict[str, Any] = {}
        extra = "&query=" + q.replace(" ", "+") + "&type=" + types_raw
        href = f"{self.api}/search"
        if "track" in types:
            out["tracks"] = self._paging(
                href,
                [self.track_json(t) for t in tracks[offset : offset + limit]],
                len(tracks),
                limit,
                offset,
                extra,
            )
        if "album" in types:
            albums = list(dict.fromkeys(t.album_id for t in tracks))
            out["albums"] = self._paging(
                href,
                [self._album(a) for a in albums[offset : offset + limit]],
                len(albums),
                limit,
                offset,
                extra,
            )
        if "artist" in types:
            artists = list(dict.fromkeys(a for t in tracks for a in t.artist_ids))
            out["artists"] = self._paging(
                href,
                [self._artist_full(a) for a in artists[offset : offset + limit]],
                len(artists),
                limit,
                offset,
                extra,
            )
        for other in ("playlist", "show", "episode", "audiobook"):
            if other in types:
                out[other + "s"] = self._paging(href, [], 0, limit, offset, extra)
        return FakeResponse.json(out)

    # ------------------------------------------------------------------ player
    def start_playback(
        self,
        track_ids: list[str] | None = None,
        *,
        device: int | str = 0,
        context_playlist: str | None = None,
        position_ms: int = 0,
        queue: list[str] | None = None,
        playing: bool = True,
    ) -> None:
        """Put the player in a known state (used by tests and the offline demo)."""
        with self._state_lock:
            pl = self.player
            dev = pl.devices[device].id if isinstance(device, int) else device
            pl.active_device = dev
            if context_playlist is not None:
                p = self.playlists[context_playlist]
                ids = [e.track_id for e in p.entries if e.track_id]
                pl.context_uri = f"spotify:playlist:{p.id}"
                track_ids = track_ids or ids[:1]
                pl.queue = list(queue if queue is not None else ids[1:21])
            else:
                pl.queue = list(queue or (track_ids or [])[1:])
            ids_list = track_ids or [self.catalog.tracks[0].id]
            pl.current = ids_list[0]
            pl.position_ms = position_ms
            pl.anchor = self._now()
            pl.is_playing = playing

    def stop_playback(self) -> None:
        """Nothing active any more: `GET /me/player` answers 204."""
        with self._state_lock:
            self.player.active_device = None
            self.player.current = None
            self.player.is_playing = False

    def timeline(
        self, steps: list[tuple[float, dict[str, Any] | Callable[[FakeSpotify], None]]]
    ) -> None:
        """Script player changes at offsets (seconds from now, on `clock`).

        Each step is applied when a request arrives at or after its time. Actions (dict keys):
        `play` (track id), `pause`, `resume`, `next`, `device` (device id or index),
        `volume` (percent), `shuffle`, `repeat`, `seek` (ms), `stop` (nothing active → 204),
        `expire_tokens` (every token, the dev token too, answers 401), `premium` (bool).
        A callable receives the fake.
        """
        with self._state_lock:
            self._timeline = sorted(steps, key=lambda s: s[0])
            self._timeline_t0 = self.clock()

    def _now(self) -> float:
        return self._clock_at if self._clock_at is not None else self.clock()

    def _run_timeline(self) -> None:
        with self._state_lock:
            now = self.clock() - self._timeline_t0
            while self._timeline and self._timeline[0][0] <= now:
                at, action = self._timeline.pop(0)
                # Apply the step as of its scheduled time, so progress is exact.
                self._clock_at = self._timeline_t0 + at
                try:
                    if callable(action):
                        action(self)
                    else:
                        self._apply(action)
                finally:
                    self._clock_at = None

    def _apply(self, action: dict[str, Any]) -> None:
        pl = self.player
        self._advance()
        if "play" in action:
            if pl.current:
                pl.history.append(pl.current)
            pl.current = action["play"]
            pl.position_ms, pl.anchor, pl.is_playing = 0, self._now(), True
            pl.active_device = pl.active_device or pl.devices[0].id
        if action.get("next"):
            self._skip(1)
        if action.get("pause"):
            self._set_playing(False)
        if action.get("resume"):
            self._set_playing(True)
        if "device" in action:
            d = action["device"]
            pl.active_device = pl.devices[d].id if isinstance(d, int) else d
        if "volume" in action:
            dev = self._active()
            if dev is not None:
                dev.volume_percent = int(action["volume"])
        if "shuffle" in action:
            pl.shuffle = bool(action["shuffle"])
        if "repeat" in action:
            pl.repeat = str(action["repeat"])
        if "seek" in action:
            pl.position_ms, pl.anchor = int(action["seek"]), self._now()
        if action.get("stop"):
            self.stop_playback()
        if action.get("expire_tokens"):
            self.expire_tokens()
        if "premium" in action:
            self.user.premium = bool(action["premium"])

    def _active(self) -> Device | None:
        for d in self.player.devices:
            if d.id == self.player.active_device:
                return d
        return None

    def _progress(self) -> int:
        pl = self.player
        if pl.is_playing:
            return pl.position_ms + int((self._now() - pl.anchor) * 1000)
        return pl.position_ms

    def _advance(self) -> None:
        """Move to following tracks when the current one has played to its end."""
        pl = self.player
        for _ in range(500):
            t = self.catalog.track(pl.current) if pl.current else None
            if t is None or not pl.is_playing:
                return
            progress = self._progress()
            if progress < t.duration_ms:
                return
            overshoot = progress - t.duration_ms
            if not pl.queue:
                pl.position_ms, pl.is_playing, pl.anchor = t.duration_ms, False, self._now()
                return
            pl.history.append(t.id)
            pl.current = pl.queue.pop(0)
            pl.position_ms, pl.anchor = 0, self._now() - overshoot / 1000

    def _set_playing(self, playing: bool) -> None:
        pl = self.player
        pl.position_ms = self._progress()
        pl.anchor = self._now()
        pl.is_playing = playing

    def _skip(self, direction: int) -> None:
        pl = self.player
        if direction > 0:
            if pl.current:
                pl.history.append(pl.current)
            pl.current = pl.queue.pop(0) if pl.queue else pl.current
        elif pl.history:
            if pl.current:
                pl.queue.insert(0, pl.current)
            pl.current = pl.history.pop()
        pl.position_ms, pl.anchor = 0, self._now()

    def _context(self) -> dict[str, Any] | None:
        uri = self.player.context_uri
        if not uri:
            return None
        pid = uri.rsplit(":", 1)[-1]
        return {
            "type": "playlist",
            "href": f"{self.api}/playlists/{pid}",
            "external_urls": {"spotify": f"{OPEN}/playlist/{pid}"},
            "uri": uri,
        }

    def _playing_json(self, full: bool) -> dict[str, Any] | None:
        self._advance()
        pl = self.player
        dev = self._active()
        if dev is None:
            return None
        t = self.catalog.track(pl.current) if pl.current else None
        body: dict[str, Any] = {
            "timestamp": int(time.time() * 1000),
            "context": self._context(),
            "progress_ms": self._progress() if t else None,
            "is_playing": pl.is_playing,
            "item": self.track_json(t) if t else None,
            "currently_playing_type": "track" if t else "unknown",
            "actions": {"disallows": {"resuming": True} if pl.is_playing else {"pausing": True}},
        }
        if full:
            body = {
                "device": dev.to_json(True),
                "repeat_state": pl.repeat,
                "shuffle_state": pl.shuffle,
                "smart_shuffle": False,
                **body,
            }
        return body

    def _player_get(self, request: FakeRequest, info: TokenInfo) -> FakeResponse:
        body = self._playing_json(True)
        return FakeResponse.empty(204) if body is None else FakeResponse.json(body)

    def _currently_playing(self, request: FakeRequest, info: TokenInfo) -> FakeResponse:
        body = self._playing_json(False)
        if body is None or body["item"] is None:
            return FakeResponse.empty(204)
        return FakeResponse.json(body)

    def _devices(self, request: FakeRequest, info: TokenInfo) -> FakeResponse:
        pl = self.player
        return FakeResponse.json(
            {"devices": [d.to_json(d.id == pl.active_device) for d in pl.devices]}
        )

    def _queue_get(self, request: FakeRequest, info: TokenInfo) -> FakeResponse:
        self._advance()
        pl = self.player
        cur = self.catalog.track(pl.current) if pl.current and pl.active_device else None
        queue = [self.catalog.track(t) for t in pl.queue[:20]]
        return FakeResponse.json(
            {
                "currently_playing": self.track_json(cur) if cur else None,
                "queue": [self.track_json(t) for t in queue if t is not None],
            }
        )

    def _command_check(self, request: FakeRequest, need_device: bool = True) -> FakeResponse | None:
        if not self.user.premium:
            return self._player_error(
                403, "Player command failed: Premium required", "PREMIUM_REQUIRED"
            )
        dev_id = request.q("device_id")
        if dev_id is not None and not any(d.id == dev_id for d in self.player.devices):
            return self._player_error(404, "Device not found", "DEVICE_NOT_FOUND")
        if dev_id is not None:
            self.player.active_device = dev_id
        if need_device and self._active() is None:
            return self._player_error(
                404, "Player command failed: No active device found", "NO_ACTIVE_DEVICE"
            )
        return None

    def _play(self, request: FakeRequest, info: TokenInfo) -> FakeResponse:
        err = self._command_check(request)
        if err:
            return err
        try:
            body = request.json() if request.body else {}
        except ValueError:
            return self.error_body(400, "Malformed json")
        pl = self.player
        self._advance()
        if body.get("uris"):
            ids = []
            for uri in body["uris"]:
                m = self._URI.match(str(uri))
                if not m or self.catalog.track(m.group(2)) is None:
                    return self.error_body(400, "Invalid track uri")
                ids.append(m.group(2))
            start = int((body.get("offset") or {}).get("position", 0))
            pl.context_uri = None
            pl.current, pl.queue = ids[start] if start < len(ids) else ids[0], ids[start + 1 :]
        elif body.get("context_uri"):
            pid = str(body["context_uri"]).rsplit(":", 1)[-1]
            p = self.playlists.get(pid)
            if p is None:
                return self.error_body(404, "Context not found")
            ids = [e.track_id for e in p.entries if e.track_id]
            if not ids:
                return self._player_error(
                    403, "Player command failed: Restriction violated", "UNKNOWN"
                )
            start = int((body.get("offset") or {}).get("position", 0))
            pl.context_uri = f"spotify:playlist:{pid}"
            pl.current, pl.queue = ids[min(start, len(ids) - 1)], ids[start + 1 :]
        elif pl.current is None:
            return self._player_error(
                404, "Player command failed: No active device found", "NO_ACTIVE_DEVICE"
            )
        elif pl.is_playing:
            return self._player_error(403, "Player command failed: Restriction violated", "UNKNOWN")
        else:
            self._set_playing(True)
            return FakeResponse.empty(204)
        pl.position_ms = int(body.get("position_ms") or 0)
        pl.anchor, pl.is_playing = self._now(), True
        return FakeResponse.empty(204)

    def _pause(self, request: FakeRequest, info: TokenInfo) -> FakeResponse:
        err = self._command_check(request)
        if err:
            return err
        self._advance()
        if not self.player.is_playing:
            return self._player_error(403, "Player command failed: Restriction violated", "UNKNOWN")
        self._set_playing(False)
        return FakeResponse.empty(204)

    def _next(self, request: FakeRequest, info: TokenInfo) -> FakeResponse:
        err = self._command_check(request)
        if err:
            return err
        self._advance()
        self._skip(1)
        return FakeResponse.empty(204)

    def _previous(self, request: FakeRequest, info: TokenInfo) -> FakeResponse:
        err = self._command_check(request)
        if err:
            return err
        self._advance()
        self._skip(-1)
        return FakeResponse.empty(204)

    def _seek(self, request: FakeRequest, info: TokenInfo) -> FakeResponse:
        err = self._command_check(request)
        if err:
            return err
        pos = self._int(request, "position_ms", -1)
        if pos is None or pos < 0:
            return self.error_body(400, "Missing or invalid position_ms")
        self.player.position_ms, self.player.anchor = pos, self._now()
        return FakeResponse.empty(204)

    def _volume(self, request: FakeRequest, info: TokenInfo) -> FakeResponse:
        err = self._command_check(request)
        if err:
            return err
        vol = self._int(request, "volume_percent", -1)
        if vol is None or not 0 <= vol <= 100:
            return self.error_body(400, "Invalid volume_percent")
        dev = self._active()
        if dev is None or not dev.supports_volume:
            return self._player_error(
                403,
                "Player command failed: Cannot control device volume",
                "VOLUME_CONTROL_DISALLOW",
            )
        dev.volume_percent = vol
        return FakeResponse.empty(204)

    def _shuffle(self, request: FakeRequest, info: TokenInfo) -> FakeResponse:
        err = self._command_check(request)
        if err:
            return err
        state = request.q("state")
        if state not in ("true", "false"):
            return self.error_body(400, "Invalid state")
        self.player.shuffle = state == "true"
        return FakeResponse.empty(204)

    def _repeat(self, request: FakeRequest, info: TokenInfo) -> FakeResponse:
        err = self._command_check(request)
        if err:
            return err
        state = request.q("state")
        if state not in ("track", "context", "off"):
            return self.error_body(400, "Invalid state")
        self.player.repeat = state or "off"
        return FakeResponse.empty(204)

    def _queue_add(self, request: FakeRequest, info: TokenInfo) -> FakeResponse:
        err = self._command_check(request)
        if err:
            return err
        m = self._URI.match(request.q("uri") or "")
        if not m or self.catalog.track(m.group(2)) is None:
            return self.error_body(400, "Invalid track uri")
        self.player.queue.append(m.group(2))
        return FakeResponse.empty(204)

    def _transfer(self, request: FakeRequest, info: TokenInfo) -> FakeResponse:
        if not self.user.premium:
            return self._player_error(
                403, "Player command failed: Premium required", "PREMIUM_REQUIRED"
            )
        try:
            body = request.json()
        except ValueError:
            return self.error_body(400, "Malformed json")
        ids = body.get("device_ids") if isinstance(body, dict) else None
        if not isinstance(ids, list) or len(ids) != 1:
            return self.error_body(400, "Only one device id may be supplied")
        if not any(d.id == ids[0] for d in self.player.devices):
            return self._player_error(404, "Device not found", "DEVICE_NOT_FOUND")
        self._advance()
        self.player.active_device = ids[0]
        if body.get("play"):
            if self.player.current is None:
                self.player.current = self.catalog.tracks[0].id
            self._set_playing(True)
        return FakeResponse.empty(204)


def _artist_images(aid: str) -> list[Image]:
    h = hashlib.sha256(aid.encode()).hexdigest()
    return [
        Image(f"https://i.scdn.co/image/ab6761610000{s:04x}{h[:24]}", s, s) for s in (640, 320, 160)
    ]


# ----------------------------------------------------------------- search query
_FIELD = re.compile(r'(\w+):"([^"]*)"|(\w+):(\S+)|"([^"]*)"|(\S+)')


def parse_query(q: str) -> list[list[tuple[str, str]]]:
    """Split a Spotify search query into OR-alternatives of (field, value) terms.

    Fields: artist, track, album, year (YYYY or YYYY-YYYY), genre, isrc; free words get
    the field "". Values are compared case-insensitively.
    """
    alternatives: list[list[tuple[str, str]]] = []
    for part in re.split(r"\s+OR\s+", q.strip()):
        terms: list[tuple[str, str]] = []
        for m in _FIELD.finditer(part):
            if m.group(1):
                terms.append((m.group(1).lower(), m.group(2)))
            elif m.group(3):
                terms.append((m.group(3).lower(), m.group(4)))
            elif m.group(5) is not None:
                terms.append(("", m.group(5)))
            elif m.group(6) and m.group(6) not in ("AND", "NOT"):
                terms.append(("", m.group(6)))
        alternatives.append(terms)
    return alternatives


def _fold(s: str) -> str:
    return re.sub(r"[^\w ]+", "", s.casefold()).strip()


def _term_matches(cat: Catalog, t: Track, fld: str, value: str) -> bool:
    v = _fold(value)
    artists = [_fold(cat.artists[a].name) for a in t.artist_ids]
    album = cat.albums[t.album_id]
    if fld == "isrc":
        return t.isrc is not None and t.isrc.upper() == value.upper()
    if fld == "artist":
        return any(v in a for a in artists)
    if fld == "track":
        return v in _fold(t.name)
    if fld == "album":
        return v in _fold(album.name)
    if fld == "genre" or fld == "tag":
        genres = [g for a in t.artist_ids for g in cat.artists[a].genres]
        return any(v in _fold(g) for g in genres)
    if fld == "year":
        year = int(album.release_date[:4])
        lo, _, hi = value.partition("-")
        try:
            return int(lo) <= year <= int(hi or lo)
        except ValueError:
            return False
    hay = " ".join([_fold(t.name), *artists, _fold(album.name)])
    return all(word in hay for word in v.split())


def search_tracks(cat: Catalog, q: str) -> list[Track]:
    found: list[Track] = []
    seen: set[str] = set()
    for terms in parse_query(q):
        if not terms:
            continue
        for t in cat.tracks:
            if t.id not in seen and all(_term_matches(cat, t, f, v) for f, v in terms):
                seen.add(t.id)
                found.append(t)
    return found


def _unit(seed: str) -> float:
    """A number in [0, 1) derived from `seed` (three decimals, as Spotify sends them)."""
    digest = hashlib.sha256(seed.encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") % 1000 / 1000


def audio_features_of(track: Track) -> dict[str, Any]:
    """The audio-features object of a catalog track, derived from its id (deterministic).

    Energy, danceability and valence are spread over 0-1; the tempo is the track's catalog
    BPM (the one Deezer reports) when it has one.
    """
    tid = track.id
    tempo = track.bpm if track.bpm > 0 else 60 + _unit(f"{tid}:tempo") * 120
    return {
        "acousticness": _unit(f"{tid}:acousticness"),
        "analysis_url": f"https://api.spotify.com/v1/audio-analysis/{tid}",
        "danceability": _unit(f"{tid}:danceability"),
        "duration_ms": track.duration_ms,
        "energy": _unit(f"{tid}:energy"),
        "id": tid,
        "instrumentalness": _unit(f"{tid}:instrumentalness"),
        "key": int(_unit(f"{tid}:key") * 12),
        "liveness": _unit(f"{tid}:liveness"),
        "loudness": round(-20 + _unit(f"{tid}:loudness") * 18, 3),
        "mode": int(_unit(f"{tid}:mode") * 2),
        "speechiness": _unit(f"{tid}:speechiness"),
        "tempo": round(tempo, 3),
        "time_signature": 4,
        "track_href": f"https://api.spotify.com/v1/tracks/{tid}",
        "type": "audio_features",
        "uri": track.uri,
        "valence": _unit(f"{tid}:valence"),
    }
