"""What is playing, what is queued, and control of the user's Spotify player."""

from typing import Any, Literal

from pydantic import BaseModel, Field

from .common import artist_names, spotify_error
from .registry import Tool, ToolContext, ToolOutput


class QueueInput(BaseModel):
    uri: str = Field(min_length=1, description="Spotify track URI, e.g. spotify:track:...")


async def add_to_queue(ctx: ToolContext, args: QueueInput) -> ToolOutput:
    ctx.check()
    result = await ctx.spotify.player("POST", "/queue", params={"uri": args.uri}, idempotent=False)
    if not result.ok:
        raise spotify_error(result, "Adding to the queue")
    output = {"success": True, "message": "Added to queue", "uri": args.uri}
    return ToolOutput(output, "Track added to queue")


class NoInput(BaseModel):
    pass


def _now_playing(data: dict[str, Any]) -> dict[str, Any]:
    item = data.get("item") or {}
    return {
        "track_name": item.get("name"),
        "artists": artist_names(item),
        "album": (item.get("album") or {}).get("name"),
        "uri": item.get("uri"),
        "duration_ms": item.get("duration_ms"),
        "progress_ms": data.get("progress_ms"),
        "is_playing": bool(data.get("is_playing")),
    }


async def get_now_playing(ctx: ToolContext, args: NoInput) -> ToolOutput:
    ctx.check()
    result = await ctx.spotify.player("GET", "/currently-playing")
    if not result.ok:
        raise spotify_error(result, "Reading playback")
    if result.status == 204 or not result.body.strip():
        return ToolOutput(
            {"is_playing": False, "message": "Nothing currently playing"}, "Nothing playing"
        )
    data = result.json()
    if not isinstance(data, dict) or not data.get("item"):
        return ToolOutput(
            {"is_playing": False, "message": "Nothing currently playing"}, "Nothing playing"
        )
    return ToolOutput(_now_playing(data), "Got current playback")


async def get_queue(ctx: ToolContext, args: NoInput) -> ToolOutput:
    ctx.check()
    result = await ctx.spotify.player("GET", "/queue")
    if not result.ok:
        raise spotify_error(result, "Reading the queue")
    data = result.json() if result.body.strip() else {}
    current = data.get("currently_playing") if isinstance(data, dict) else None
    queue = data.get("queue") if isinstance(data, dict) else None
    queue = queue if isinstance(queue, list) else []
    output = {
        "currently_playing": (
            {
                "name": current.get("name"),
                "artists": artist_names(current),
                "uri": current.get("uri"),
            }
            if isinstance(current, dict)
            else None
        ),
        "queue": [
            {"name": t.get("name"), "artists": artist_names(t), "uri": t.get("uri")}
            for t in queue[:10]
            if isinstance(t, dict)
        ],
        "queue_length": len(queue),
    }
    return ToolOutput(output, f"Queue has {len(queue)} tracks")


class PlaybackInput(BaseModel):
    action: Literal["play", "pause", "next", "previous"]


_COMMANDS = {"play": "PUT", "pause": "PUT", "next": "POST", "previous": "POST"}


async def control_playback(ctx: ToolContext, args: PlaybackInput) -> ToolOutput:
    ctx.check()
    method = _COMMANDS[args.action]
    result = await ctx.spotify.player(
        method, f"/{args.action}", idempotent=args.action in ("play", "pause")
    )
    if not result.ok:
        raise spotify_error(result, f"Playback {args.action}")
    output = {"success": True, "action": args.action, "message": f"Playback: {args.action}"}
    return ToolOutput(output, f"Playback {args.action} executed")


TOOLS = [
    Tool(
        "add_to_queue",
        "Add a track to the user's Spotify queue (it plays after the current track and "
        "anything already queued).",
        QueueInput,
        add_to_queue,
    ),
    Tool(
        "get_now_playing",
        "What the user's Spotify is playing now: track, artists, album, progress.",
        NoInput,
        get_now_playing,
    ),
    Tool(
        "get_queue",
        "The user's Spotify queue: the current track and the next ten.",
        NoInput,
        get_queue,
    ),
    Tool(
        "control_playback",
        "Play, pause, skip to the next track or go back to the previous one.",
        PlaybackInput,
        control_playback,
    ),
]
