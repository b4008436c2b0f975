"""Playlists: the analysis (part 1's pipeline), reading tracks, track details, creating.

Spotify's February-2026 API for development-mode apps has no batch `GET /tracks?ids=`, so
`get_track_details` reads `GET /tracks/{id}` once per id (the spotify lane runs five at a
time); creating a playlist is `POST /me/playlists` and adding its tracks goes in batches of
100 (upstream sent every URI in one call, which Spotify refuses above 100).
"""

import asyncio
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel, Field

from .common import artist_names, spotify_error
from .registry import Tool, ToolContext, ToolError, ToolOutput

# -- analyze_playlist --------------------------------------------------------------------------

NARRATED_PHASES = (
    ("Analyzing", "enrichment_analysis"),
    ("Checking Deezer", "enrichment_deezer"),
    ("Fetching Last.fm", "enrichment_lastfm"),
    ("Analysis complete", "enrichment_complete"),
)


class AnalyzeInput(BaseModel):
    playlist_id: str | None = Field(
        None, description="Spotify playlist id (the selected playlist when omitted)"
    )


def _phase(message: str) -> str | None:
    for prefix, event in NARRATED_PHASES:
        if message.startswith(prefix):
            return event
    return None


async def analyze_playlist_tool(ctx: ToolContext, args: AnalyzeInput) -> ToolOutput:
    from ...analysis import AnalysisDeps, SpotifyReadError, analyze_playlist
    from ..narrator import ProgressThrottler

    playlist_id = args.playlist_id
    if not playlist_id:
        raise ToolError("playlist_id is required")
    if ctx.request is None:
        raise ToolError("the analysis needs a request context")
    throttler = ProgressThrottler()

    async def on_progress(message: str) -> None:
        # Plain progress goes out at once; a narrated line at most every few seconds.
        await ctx.thinking(message)
        phase = _phase(message)
        if phase is not None and throttler.should_send():
            line = await ctx.narrator.message(
                phase, user_request=ctx.user_request, tool_name="analyze_playlist"
            )
            await ctx.thinking(line)

    ctx.check()
    try:
        result = await analyze_playlist(
            playlist_id, ctx.token, AnalysisDeps.from_context(ctx.request), on_progress=on_progress
        )
    except SpotifyReadError as exc:
        raise ToolError(f"Reading the playlist failed: {exc}") from None
    output = result.model_dump(mode="json")
    return ToolOutput(output, f'Analyzed {result.total_tracks} tracks of "{result.playlist_name}"')


# -- get_playlist_tracks -----------------------------------------------------------------------


class PlaylistTracksInput(BaseModel):
    playlist_id: str | None = Field(
        None, description="Spotify playlist id (the selected playlist when omitted)"
    )
    limit: int = Field(20, ge=1, le=50, description="Tracks in this page")
    offset: int = Field(0, ge=0, description="Index of the first track")


async def get_playlist_tracks(ctx: ToolContext, args: PlaylistTracksInput) -> ToolOutput:
    if not args.playlist_id:
        raise ToolError("playlist_id is required")
    await ctx.thinking(f"Fetching tracks {args.offset}-{args.offset + args.limit}...")
    ctx.check()
    entries, result = await ctx.spotify.playlist_entries(args.playlist_id, args.limit, args.offset)
    if not result.ok:
        raise spotify_error(result, "Reading playlist tracks")
    total = result.data.total if result.data is not None else len(entries)
    tracks = []
    for entry in entries:
        track = entry.track
        if track is None or not track.id:
            continue
        data = track.model_dump(mode="json")
        tracks.append(
            {
                "id": track.id,
                "name": track.name,
                "artists": artist_names(data),
                "album": track.album.name if track.album is not None else None,
                "duration_ms": track.duration_ms,
                "popularity": track.popularity,
                "uri": track.uri,
            }
        )
    output = {
        "tracks": tracks,
        "total": total,
        "offset": args.offset,
        "limit": args.limit,
        "has_more": args.offset + args.limit < total,
    }
    return ToolOutput(output, f"Loaded {len(tracks)} tracks")


# -- get_track_details -------------------------------------------------------------------------


class TrackDetailsInput(BaseModel):
    track_ids: list[str] = Field(min_length=1, max_length=50, description="Spotify track ids")


def _details(track: dict[str, Any]) -> dict[str, Any]:
    album = track.get("album") or {}
    return {
        "id": track.get("id"),
        "name": track.get("name"),
        "uri": track.get("uri"),
        "popularity": track.get("popularity"),
        "explicit": track.get("explicit", False),
        "duration_ms": track.get("duration_ms"),
        "preview_url": track.get("preview_url"),
        "external_urls": track.get("external_urls") or {},
        "artists": [{"id": a.get("id"), "name": a.get("name")} for a in track.get("artists") or []],
        "album": {
            "id": album.get("id"),
            "name": album.get("name"),
            "release_date": album.get("release_date"),
            "total_tracks": album.get("total_tracks"),
            "images": [
                {"url": i.get("url"), "height": i.get("height"), "width": i.get("width")}
                for i in album.get("images") or []
            ],
        },
    }


async def get_track_details(ctx: ToolContext, args: TrackDetailsInput) -> ToolOutput:
    ids = list(dict.fromkeys(i.strip() for i in args.track_ids if i.strip()))
    ctx.check()

    async def one(track_id: str) -> dict[str, Any] | None:
        result = await ctx.spotify.call("GET", f"/tracks/{quote(track_id, safe='')}")
        if not result.ok:
            if result.status in (401, 403, 429):
                raise spotify_error(result, "Reading track details")
            return None
        data = result.json()
        return _details(data) if isinstance(data, dict) else None

    found = await asyncio.gather(*(one(i) for i in ids))
    tracks = [t for t in found if t is not None]
    return ToolOutput({"tracks": tracks}, f"Got details for {len(tracks)} tracks")


# -- create_playlist ---------------------------------------------------------------------------


class CreatePlaylistInput(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    description: str | None = Field(None, max_length=300)
    track_uris: list[str] = Field([], description="Spotify track URIs")
    public: bool = False


async def create_playlist(ctx: ToolContext, args: CreatePlaylistInput) -> ToolOutput:
    ctx.check()
    created = await ctx.spotify.create_playlist(args.name, args.description or "", args.public)
    if not created.ok:
        raise spotify_error(created, "Creating the playlist")
    playlist = created.data
    added = 0
    if args.track_uris:
        await ctx.thinking(f"Adding {len(args.track_uris)} tracks...")
        ctx.check()
        outcome = await ctx.spotify.add_items(playlist.id, args.track_uris)
        added = outcome.applied
        if not outcome.ok and outcome.failure is not None:
            raise spotify_error(
                outcome.failure, f"Playlist created, but adding tracks (added {added})"
            )
    output = playlist.model_dump(mode="json", exclude_none=True)
    output["tracks_added"] = added
    return ToolOutput(output, f'Created "{playlist.name}" with {added} tracks')


TOOLS = [
    Tool(
        "analyze_playlist",
        "Analyse a playlist: metadata statistics (durations, release years, explicit share), "
        "Deezer BPM/rank/gain and Last.fm crowd tags, listeners and similar tracks. Returns "
        "aggregates and track ids, not track details.",
        AnalyzeInput,
        analyze_playlist_tool,
        inject_playlist=True,
    ),
    Tool(
        "get_playlist_tracks",
        "A page of a playlist's tracks (id, name, artists, album, duration, uri), with the "
        "total and whether more follow.",
        PlaylistTracksInput,
        get_playlist_tracks,
        inject_playlist=True,
    ),
    Tool(
        "get_track_details",
        "Details of specific tracks by id: album, release date, artwork, links.",
        TrackDetailsInput,
        get_track_details,
    ),
    Tool(
        "create_playlist",
        "Create a playlist in the user's Spotify account and add the given track URIs.",
        CreatePlaylistInput,
        create_playlist,
        show_args=lambda a: {"name": a.name, "tracks": len(a.track_uris)},
    ),
]
