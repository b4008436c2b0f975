"""Queue auto-fill (reference §7.2): keep five tracks queued, mirror each to Spotify.

`fill` asks the suggestion engine for `need + 3` candidates under an 8-second deadline (the
timer is always cleared, see `deadline`), keeps new URIs (`dj.autofill.apply_auto_fill`), and
tops up from the session's fallback pool when suggestions fall short (upstream's fallback
branch could never run, §12.9). It does not save: the caller saves once, with its own change,
so a vibe change is stored whether or not tracks were found (§12.6), and the key is written
once per request (KV allows about one write per second to a key).

`mirror` adds tracks to the listener's Spotify queue, one by one and in order, best effort.
`in_background` is the `waitUntil` variant used after track-played.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from dj.autofill import (
    apply_auto_fill,
    fallback_uris,
    remaining_fallback_pool,
    suggestion_request_count,
    tracks_needed,
)
from dj.models.mix import MixSession, QueuedTrack, Suggestion
from runtime.context import Context
from runtime.records import field, record

from .deadline import DeadlineExceeded, with_deadline
from .sessions import MixService
from .spotify_calls import MixSpotify, track_id_from_uri
from .suggestions import SuggestionEngine

AUTO_FILL_TIMEOUT = 8.0
FALLBACK_REASON = "From your starting tracks"
FALLBACK_SCORE = 50


@record
class Fill:
    session: MixSession
    added: list[QueuedTrack] = field(default_factory=list)


async def candidates(
    c: Context,
    session: MixSession,
    *,
    engine: SuggestionEngine | None = None,
    timeout: float = AUTO_FILL_TIMEOUT,
) -> list[Suggestion]:
    """Suggestions for the queue's gap; [] when none are needed or on timeout/failure."""
    count = suggestion_request_count(session)
    if count == 0:
        return []
    engine = engine or SuggestionEngine(c)
    try:
        return await with_deadline(engine.generate(session, count), timeout)
    except DeadlineExceeded:
        c.log.warn("auto-fill: suggestions timed out", seconds=timeout)
    except Exception as exc:  # auto-fill is best effort; the change it follows still stands
        c.log.error("auto-fill: suggestions failed", exc)
    return []


async def _from_pool(c: Context, session: MixSession, need: int) -> list[Suggestion]:
    uris = fallback_uris(session, need)
    if not uris:
        return []
    spotify = MixSpotify(c)
    ids = [track_id_from_uri(u) for u in uris]
    infos = await asyncio.gather(*(spotify.track(i) for i in ids if i is not None))
    return [
        Suggestion.model_validate(
            {
                "trackId": info.id,
                "trackUri": info.uri,
                "name": info.name,
                "artist": info.artist,
                "albumArt": info.album_art,
                "bpm": None,
                "reason": FALLBACK_REASON,
                "vibeScore": FALLBACK_SCORE,
            }
        )
        for info in infos
        if info is not None
    ]


def apply(session: MixSession, found: Sequence[Suggestion]) -> Fill:
    new, added = apply_auto_fill(session, found)
    return Fill(new, added)


async def fill(
    c: Context,
    session: MixSession,
    *,
    engine: SuggestionEngine | None = None,
    timeout: float = AUTO_FILL_TIMEOUT,
) -> Fill:
    """The session with up to `5 - len(queue)` new AI tracks (not saved, not mirrored)."""
    if tracks_needed(session) == 0:
        return Fill(session)
    result = apply(session, await candidates(c, session, engine=engine, timeout=timeout))
    return await top_up_from_pool(c, result)


async def top_up_from_pool(c: Context, result: Fill) -> Fill:
    need = tracks_needed(result.session)
    if need == 0:
        return result
    try:
        pool = await _from_pool(c, result.session, need)
    except Exception as exc:
        c.log.error("auto-fill: fallback pool failed", exc)
        return result
    if not pool:
        return result
    more = apply(result.session, pool)
    used = [t.track_uri for t in more.added]
    return Fill(remaining_fallback_pool(more.session, used), [*result.added, *more.added])


async def mirror(c: Context, tracks: Sequence[QueuedTrack]) -> int:
    """Add each track to Spotify's queue in order; returns how many Spotify took."""
    spotify = MixSpotify(c)
    taken = 0
    for track in tracks:
        try:
            result = await spotify.add_to_queue(track.track_uri)
        except Exception as exc:
            c.log.error("auto-fill: Spotify queue add failed", exc)
            continue
        if result.ok:
            taken += 1
        else:
            c.log.warn("auto-fill: Spotify did not queue a track", status=result.status)
    return taken


async def fill_save_mirror(c: Context, svc: MixService, session: MixSession) -> Fill:
    """Fill, save once (whatever fill found), then mirror the additions to Spotify."""
    result = await fill(c, session)
    saved = await svc.save(result.session)
    if result.added:
        await mirror(c, result.added)
    return Fill(saved, result.added)


async def in_background(c: Context, svc: MixService) -> None:
    """After the response: refill from the freshest session; never revive an ended one."""
    try:
        session = await svc.refresh()
        if session is None or tracks_needed(session) == 0:
            return
        found = await candidates(c, session)
        latest = await svc.refresh()  # the AI call took a while: apply to what is stored now
        if latest is None:
            return
        result = await top_up_from_pool(c, apply(latest, found))
        if not result.added:
            return
        await svc.save(result.session)
        await mirror(c, result.added)
        c.log.info("background auto-fill added tracks", count=len(result.added))
    except Exception as exc:
        c.log.error("background auto-fill failed", exc)


def schedule_background_fill(c: Context, svc: MixService) -> None:
    c.wait_until(in_background(c, svc))
