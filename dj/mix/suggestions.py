"""The suggestion engine (reference §7.3): Claude proposes, Spotify confirms, scoring orders.

1. Claude is asked for tracks as `{"tracks": [{"artist", "name", "reason"}]}`: for a new
   session from the vibe alone, afterwards with the recently played tracks (newest first,
   the fix for §12.5), the queue, and the listener's taste (liked, disliked and skipped
   artists). Thinking is on with a budget below `max_tokens` (§12.1).
2. Each proposal is looked up with a Spotify search (`artist:"A" track:"T"`, one result),
   a few at a time, until enough are found; tracks already played or queued are skipped.
3. Each found track gets a BPM from the cache or Deezer (ISRC only: no MusicBrainz detour
   here) and a score: `score_suggestion` against the vibe, averaged with
   `score_transition` from the last played track once there is one. Highest first.

When Claude is not configured, fails, or proposes fewer tracks than asked that Spotify knows,
a Spotify search fallback fills the gap (instead of upstream's Last.fm one): searches built from the vibe's genres
(`genre:"g" year:a-b`), the recently played artists, and finally the era alone. Its reasons
come from `scoring.fallback_reason`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from dj.mix_rules import last_played, recent_tracks
from dj.models.mix import MixSession, Suggestion
from dj.scoring import (
    TrackFeatures,
    combine_scores,
    fallback_reason,
    score_suggestion,
    score_transition,
    vibe_description,
)
from runtime.context import Context
from runtime.records import record

from . import ai
from .spotify_calls import MixSpotify, TrackInfo

STEER_VIBE_SCORE = 80
DEFAULT_REASON = "Fits the vibe"
FALLBACK_QUERIES = 3
LIKED_ABOVE = 0.2
DISLIKED_BELOW = -0.2
SYSTEM = (
    "You choose tracks for a live DJ mix. Only name real recordings that are on Spotify, "
    "spell artist and title as Spotify does, and answer with JSON only."
)


@record(frozen=True)
class Proposal:
    artist: str
    name: str
    reason: str


def parse_proposals(data: dict[str, object] | None) -> list[Proposal]:
    """`{"tracks": [{"artist", "name", "reason"?}]}` → proposals; malformed items dropped."""
    if not data:
        return []
    items = data.get("tracks")
    if not isinstance(items, list):
        return []
    out: list[Proposal] = []
    for item in items:
        if not isinstance(item, dict):
            continue
        artist, name, reason = item.get("artist"), item.get("name"), item.get("reason")
        if isinstance(artist, str) and isinstance(name, str) and artist.strip() and name.strip():
            text = reason.strip() if isinstance(reason, str) and reason.strip() else DEFAULT_REASON
            out.append(Proposal(artist.strip(), name.strip(), text[:300]))
    return out


def _answer_format(count: int) -> str:
    return (
        f"Suggest {count} tracks. Use different artists where you can.\n"
        'Answer with one JSON object: {"tracks": [{"artist": "...", "name": "...", '
        '"reason": "a few words on why it fits"}]}'
    )


def suggestions_prompt(session: MixSession, count: int) -> str:
    """The prompt for auto-fill and GET /suggestions (our own wording)."""
    parts = [f"The mix's vibe:\n{vibe_description(session.vibe)}"]
    recent = recent_tracks(session, 5)
    if recent:
        lines = [
            f"{i}. {t.name} by {t.artist}" + (f" ({t.bpm:g} BPM)" if t.bpm else "")
            for i, t in enumerate(recent, 1)
        ]
        parts.append("Just played, newest first:\n" + "\n".join(lines))
    if session.queue:
        parts.append(
            "Already queued (do not repeat):\n"
            + "\n".join(f"- {t.name} by {t.artist}" for t in session.queue)
        )
    taste = session.taste_model
    if taste is not None:
        liked = [a for a, w in taste.artist_affinities.items() if w > LIKED_ABOVE]
        disliked = [a for a, w in taste.artist_affinities.items() if w < DISLIKED_BELOW]
        if liked:
            parts.append("The listener enjoys: " + ", ".join(liked))
        if disliked:
            parts.append("The listener is cool on: " + ", ".join(disliked))
        if taste.skip_patterns:
            parts.append("Recently skipped artists: " + ", ".join(taste.skip_patterns[-5:]))
    lead = (
        "Pick what should play next: keep the flow from the last tracks and follow the vibe."
        if recent
        else "Pick tracks to open this mix."
    )
    return "\n\n".join([lead, *parts, _answer_format(count)])


def steering_prompt(session: MixSession, direction: str, count: int) -> str:
    """The prompt for the steer stream's new queue (our own wording)."""
    return "\n\n".join(
        [
            f'The listener just steered the mix: "{direction}".',
            f"The vibe after that change:\n{vibe_description(session.vibe)}",
            "Pick tracks that make the change obvious from the first song.",
            _answer_format(count),
        ]
    )


class SuggestionEngine:
    def __init__(self, c: Context, spotify: MixSpotify | None = None) -> None:
        self.c = c
        self.spotify = spotify or MixSpotify(c)

    # -- public ---------------------------------------------------------------------------

    async def generate(self, session: MixSession, count: int) -> list[Suggestion]:
        """Up to `count` suggestions, best first (AI, else the search fallback)."""
        if count <= 0:
            return []
        proposals: list[Proposal] = []
        if ai.ai_available(self.c):
            try:
                answer = await ai.ask(
                    self.c,
                    suggestions_prompt(session, count * 2),
                    system=SYSTEM,
                    max_tokens=ai.SUGGESTION_MAX_TOKENS,
                    thinking_budget=ai.SUGGESTION_THINKING,
                )
                proposals = parse_proposals(answer.json)
            except ai.AnthropicError as exc:
                self.c.log.warn("suggestions: Claude failed", kind=exc.kind)
        want = count if not session.history else count * 2
        found = await self.resolve(proposals, session, want)
        scored = (await self._score(session, found))[:count] if found else []
        if len(scored) < count:  # Claude fell short: top up from the search fallback
            extra = await self.fallback(
                session, count - len(scored), exclude={s.track_id for s in scored}
            )
            scored += extra
        return scored

    async def for_steering(
        self, session: MixSession, direction: str, count: int
    ) -> list[Suggestion]:
        """The steer stream's candidates: score 80, BPM unknown, no enrichment."""
        proposals: list[Proposal] = []
        if ai.ai_available(self.c):
            try:
                answer = await ai.ask(
                    self.c,
                    steering_prompt(session, direction, count),
                    system=SYSTEM,
                    max_tokens=ai.STEER_SUGGESTION_MAX_TOKENS,
                    temperature=ai.STEER_SUGGESTION_TEMPERATURE,
                )
                proposals = parse_proposals(answer.json)
            except ai.AnthropicError as exc:
                self.c.log.warn("steering suggestions: Claude failed", kind=exc.kind)
        found = await self.resolve(proposals, session, count)
        out = [_suggestion(info, reason, None, STEER_VIBE_SCORE) for info, reason in found]
        if len(out) < count:
            out += await self.fallback(session, count - len(out), exclude={s.track_id for s in out})
        return out

    async def resolve(
        self, proposals: Sequence[Proposal], session: MixSession, want: int
    ) -> list[tuple[TrackInfo, str]]:
        """Look proposals up on Spotify, a few at a time, until `want` new tracks are found."""
        known = {t.track_id for t in session.history} | {t.track_id for t in session.queue}
        found: list[tuple[TrackInfo, str]] = []
        index = 0
        while index < len(proposals) and len(found) < want:
            batch = proposals[index : index + max(1, want - len(found))]
            index += len(batch)
            hits = await asyncio.gather(
                *(self.spotify.search_track(p.artist, p.name) for p in batch)
            )
            for proposal, info in zip(batch, hits, strict=True):
                if info is None or info.id in known or len(found) >= want:
                    continue
                known.add(info.id)
                found.append((info, proposal.reason))
        return found

    async def fallback(
        self, session: MixSession, count: int, *, exclude: set[str] | None = None
    ) -> list[Suggestion]:
        """Spotify searches from the vibe and the recent artists (no AI); tracks played,
        queued or in `exclude` are skipped."""
        vibe = session.vibe
        era = f"year:{vibe.era.start}-{vibe.era.end}"
        queries: list[tuple[str, list[str]]] = [
            (f'genre:"{g}" {era}', [g]) for g in vibe.genres[:FALLBACK_QUERIES]
        ]
        for track in recent_tracks(session, FALLBACK_QUERIES):
            first = track.artist.split(",")[0].replace('"', " ").strip()
            if first:
                queries.append((f'artist:"{first}"', []))
        queries.append((era, []))
        known = {t.track_id for t in session.history} | {t.track_id for t in session.queue}
        known |= exclude or set()
        picked: list[tuple[TrackInfo, list[str]]] = []
        for query, genres in queries:
            if len(picked) >= count * 2:
                break
            for info in await self.spotify.search(query):
                if info.id not in known:
                    known.add(info.id)
                    picked.append((info, genres))
        if not picked:
            return []
        bpms = await asyncio.gather(
            *(self.spotify.bpm(info, allow_musicbrainz=False) for info, _ in picked)
        )
        previous = last_played(session)
        out: list[Suggestion] = []
        for (info, genres), bpm in zip(picked, bpms, strict=True):
            vibe_score = score_suggestion(
                vibe, bpm=bpm, genres=genres, release_date=info.release_date
            )
            transition = (
                score_transition(previous, TrackFeatures(bpm=bpm)) if previous else vibe_score
            )
            score = combine_scores(vibe_score, transition) if previous else vibe_score
            reason = fallback_reason(vibe, bpm=bpm, genres=genres, transition_score=transition)
            out.append(_suggestion(info, reason, bpm, score))
        out.sort(key=lambda s: s.vibe_score, reverse=True)
        return out[:count]

    # -- scoring ----------------------------------------------------------------------------

    async def _score(
        self, session: MixSession, found: Sequence[tuple[TrackInfo, str]]
    ) -> list[Suggestion]:
        bpms = await asyncio.gather(
            *(self.spotify.bpm(info, allow_musicbrainz=False) for info, _ in found)
        )
        previous = last_played(session)
        out: list[Suggestion] = []
        for (info, reason), bpm in zip(found, bpms, strict=True):
            score = score_suggestion(session.vibe, bpm=bpm, release_date=info.release_date)
            if previous is not None:
                score = combine_scores(score, score_transition(previous, TrackFeatures(bpm=bpm)))
            out.append(_suggestion(info, reason, bpm, score))
        out.sort(key=lambda s: s.vibe_score, reverse=True)  # stable: Claude's order on ties
        return out


def _suggestion(info: TrackInfo, reason: str, bpm: float | None, score: int) -> Suggestion:
    return Suggestion.model_validate(
        {
            "trackId": info.id,
            "trackUri": info.uri,
            "name": info.name,
            "artist": info.artist,
            "albumArt": info.album_art,
            "bpm": bpm,
            "reason": reason,
            "vibeScore": max(0, min(100, score)),
        }
    )
