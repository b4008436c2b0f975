"""Tolerant Spotify models, the February-2026 shape mappings, and failure → status mapping."""

from __future__ import annotations

from typing import Any

from dj.spotify import failure_status, token_error_description, upstream_error
from dj.spotify_models import (
    PlaylistEntriesPage,
    PlaylistFull,
    PlaylistPage,
    SearchResult,
    SpotifyUser,
)
from runtime.http import Headers
from runtime.outbound import FetchResult


def _entry(item: Any, **extra: Any) -> dict[str, Any]:
    return {"added_at": "2026-03-01T00:00:00Z", "is_local": False, "item": item, **extra}


def test_playlist_entry_item_is_served_as_track_without_the_duplicate() -> None:
    page = PlaylistEntriesPage.model_validate(
        {"items": [_entry({"id": "t1", "name": "Song", "type": "track"})], "total": 1}
    )
    dumped = page.model_dump(mode="json")
    assert dumped["items"][0]["track"]["id"] == "t1"
    assert "item" not in dumped["items"][0]


def test_legacy_track_key_wins_when_both_are_present() -> None:
    page = PlaylistEntriesPage.model_validate(
        {"items": [_entry({"id": "new"}, track={"id": "legacy"})]}
    )
    assert page.items[0].track is not None
    assert page.items[0].track.id == "legacy"


def test_local_files_episodes_and_removed_entries_do_not_fail_the_page() -> None:
    local = {
        "id": None,
        "uri": "spotify:local:a:b:c:180",
        "is_local": True,
        "name": "Mine",
        "album": {"id": None, "images": [], "name": "x", "album_type": None},
        "artists": [{"id": None, "name": "Me"}],
        "duration_ms": 180000,
    }
    episode = {"id": "e1", "type": "episode", "name": "Pod", "images": None, "show": {"id": "s"}}
    page = PlaylistEntriesPage.model_validate(
        {"items": [_entry(local, is_local=True), _entry(episode), _entry(None)]}
    )
    kinds = [(e.track.type if e.track else None) for e in page.items]
    assert kinds == ["track", "episode", None]
    assert page.items[0].track is not None and page.items[0].track.is_local
    assert page.items[1].track is not None and page.items[1].track.popularity is None


def test_an_unreadable_entry_is_left_out_not_fatal() -> None:
    page = PlaylistEntriesPage.model_validate(
        {"items": [_entry({"id": "ok"}), "garbage", _entry({"duration_ms": "long"})], "total": 3}
    )
    assert [e.track.id for e in page.items if e.track] == ["ok"]
    assert page.total == 3


def test_playlist_items_ref_is_served_as_tracks_and_null_images_as_empty() -> None:
    page = PlaylistPage.model_validate(
        {
            "items": [
                {"id": "p1", "name": "A", "images": None, "items": {"href": "h", "total": 7}},
                {
                    "id": "p2",
                    "name": "B",
                    "images": [{"url": "u", "height": None, "width": None}],
                    "tracks": {"href": "h2", "total": 2},
                },
            ],
            "total": 2,
            "limit": 20,
            "offset": 0,
        }
    )
    dumped = page.model_dump(mode="json")
    first, second = dumped["items"]
    assert first["tracks"] == {"href": "h", "total": 7}
    assert "items" not in first
    assert first["images"] == []
    assert second["tracks"]["total"] == 2
    assert second["images"][0]["url"] == "u"


def test_unknown_fields_are_passed_on() -> None:
    page = PlaylistPage.model_validate({"items": [{"id": "p", "primary_color": "#fff"}]})
    assert page.model_dump()["items"][0]["primary_color"] == "#fff"


def test_created_playlist_items_paging_becomes_tracks_paging() -> None:
    full = PlaylistFull.model_validate(
        {
            "id": "p",
            "name": "New",
            "images": None,
            "followers": {"href": None, "total": 0},
            "items": {
                "href": "h",
                "items": [],
                "limit": 100,
                "offset": 0,
                "total": 0,
                "next": None,
                "previous": None,
            },
        }
    )
    dumped = full.model_dump(mode="json")
    assert dumped["tracks"]["items"] == []
    assert dumped["tracks"]["limit"] == 100
    assert "items" not in dumped


def test_user_without_the_removed_fields_is_read() -> None:
    user = SpotifyUser.model_validate({"id": "u", "display_name": None, "type": "user"})
    assert (user.country, user.email, user.product) == (None, None, None)


def test_search_result_leaves_out_kinds_spotify_did_not_send() -> None:
    result = SearchResult.model_validate({"tracks": {"items": [{"id": "t"}], "total": 1}})
    out = result.to_client()
    assert set(out) == {"tracks"}
    assert out["tracks"]["items"][0]["id"] == "t"


def _failed(
    status: int | None,
    error: str = "http_status",
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> FetchResult[Any]:
    return FetchResult(
        service="spotify",
        method="GET",
        safe_url="u",
        ok=False,
        status=status,
        error=error,
        body=body,
        headers=Headers(headers or {}),
    )


def test_failure_statuses_keep_auth_and_limits_and_hide_spotify_outages() -> None:
    assert failure_status(_failed(401)) == 401
    assert failure_status(_failed(403)) == 403
    assert failure_status(_failed(404)) == 404
    assert failure_status(_failed(429)) == 429
    assert failure_status(_failed(400)) == 400
    assert failure_status(_failed(503)) == 502
    assert failure_status(_failed(None, "timeout")) == 504
    assert failure_status(_failed(None, "network")) == 502
    assert failure_status(_failed(None, "budget_exhausted")) == 503
    assert failure_status(_failed(200, "invalid_response")) == 502
    assert failure_status(_failed(200, "invalid_json")) == 502


def test_passthrough_keeps_spotifys_own_refusals_but_an_outage_is_502() -> None:
    assert failure_status(_failed(405), passthrough=True) == 405
    assert failure_status(_failed(503), passthrough=True) == 502
    assert failure_status(_failed(500), passthrough=True) == 502


def test_upstream_error_carries_retry_after_and_details() -> None:
    body = b'{"error":{"status":429,"message":"API rate limit exceeded"}}'
    err = upstream_error(
        _failed(429, body=body, headers={"Retry-After": "30"}), "Nope", details=True
    )
    assert err.status == 429
    assert err.headers == {"Retry-After": "30"}
    assert err.extra["details"] == body.decode()


def test_route_messages_replace_the_default_per_status() -> None:
    err = upstream_error(_failed(404), "Failed", messages={404: "Playlist not found"})
    assert (err.status, err.message) == (404, "Playlist not found")


def test_details_never_carry_a_bearer_token() -> None:
    err = upstream_error(_failed(400, body=b"bad header: Bearer BQabc123secret"), "x", details=True)
    assert "BQabc123secret" not in err.extra["details"]


def test_token_error_description_is_spotifys_description_only() -> None:
    body = b'{"error":"invalid_grant","error_description":"Invalid authorization code"}'
    assert token_error_description(_failed(400, body=body)) == "Invalid authorization code"
    assert token_error_description(_failed(400, body=b"not json")) == "Spotify answered 400"
