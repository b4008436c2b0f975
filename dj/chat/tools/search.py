"""Finding tracks on Spotify: a plain search, "Artist - Track" lookups, tag searches.

Spotify's search returns at most 10 tracks per call for development-mode apps (2026), so a
`limit` above 10 is accepted (the schema keeps upstream's 1-50) and served with 10.
"""

from typing import Any

from pydantic import BaseModel, Field

from ...spotify import SEARCH_LIMIT
from .common import compact_track, spotify_error
from .registry import Tool, ToolContext, ToolOutput

GENRE_WORDS = (
    "rock",
    "pop",
    "jazz",
    "classical",
    "electronic",
    "hip-hop",
    "indie",
    "disco",
    "funk",
    "soul",
)


class SearchTracksInput(BaseModel):
    query: str = Field(min_length=1, max_length=500, description="Spotify search query")
    limit: int = Field(10, ge=1, le=50, description="Tracks wanted (Spotify returns at most 10)")


async def _search(ctx: ToolContext, query: str, limit: int, what: str) -> list[dict[str, Any]]:
    ctx.check()
    result = await ctx.spotify.search(query, "track", min(limit, SEARCH_LIMIT))
    if not result.ok:
        raise spotify_error(result, what)
    page = result.data.tracks
    if page is None:
        return []
    return [t.model_dump(mode="json", exclude_none=True) for t in page.items if t.id]


async def search_spotify_tracks(ctx: ToolContext, args: SearchTracksInput) -> ToolOutput:
    tracks = await _search(ctx, args.query, args.limit, "Spotify search")
    return ToolOutput(tracks, f"Found {len(tracks)} tracks")


class SimilarInput(BaseModel):
    similar_tracks: list[str] = Field(
        min_length=1, max_length=20, description='Tracks as "Artist - Track" strings'
    )
    limit_per_track: int = Field(1, ge=1, le=5, description="Spotify matches kept per string")


def _similar_query(entry: str) -> str:
    artist, sep, title = entry.partition(" - ")
    if not sep or not artist.strip() or not title.strip():
        return entry.strip()
    return f'artist:"{artist.strip()}" track:"{title.strip()}"'


async def recommend_from_similar(ctx: ToolContext, args: SimilarInput) -> ToolOutput:
    found: list[dict[str, Any]] = []
    answered = 0
    seen: set[str] = set()
    for index, entry in enumerate(args.similar_tracks):
        if index and index % 5 == 0:
            await ctx.thinking(f"Looked up {index}/{len(args.similar_tracks)} similar tracks...")
        ctx.check()
        result = await ctx.spotify.search(_similar_query(entry), "track", args.limit_per_track)
        if not result.ok or result.data.tracks is None:
            continue
        answered += 1
        for track in result.data.tracks.items:
            if not track.id or track.id in seen:
                continue
            seen.add(track.id)
            data = track.model_dump(mode="json", exclude_none=True)
            found.append(compact_track(data, source="lastfm_similar", original_query=entry))
    output = {
        "tracks": found,
        "queries_total": len(args.similar_tracks),
        "queries_successful": answered,
        "total_found": len(found),
    }
    return ToolOutput(output, f"Found {len(found)} tracks from {answered} lookups")


class TagsInput(BaseModel):
    tags: list[str] = Field(min_length=1, max_length=5, description="Genre or mood tags")
    limit: int = Field(20, ge=1, le=50, description="Tracks wanted (Spotify returns at most 10)")


def tag_query(tags: list[str]) -> str:
    """Genre-like tags become `genre:"tag"` alternatives; the others are plain keywords."""
    genres = [t for t in tags if any(word in t.lower() for word in GENRE_WORDS)]
    words = [t for t in tags if t not in genres]
    parts = []
    if genres:
        parts.append(" OR ".join(f'genre:"{g}"' for g in genres))
    parts.extend(words)
    return " ".join(parts)


async def recommend_from_tags(ctx: ToolContext, args: TagsInput) -> ToolOutput:
    query = tag_query(args.tags)
    tracks = await _search(ctx, query, args.limit, "Tag search")
    lowered = [t.lower() for t in args.tags]
    out = [
        compact_track(
            t,
            album=(t.get("album") or {}).get("name"),
            matched_tags=lowered,
            source="tag_based",
        )
        for t in tracks
    ]
    output = {"tracks": out, "search_query": query, "tags_used": args.tags, "total_found": len(out)}
    return ToolOutput(output, f"Found {len(out)} tracks for {', '.join(args.tags)}")


TOOLS = [
    Tool(
        "search_spotify_tracks",
        "Search Spotify for tracks by name, artist, genre or keywords. Returns track objects "
        "(id, name, artists, album, uri, duration).",
        SearchTracksInput,
        search_spotify_tracks,
    ),
    Tool(
        "recommend_from_similar",
        'Find Spotify tracks for "Artist - Track" strings (for example the similar tracks '
        "from analyze_playlist's Last.fm data). One search per string.",
        SimilarInput,
        recommend_from_similar,
    ),
    Tool(
        "recommend_from_tags",
        "Find Spotify tracks matching genre or mood tags (for example the crowd tags from "
        "analyze_playlist).",
        TagsInput,
        recommend_from_tags,
    ),
]
