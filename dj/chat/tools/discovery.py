"""Discovery with Claude's help: a playlist's vibe, a search strategy, a curated shortlist.

Each tool makes one plain (non-streamed) call to the main model and reads the first JSON
object of the answer. When the call fails or the JSON is unusable, each falls back to a
rule-based answer (as upstream) and says so in `tool_end`. Unlike upstream, the vibe and
strategy keep every field Claude returns (upstream's schemas stripped most of them, §12.4).
"""

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ...anthropic import AnthropicError, build_request, first_json_object, message_text
from .registry import Tool, ToolContext, ToolOutput

VIBE_SYSTEM = "You describe the feel of music collections. Answer with one JSON object only."
STRATEGY_SYSTEM = "You plan how to discover new music on Spotify. Answer with one JSON object only."
CURATE_SYSTEM = "You pick the best tracks for a listener. Answer with one JSON object only."
NEUTRAL_TARGETS = {"target_danceability": 0.5, "target_energy": 0.5, "target_valence": 0.5}


async def _ask_json(ctx: ToolContext, system: str, prompt: str, max_tokens: int) -> dict[str, Any]:
    ctx.check()
    body = build_request(
        model=ctx.anthropic.settings.model,
        max_tokens=max_tokens,
        temperature=0.7,
        system=system,
        messages=[{"role": "user", "content": prompt}],
    )
    message = await ctx.anthropic.create(body)
    found = first_json_object(message_text(message))
    if found is None:
        raise ValueError("the answer held no JSON object")
    return found


def _compact(value: Any, limit: int = 6000) -> str:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text if len(text) <= limit else text[:limit] + "..."


# -- extract_playlist_vibe ---------------------------------------------------------------------


class AnalysisData(BaseModel):
    model_config = ConfigDict(extra="allow")

    metadata_analysis: dict[str, Any] | None = None
    deezer_analysis: dict[str, Any] | None = None
    lastfm_analysis: dict[str, Any] | None = None


class SampleTrack(BaseModel):
    name: str
    artists: str
    duration_ms: int | None = None
    popularity: int | None = None


class VibeInput(BaseModel):
    analysis_data: AnalysisData = Field(description="The result of analyze_playlist")
    sample_tracks: list[SampleTrack] = Field([], max_length=20)


def _crowd_tags(data: AnalysisData) -> list[str]:
    lastfm = data.lastfm_analysis or {}
    tags = lastfm.get("crowd_tags") if isinstance(lastfm, dict) else None
    out = []
    for item in tags or []:
        if isinstance(item, dict) and isinstance(item.get("tag"), str):
            out.append(item["tag"])
    return out[:5]


def vibe_prompt(args: VibeInput) -> str:
    samples = "\n".join(f"- {t.name} by {t.artists}" for t in args.sample_tracks) or "(none)"
    return (
        "Here is what we measured about a playlist (Spotify metadata, Deezer BPM/rank/gain, "
        "Last.fm crowd tags and similar tracks):\n"
        f"{_compact(args.analysis_data.model_dump(exclude_none=True))}\n\n"
        f"Some of its tracks:\n{samples}\n\n"
        "Describe what makes it feel the way it does, beyond genre labels. Return JSON with: "
        '"vibe_profile" (2-3 sentences), "emotional_characteristics" (list), "production_style", '
        '"vocal_style", "instrumentation_notes", "era_feel", and "discovery_hints" with '
        '"genre_combinations", "avoid_these", "era_ranges", "artist_archetypes" (lists) and '
        '"spotify_params" (target_energy, target_valence, target_danceability, 0-1).'
    )


async def extract_playlist_vibe(ctx: ToolContext, args: VibeInput) -> ToolOutput:
    await ctx.thinking("Analyzing playlist vibe using AI...")
    try:
        vibe = await _ask_json(ctx, VIBE_SYSTEM, vibe_prompt(args), 2000)
    except (AnthropicError, ValueError) as exc:
        ctx.logger.warn("vibe extraction fell back to tags", reason=str(exc)[:200])
        tags = _crowd_tags(args.analysis_data)
        fallback = {
            "vibe_profile": f"Playlist characterized by tags: {', '.join(tags)}",
            "emotional_characteristics": tags,
            "production_style": "Unknown",
            "vocal_style": "Unknown",
            "instrumentation_notes": "Unknown",
            "era_feel": "Unknown",
            "discovery_hints": {
                "genre_combinations": tags[:2],
                "avoid_these": [],
                "era_ranges": [],
                "artist_archetypes": [],
                "spotify_params": dict(NEUTRAL_TARGETS),
            },
        }
        await ctx.thinking("Using basic tag analysis (AI unavailable)")
        return ToolOutput(fallback, f"Basic analysis: {', '.join(tags)}")
    traits = vibe.get("emotional_characteristics")
    shown = ", ".join(str(t) for t in traits[:3]) if isinstance(traits, list) else "done"
    return ToolOutput(vibe, f"Analyzed vibe: {shown}")


# -- plan_discovery_strategy -------------------------------------------------------------------


class StrategyInput(BaseModel):
    vibe_profile: dict[str, Any] = Field(description="The result of extract_playlist_vibe")
    user_request: str = Field(min_length=1, max_length=2000)
    similar_tracks_available: list[str] = Field([], max_length=20)


def strategy_prompt(args: StrategyInput) -> str:
    similar = "\n".join(f"- {s}" for s in args.similar_tracks_available) or "(none)"
    return (
        f"The listener asked: {args.user_request}\n\n"
        f"The playlist's vibe:\n{_compact(args.vibe_profile)}\n\n"
        f'Last.fm similar tracks we can look up ("Artist - Track"):\n{similar}\n\n'
        "Plan how to find new tracks that fit. Spotify's search is the only catalogue "
        'lookup (no recommendation endpoint). Return JSON with: "strategy_summary", '
        '"lastfm_similar_priority" (up to 5 of the similar tracks above), "tag_searches" '
        '(lists of 1-3 tags), "spotify_searches" (query strings) and "avoid" (list).'
    )


async def plan_discovery_strategy(ctx: ToolContext, args: StrategyInput) -> ToolOutput:
    await ctx.thinking("Planning discovery strategy...")
    try:
        strategy = await _ask_json(ctx, STRATEGY_SYSTEM, strategy_prompt(args), 3000)
    except (AnthropicError, ValueError) as exc:
        ctx.logger.warn("strategy planning fell back to rules", reason=str(exc)[:200])
        fallback = {
            "strategy_summary": "Using basic tag-based discovery",
            "lastfm_similar_priority": args.similar_tracks_available[:5],
            "tag_searches": [],
            "spotify_searches": [],
            "avoid": [],
            "recommendation_seeds": {
                "approach": "Use top tracks as seeds",
                "parameters": dict(NEUTRAL_TARGETS),
            },
        }
        await ctx.thinking("Using basic strategy (AI unavailable)")
        return ToolOutput(fallback, "Basic fallback strategy")
    tags = strategy.get("tag_searches")
    searches = strategy.get("spotify_searches")
    return ToolOutput(
        strategy,
        f"Created {len(tags) if isinstance(tags, list) else 0} tag searches, "
        f"{len(searches) if isinstance(searches, list) else 0} custom searches",
    )


# -- curate_recommendations --------------------------------------------------------------------


class Candidate(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    name: str
    artists: str
    popularity: int | None = None
    source: str | None = None


class PlaylistContext(BaseModel):
    model_config = ConfigDict(extra="allow")

    bpm_range: dict[str, float] | None = None
    dominant_tags: list[str] | None = None
    avg_popularity: float | None = None
    era: str | None = None


class CurateInput(BaseModel):
    candidate_tracks: list[Candidate] = Field(min_length=1, max_length=100)
    playlist_context: PlaylistContext = Field(default_factory=PlaylistContext)
    user_request: str = Field(min_length=1, max_length=2000)
    top_n: int = Field(10, ge=1, le=50)


def curate_prompt(args: CurateInput) -> str:
    lines = "\n".join(
        f"- {c.id}: {c.name} by {c.artists}"
        + (f" (popularity {c.popularity})" if c.popularity is not None else "")
        + (f" [{c.source}]" if c.source else "")
        for c in args.candidate_tracks[:50]
    )
    return (
        f"The listener asked: {args.user_request}\n\n"
        f"About their playlist: {_compact(args.playlist_context.model_dump(exclude_none=True))}\n\n"
        f"Candidates (id: track by artists):\n{lines}\n\n"
        f"Choose the {args.top_n} that fit best, best first, mixing familiar and new. Return "
        'JSON with "selected_track_ids" (ids from the list) and "reasoning" (one or two '
        "sentences)."
    )


async def curate_recommendations(ctx: ToolContext, args: CurateInput) -> ToolOutput:
    await ctx.thinking(f"Curating {len(args.candidate_tracks)} candidates...")
    by_id = {c.id: c for c in args.candidate_tracks}
    try:
        answer = await _ask_json(ctx, CURATE_SYSTEM, curate_prompt(args), 2000)
        ids = answer.get("selected_track_ids")
        if not isinstance(ids, list):
            raise ValueError("no selected_track_ids")
    except (AnthropicError, ValueError) as exc:
        ctx.logger.warn("curation fell back to popularity", reason=str(exc)[:200])
        ranked = sorted(args.candidate_tracks, key=lambda c: c.popularity or 0, reverse=True)
        picks = [c.model_dump(exclude_none=True) for c in ranked[: args.top_n]]
        await ctx.thinking("Using popularity ranking (AI unavailable)")
        output = {
            "curated_tracks": picks,
            "original_count": len(args.candidate_tracks),
            "reasoning": "Sorted by popularity (AI curation unavailable)",
            "total_curated": len(picks),
        }
        return ToolOutput(output, f"Fallback: Sorted {len(picks)} tracks by popularity")
    chosen: list[dict[str, Any]] = []
    for track_id in ids:
        candidate = by_id.get(str(track_id))
        if candidate is not None and len(chosen) < args.top_n:
            chosen.append(candidate.model_dump(exclude_none=True))
            by_id.pop(str(track_id))
    reasoning = answer.get("reasoning")
    output = {
        "curated_tracks": chosen,
        "original_count": len(args.candidate_tracks),
        "reasoning": reasoning if isinstance(reasoning, str) else "AI curation complete",
        "total_curated": len(chosen),
    }
    return ToolOutput(output, f"Curated {len(chosen)} tracks using AI")


TOOLS = [
    Tool(
        "extract_playlist_vibe",
        "Use AI to read analyze_playlist's data and describe the playlist's vibe beyond "
        "genre tags, with hints for discovery.",
        VibeInput,
        extract_playlist_vibe,
        show_args=lambda a: {"has_metadata": a.analysis_data.metadata_analysis is not None},
    ),
    Tool(
        "plan_discovery_strategy",
        "Use AI to plan how to find new tracks for the user's request from a vibe profile "
        "and Last.fm similar tracks.",
        StrategyInput,
        plan_discovery_strategy,
        show_args=lambda a: {"has_vibe": bool(a.vibe_profile)},
    ),
    Tool(
        "curate_recommendations",
        "Use AI to pick the best tracks from a list of candidates for the user's request.",
        CurateInput,
        curate_recommendations,
        show_args=lambda a: {"top_n": a.top_n, "track_count": len(a.candidate_tracks)},
    ),
]
