"""The starting vibe of a new session (reference §7.2, "Seeding on start").

Seed tracks are the given playlist's first 50 or, for "surprise me", the listener's
short-term top tracks and recently played tracks (deduplicated). From them:
genres = the five most common genres of the first ten distinct artists (Spotify artist
search); energy = average popularity / 10 (popularity is gone for development-mode apps, so
usually the default 50 → 5); era = the range of valid release years; BPM range = the known
BPMs of the first 20 tracks widened by 10 on each side when at least three are known; the
fallback pool = the ten most popular seed URIs (seed order when popularity is unknown).
Everything is best effort: a failed call leaves the default for its part.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence

from dj.js_compat import clamp, js_round
from dj.models.mix import (
    BPM_MAX,
    BPM_MIN,
    ERA_MAX,
    ERA_MIN,
    MAX_FALLBACK_POOL,
    BpmRange,
    EraRange,
    MixSession,
    VibeProfile,
)
from dj.scoring import year_from_release_date
from runtime.context import Context

from .spotify_calls import MixSpotify, TrackInfo

GENRE_ARTISTS = 10
TOP_GENRES = 5
BPM_TRACKS = 20
MIN_BPMS = 3
BPM_MARGIN = 10
DEFAULT_POPULARITY = 50


async def seed_tracks(spotify: MixSpotify, playlist_id: str | None) -> list[TrackInfo]:
    if playlist_id:
        return await spotify.playlist_tracks(playlist_id)
    top, recent = await asyncio.gather(spotify.top_tracks(), spotify.recently_played())
    seen: set[str] = set()
    out: list[TrackInfo] = []
    for track in [*top, *recent]:
        if track.id not in seen:
            seen.add(track.id)
            out.append(track)
    return out


def era_of(tracks: Sequence[TrackInfo]) -> EraRange | None:
    years = [
        y
        for t in tracks
        if (y := year_from_release_date(t.release_date)) is not None and ERA_MIN <= y <= ERA_MAX
    ]
    return EraRange(start=min(years), end=max(years)) if years else None


def energy_of(tracks: Sequence[TrackInfo]) -> int:
    pops = [t.popularity if t.popularity is not None else DEFAULT_POPULARITY for t in tracks]
    return int(clamp(js_round(sum(pops) / len(pops) / 10), 1, 10)) if pops else 5


def bpm_range_of(bpms: Sequence[float | None]) -> BpmRange | None:
    known = [b for b in bpms if b is not None]
    if len(known) < MIN_BPMS:
        return None
    return BpmRange(
        min=max(BPM_MIN, min(known) - BPM_MARGIN), max=min(BPM_MAX, max(known) + BPM_MARGIN)
    )


def fallback_pool_of(tracks: Sequence[TrackInfo]) -> list[str]:
    ranked = sorted(enumerate(tracks), key=lambda it: (-(it[1].popularity or 0), it[0]))
    return [t.uri for _, t in ranked][:MAX_FALLBACK_POOL]


async def genres_of(spotify: MixSpotify, tracks: Sequence[TrackInfo]) -> list[str]:
    artists: list[str] = []
    for track in tracks:
        first = track.artist_names[0] if track.artist_names else ""
        if first and first not in artists:
            artists.append(first)
        if len(artists) >= GENRE_ARTISTS:
            break
    found = await asyncio.gather(*(spotify.artist_genres(a) for a in artists))
    counts = Counter(g for genres in found for g in genres)
    return [g for g, _ in counts.most_common(TOP_GENRES)]


async def seed_session(c: Context, session: MixSession, playlist_id: str | None) -> MixSession:
    """`session` with a vibe and fallback pool from its seed tracks (unchanged if none)."""
    spotify = MixSpotify(c)
    try:
        tracks = await seed_tracks(spotify, playlist_id)
        if not tracks:
            return session
        genres, bpms = await asyncio.gather(
            genres_of(spotify, tracks),
            asyncio.gather(*(spotify.bpm(t, allow_musicbrainz=False) for t in tracks[:BPM_TRACKS])),
        )
    except Exception as exc:  # seeding is a head start, never a reason to fail start
        c.log.error("seeding the mix failed", exc)
        return session
    vibe: VibeProfile = session.vibe.model_copy(deep=True)
    vibe.genres = genres
    vibe.energy_level = energy_of(tracks)
    vibe.era = era_of(tracks) or vibe.era
    vibe.bpm_range = bpm_range_of(bpms) or vibe.bpm_range
    return session.model_copy(
        update={"vibe": vibe, "fallback_pool": fallback_pool_of(tracks)}, deep=True
    )
