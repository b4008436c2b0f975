"""The chat's tools, one small module per area; `registry()` offers them all."""

from __future__ import annotations

from . import discovery, playback, playlist, search
from .registry import Tool, ToolContext, ToolError, ToolOutput, ToolRegistry

ORDER = (
    "search_spotify_tracks",
    "analyze_playlist",
    "get_playlist_tracks",
    "get_track_details",
    "create_playlist",
    "recommend_from_similar",
    "recommend_from_tags",
    "extract_playlist_vibe",
    "plan_discovery_strategy",
    "curate_recommendations",
    "add_to_queue",
    "get_now_playing",
    "get_queue",
    "control_playback",
)


def all_tools() -> list[Tool]:
    """The 14 tools, in upstream's order (its dead `get_recommendations` is gone)."""
    by_name = {
        t.name: t for t in (*search.TOOLS, *playlist.TOOLS, *discovery.TOOLS, *playback.TOOLS)
    }
    return [by_name[name] for name in ORDER]


def registry() -> ToolRegistry:
    return ToolRegistry(all_tools())


__all__ = [
    "Tool",
    "ToolContext",
    "ToolError",
    "ToolOutput",
    "ToolRegistry",
    "all_tools",
    "registry",
]
