"""The OAuth routes in process (CPython): configuration cases the shared e2e host cannot vary."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

from dj import spotify_oauth as oauth
from routes import spotify_auth
from runtime import App
from runtime.http import Headers
from runtime.outbound import OutboundRequest, TransportResponse
from runtime.testing import Client, MemoryKV

SECRET = "unit-test-secret"
ACCOUNTS = "https://accounts.test"


class TokenEndpoint:
    """Answers every request like Spotify's token endpoint, and records them."""

    def __init__(self) -> None:
        self.requests: list[OutboundRequest] = []

    async def send(self, request: OutboundRequest) -> TransportResponse:
        self.requests.append(request)
        body = {
            "access_token": "AT",
            "expires_in": 3600,
            "token_type": "Bearer",
            "scope": "x",
            "refresh_token": "RT",
        }
        return TransportResponse(
            200, Headers({"Content-Type": "application/json"}), json.dumps(body).encode()
        )

    def form(self) -> dict[str, str]:
        assert self.requests[-1].body is not None
        return {k: v[0] for k, v in parse_qs(self.requests[-1].body.decode()).items()}


def make_client(env: dict[str, Any], transport: Any = None) -> Client:
    app = App(title="t", version="1")
    app.route("/api/spotify", spotify_auth.router)
    client = Client(app, env=env, origin="https://dj.example")
    client.platform.transport = transport
    return client


def base_env(**extra: Any) -> dict[str, Any]:
    return {
        "SPOTIFY_CLIENT_ID": "cid",
        "SPOTIFY_CLIENT_SECRET": SECRET,
        "SPOTIFY_ACCOUNTS_BASE": ACCOUNTS,
        "FRONTEND_URL": "https://app.example",
        **extra,
    }


def location_query(headers: Headers) -> dict[str, str]:
    location = headers.get("location")
    assert location is not None
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


async def test_auth_url_without_credentials_is_a_500_naming_no_secret() -> None:
    client = make_client({"SPOTIFY_CLIENT_ID": "cid"})
    r = await client.get("/api/spotify/auth-url")
    assert r.status == 500
    assert r.json() == {"error": "Spotify login is not configured"}
    assert "set-cookie" not in r.headers


async def test_callback_that_raises_is_callback_failed() -> None:
    client = make_client({"SPOTIFY_CLIENT_ID": "cid", "FRONTEND_URL": "https://app.example"})
    r = await client.get("/api/spotify/callback?code=c&state=s")
    assert r.status == 302
    assert location_query(r.headers) == {"error": "callback_failed"}


async def test_redirect_uri_var_is_used_for_authorize_and_exchange() -> None:
    endpoint = TokenEndpoint()
    env = base_env(SPOTIFY_REDIRECT_URI="https://tunnel.example/api/spotify/callback")
    client = make_client(env, endpoint)
    r = await client.get("/api/spotify/auth-url")
    params = {k: v[0] for k, v in parse_qs(urlsplit(r.json()["url"]).query).items()}
    assert params["redirect_uri"] == "https://tunnel.example/api/spotify/callback"
    assert r.json()["url"].startswith(f"{ACCOUNTS}/authorize?")

    cookie = r.headers.get("set-cookie").split(";")[0].split("=", 1)[1]
    back = await client.get(
        f"/api/spotify/callback?code=c&state={params['state']}",
        headers={"Cookie": f"spotify_oauth={cookie}"},
    )
    assert location_query(back.headers)["auth_success"] == "true"
    assert endpoint.form()["redirect_uri"] == "https://tunnel.example/api/spotify/callback"
    assert endpoint.requests[-1].url == f"{ACCOUNTS}/api/token"


async def test_redirect_uri_defaults_to_the_request_origin() -> None:
    r = await make_client(base_env()).get("/api/spotify/auth-url")
    params = parse_qs(urlsplit(r.json()["url"]).query)
    assert params["redirect_uri"] == ["https://dj.example/api/spotify/callback"]


async def test_frontend_url_list_redirects_to_its_first_origin() -> None:
    client = make_client(base_env(FRONTEND_URL="https://one.example, https://two.example"))
    r = await client.get("/api/spotify/callback?error=access_denied")
    assert r.headers.get("location") == "https://one.example/?error=access_denied"


async def _login(client: Client) -> tuple[str, str]:
    state = "state-1"
    cookie = oauth.seal_state(oauth.OAuthState(state, int(time.time() * 1000), "v" * 43), SECRET)
    r = await client.get(
        f"/api/spotify/callback?code=c&state={state}",
        headers={"Cookie": f"spotify_oauth={cookie}"},
    )
    return location_query(r.headers).get("error", ""), cookie


async def test_used_states_are_kept_in_sessions_for_four_hours() -> None:
    kv = MemoryKV()
    client = make_client(base_env(SESSIONS=kv), TokenEndpoint())
    error, _ = await _login(client)
    assert error == ""
    assert kv.ttls == {"oauth_state:state-1": 4 * 3600}
    again, _ = await _login(client)
    assert again == "expired_auth"


async def test_without_sessions_the_login_still_completes() -> None:
    endpoint = TokenEndpoint()
    error, _ = await _login(make_client(base_env(), endpoint))
    assert error == ""
    assert len(endpoint.requests) == 1


async def test_a_failing_kv_does_not_block_the_login() -> None:
    class BrokenKV(MemoryKV):
        async def get(self, key: str, type: Any = None) -> Any:
            raise RuntimeError("KV unavailable")

    error, _ = await _login(make_client(base_env(SESSIONS=BrokenKV()), TokenEndpoint()))
    assert error == ""
