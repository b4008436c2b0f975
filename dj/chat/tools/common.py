"""Helpers the tool modules share: Spotify failures as tool errors, compact track views."""

from __future__ import annotations

from typing import Any

from runtime import outbound

from ...spotify import spotify_details
from .registry import ToolError


def spotify_error(result: outbound.FetchResult[Any], what: str) -> ToolError:
    """`<what> failed (<status>): <Spotify's reason>`, redacted and short."""
    status = f" ({result.status})" if result.status is not None else ""
    return ToolError(f"{what} failed{status}: {spotify_details(result)[:200]}")


def artist_names(track: dict[str, Any]) -> str:
    return ", ".join(a.get("name", "") for a in track.get("artists") or [] if a.get("name"))


def compact_track(track: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A track as the discovery tools return it (upstream's shape)."""
    out: dict[str, Any] = {
        "id": track.get("id"),
        "name": track.get("name", ""),
        "artists": artist_names(track),
        "popularity": track.get("popularity"),
        "uri": track.get("uri"),
    }
    out.update(extra)
    return out
