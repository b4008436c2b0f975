"""ServiceLogger: redaction wherever secrets hide, child loggers, request ids from context."""

from __future__ import annotations

import json
from typing import Any

from runtime.context import Context, Env, bind, unbind
from runtime.http import Request
from runtime.logging import REDACTED, ServiceLogger, is_secret_key, redact, redact_text
from runtime.platform.local import LocalPlatform


def capture(service: str = "svc", **kwargs: Any) -> tuple[ServiceLogger, list[dict[str, Any]]]:
    lines: list[str] = []
    records: list[dict[str, Any]] = []

    def sink(line: str) -> None:
        lines.append(line)
        records.append(json.loads(line))

    return ServiceLogger(service, sink=sink, clock=lambda: 0.0, **kwargs), records


def test_authorization_header_values_are_redacted_in_fields() -> None:
    log, records = capture()
    log.info("call", headers={"Authorization": "Bearer abc.def", "Accept": "application/json"})
    headers = records[0]["fields"]["headers"]
    assert headers == {"Authorization": REDACTED, "Accept": "application/json"}


def test_bearer_tokens_in_free_text_are_redacted() -> None:
    assert redact_text("sent Bearer eyJhbGciOi.x-y_z to api") == f"sent Bearer {REDACTED} to api"
    log, records = capture()
    log.warn("auth failed for bearer SECRET123")
    assert "SECRET123" not in records[0]["msg"]


def test_basic_credentials_and_header_lines_in_text_are_redacted() -> None:
    text = "POST /api/token\nAuthorization: Basic Y2xpZW50OnNlY3JldA==\nCookie: a=1; b=2\nok"
    out = redact_text(text)
    assert "Y2xpZW50OnNlY3JldA" not in out and "a=1" not in out
    assert out.endswith("\nok")
    assert redact_text("basic Y2xpZW50OnNlY3JldA==") == f"basic {REDACTED}"


def test_api_key_query_params_are_redacted_in_urls() -> None:
    url = "https://ws.audioscrobbler.com/2.0/?method=track.getInfo&api_key=abc123&format=json"
    assert redact_text(url) == (
        f"https://ws.audioscrobbler.com/2.0/?method=track.getInfo&api_key={REDACTED}&format=json"
    )


def test_cookies_are_redacted_as_fields_header_pairs_and_in_text() -> None:
    assert redact({"cookie": "spotify_refresh=xyz"}) == {"cookie": REDACTED}
    assert redact({"Set-Cookie": "sid=1"}) == {"Set-Cookie": REDACTED}
    assert redact([("Cookie", "sid=1"), ("Accept", "*/*")]) == [
        ["Cookie", REDACTED],
        ["Accept", "*/*"],
    ]
    assert "xyz" not in redact_text("spotify_refresh=xyz; Path=/api/spotify")


def test_secrets_in_nested_dicts_and_lists_are_redacted() -> None:
    data = {
        "request": {"headers": {"x-api-key": "k1"}, "body": {"client_secret": "s1"}},
        "items": [{"refresh_token": "r1"}, "Bearer t1"],
    }
    text = json.dumps(redact(data))
    for secret in ("k1", "s1", "r1", "t1"):
        assert secret not in text


def test_json_text_with_tokens_is_redacted() -> None:
    body = '{"access_token":"AT1","token_type":"Bearer","refresh_token": "RT1","expires_in":3600}'
    out = redact_text(body)
    assert "AT1" not in out and "RT1" not in out
    assert '"expires_in":3600' in out


def test_anthropic_keys_are_redacted_anywhere() -> None:
    assert "sk-ant-api03-abc" not in redact_text("key was sk-ant-api03-abc_DEF")


def test_token_counts_are_not_mistaken_for_secrets() -> None:
    usage = {"max_tokens": 1024, "output_tokens": 17, "tokens": 3.5, "refreshed": True}
    assert redact(usage) == usage
    assert redact({"token": "abc"}) == {"token": REDACTED}


def test_secret_key_names_are_recognised() -> None:
    assert is_secret_key("Authorization") and is_secret_key("api_key")
    assert not is_secret_key("artist") and not is_secret_key("method")


def test_child_loggers_extend_the_name_and_share_sink_level_and_listeners() -> None:
    log, records = capture("Stream", level="info")
    heard: list[dict[str, Any]] = []
    log.listeners.append(heard.append)
    child = log.child("lastfm").child("artist")
    child.debug("hidden")
    child.info("shown")
    assert [r["service"] for r in records] == ["Stream:lastfm:artist"]
    assert [r["msg"] for r in heard] == ["hidden", "shown"]


def test_request_id_comes_from_the_request_context() -> None:
    log, records = capture()
    ctx = Context(Request("GET", "https://dj.example/"), Env({}), LocalPlatform(), log)
    ctx.request_id = "abcd1234"
    token = bind(ctx)
    try:
        log.child("kv").info("inside")
    finally:
        unbind(token)
    log.info("outside")
    assert records[0]["requestId"] == "abcd1234"
    assert "requestId" not in records[1]


def test_an_explicitly_bound_request_id_wins_over_the_context() -> None:
    log, records = capture(request_id="fixed")
    ctx = Context(Request("GET", "https://dj.example/"), Env({}), LocalPlatform(), log)
    ctx.request_id = "other"
    token = bind(ctx)
    try:
        log.info("x")
    finally:
        unbind(token)
    assert records[0]["requestId"] == "fixed"


def test_error_logs_type_and_message_with_secrets_redacted() -> None:
    log, records = capture()
    try:
        raise RuntimeError("token exchange failed: Bearer leaked123")
    except RuntimeError as exc:
        log.error("spotify auth", exc, attempt=1)
    fields = records[0]["fields"]
    assert fields["error"]["type"] == "RuntimeError"
    assert "leaked123" not in json.dumps(records[0])
    assert fields["attempt"] == 1


def test_a_failing_listener_does_not_break_logging() -> None:
    log, records = capture()

    def broken(record: dict[str, Any]) -> None:
        raise ValueError("listener bug")

    log.listeners.append(broken)
    log.info("still logged")
    assert records[0]["msg"] == "still logged"
