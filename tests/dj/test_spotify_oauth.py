"""Pure OAuth helpers: PKCE, the signed state cookie, cookie headers."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re

import pytest

from dj import spotify_oauth as oauth

KEY = "client-secret-for-tests"


def test_code_challenge_matches_the_rfc_7636_example() -> None:
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert oauth.code_challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_verifier_is_base64url_of_32_random_bytes() -> None:
    first, second = oauth.new_code_verifier(), oauth.new_code_verifier()
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", first)
    assert len(oauth.b64url_decode(first)) == 32
    assert first != second


def test_state_is_a_fresh_uuid_each_time() -> None:
    a, b = oauth.new_state(), oauth.new_state()
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", a)
    assert a != b


def test_sealed_state_round_trips() -> None:
    data = oauth.OAuthState("s-1", 1_700_000_000_000, "v" * 43)
    assert oauth.open_state(oauth.seal_state(data, KEY), KEY) == data


def test_cookie_format_is_the_typescript_workers() -> None:
    value = oauth.seal_state(oauth.OAuthState("st", 123, "ver"), KEY)
    payload, signature = value.split(".")
    assert json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))) == {
        "state": "st",
        "timestamp": 123,
        "verifier": "ver",
    }
    mac = hmac.new(KEY.encode(), payload.encode(), hashlib.sha256).digest()
    assert signature == base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
    assert "=" not in value


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (None, oauth.CookieProblem.MISSING),
        ("", oauth.CookieProblem.MISSING),
        ("no-dot-here", oauth.CookieProblem.INVALID),
        (".sig", oauth.CookieProblem.INVALID),
        ("payload.", oauth.CookieProblem.INVALID),
        ("a.b.c", oauth.CookieProblem.INVALID),
    ],
)
def test_malformed_cookies_are_refused(value: str | None, problem: oauth.CookieProblem) -> None:
    with pytest.raises(oauth.CookieError) as caught:
        oauth.open_state(value, KEY)
    assert caught.value.problem is problem


def test_a_changed_payload_is_tampered() -> None:
    good = oauth.seal_state(oauth.OAuthState("s", 1, "v"), KEY)
    _, signature = good.split(".")
    forged_payload = oauth.b64url(
        json.dumps({"state": "evil", "timestamp": 1, "verifier": "v"}).encode()
    )
    with pytest.raises(oauth.CookieError) as caught:
        oauth.open_state(f"{forged_payload}.{signature}", KEY)
    assert caught.value.problem is oauth.CookieProblem.TAMPERED


def test_a_cookie_signed_with_another_key_is_tampered() -> None:
    other = oauth.seal_state(oauth.OAuthState("s", 1, "v"), "another-key")
    with pytest.raises(oauth.CookieError) as caught:
        oauth.open_state(other, KEY)
    assert caught.value.problem is oauth.CookieProblem.TAMPERED


def test_a_non_ascii_signature_is_tampered_not_a_crash() -> None:
    good = oauth.seal_state(oauth.OAuthState("s", 1, "v"), KEY)
    payload, _ = good.split(".")
    with pytest.raises(oauth.CookieError) as caught:
        oauth.open_state(f"{payload}.sïgnature", KEY)
    assert caught.value.problem is oauth.CookieProblem.TAMPERED


def test_signature_is_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        seen.append((a, b))
        return real(a, b)

    monkeypatch.setattr(oauth.hmac, "compare_digest", spy)
    value = oauth.seal_state(oauth.OAuthState("s", 1, "v"), KEY)
    oauth.open_state(value, KEY)
    assert len(seen) == 1


def test_a_signed_payload_that_is_not_our_json_is_invalid() -> None:
    payload = oauth.b64url(b'{"state": 5}')
    with pytest.raises(oauth.CookieError) as caught:
        oauth.open_state(f"{payload}.{oauth.sign(payload, KEY)}", KEY)
    assert caught.value.problem is oauth.CookieProblem.INVALID


def test_expiry_is_fifteen_minutes() -> None:
    data = oauth.OAuthState("s", 1_000_000, "v")
    assert not oauth.is_expired(data, 1_000_000 + 15 * 60 * 1000)
    assert oauth.is_expired(data, 1_000_000 + 15 * 60 * 1000 + 1)


def test_read_cookie_matches_the_exact_name() -> None:
    header = "xspotify_oauth=wrong; spotify_oauth=right; spotify_refresh=rt"
    assert oauth.read_cookie(header, "spotify_oauth") == "right"
    assert oauth.read_cookie(header, "spotify_refresh") == "rt"
    assert oauth.read_cookie(header, "missing") is None
    assert oauth.read_cookie(None, "spotify_oauth") is None
    assert oauth.read_cookie("spotify_oauth=", "spotify_oauth") is None


def test_cookie_headers_carry_the_contract_attributes() -> None:
    assert oauth.oauth_cookie("v") == (
        "spotify_oauth=v; Max-Age=900; Secure; SameSite=Lax; Path=/; HttpOnly"
    )
    assert oauth.refresh_cookie("rt") == (
        "spotify_refresh=rt; Max-Age=2592000; Secure; SameSite=Lax; Path=/api/spotify; HttpOnly"
    )
    assert oauth.clear_refresh_cookie().startswith("spotify_refresh=; Max-Age=0;")
    assert "Path=/api/spotify" in oauth.clear_refresh_cookie()
    assert oauth.clear_oauth_cookie().startswith("spotify_oauth=; Max-Age=0;")
