"""The player stream's "DJ brain": what a finished track does to the user's mix session.

When the stream sees one track give way to another it hands the finished track here, and this
runs in the background (`waitUntil`), never on the poll path (reference §2.3):

1. who is listening: `GET /me`, once per stream (the id is remembered);
2. the session `mix:{userId}` (none: nothing to do);
3. a listener signal from the time heard: `completed` (>= 80 % of the track), `skipped`
   (< 30 s), else `partial` (`dj.mix_rules.classify_signal`), kept to the newest 50;
4. if the track is in the session's queue: it leaves the queue and enters the history (newest
   first, 20 kept) with its BPM when Deezer knows it, and the vibe follows it;
5. the taste model learns from the signal (when one exists or the signal is not `partial`);
6. three or more skips in a row clear a non-empty queue (the refill is left to `queue_low`);
7. one save (upstream saved twice when it cleared the queue).

A change the mix made itself is not the listener's skip. When the steer stream restarts
playback with its new queue it first stores a `steer` signal naming the track it starts
(`steer_marker`); the transition onto that track, seen within `STEER_WINDOW_MS`, records the
track it cut short as a `steer` signal too: no skip, no taste change, and the skip run starts
again from there. (Upstream counted those changes as skips, so a steer or two after a couple of
real skips emptied the new queue.)

The rules themselves are `dj.mix_rules`; this module only orders them (`apply_transition`,
pure) and does the I/O around them (`TransitionHandler`).

Fixes of upstream bugs:
* §12.10: a BPM outside 20..220 (Deezer says 0 for "unknown") is stored as null instead of
  failing the save; the lookup passes the track's ISRC (from the playback state) when it has one.
* §12.15: moving a track to the history is idempotent. `record_track_played` is the one way to
  do it, for the stream and for `POST /api/mix/playback/track-played`: a track that is no longer
  queued and is already the newest history entry (played within `SAME_PLAY_WINDOW_MS`) is not
  added again, whichever path came first. A stream's transition whose signal is already the
  newest one for that track (two tabs streaming, say) changes nothing. Transitions of one
  stream run one after another, so their read-modify-write cycles never overlap.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from dj.js_compat import ms_from_iso
from dj.mix_rules import (
    add_signal,
    apply_skip_rule,
    find_in_queue,
    make_signal,
    played_from_queued,
    record_played_track,
    remove_from_queue,
    touch,
    update_taste_from_signal,
    wants_taste_update,
)
from dj.models.mix import BPM_MAX, BPM_MIN, ListenerSignal, MixSession, PlayedTrack
from runtime.records import record

if TYPE_CHECKING:
    from dj.player_stream import Allowance, Transition
    from runtime.logging import ServiceLogger

SAME_PLAY_WINDOW_MS = 30_000
"""A history entry this recent for the same track is the same play, recorded already."""
SAME_SIGNAL_WINDOW_MS = 15_000
"""A newest signal this recent for the same track is the same transition, seen by another stream."""
STEER_WINDOW_MS = 60_000
"""A steer's restart of playback is matched to a transition seen at most this long after it."""

# Worst-case costs, used to ask the stream's allowance before spending.
ME_SUBREQUESTS = 2  # GET /me, retried once
BPM_SUBREQUESTS = 9  # Deezer: up to 3 calls x 2 attempts; MusicBrainz (no ISRC): 1 x 3
BPM_KV_OPS = 4  # bpm: read + write, musicbrainz:isrc: read + write
SESSION_KV_OPS = 2  # mix: read + write


@record(frozen=True)
class FinishedTrack:
    """The track that just ended, as the stream saw it."""

    track_id: str
    track_uri: str
    name: str
    artist: str
    album_art: str | None
    duration_ms: int
    first_artist: str = ""
    isrc: str | None = None

    @classmethod
    def from_stream(cls, track: Any) -> FinishedTrack:
        """From a `dj.player_stream.Track`."""
        return cls(
            track_id=track.id,
            track_uri=track.uri,
            name=track.name,
            artist=track.artist,
            album_art=track.album_art,
            duration_ms=track.duration,
            first_artist=track.first_artist,
            isrc=track.isrc,
        )


@record(frozen=True)
class TransitionOutcome:
    session: MixSession
    signal: ListenerSignal | None
    moved: bool = False
    queue_cleared: bool = False
    duplicate: bool = False


def valid_bpm(bpm: float | None) -> float | None:
    """A BPM the session schema accepts, else None (Deezer's 0 means "unknown")."""
    if bpm is None or isinstance(bpm, bool) or not BPM_MIN <= bpm <= BPM_MAX:
        return None
    return bpm


def _newest_play_is(session: MixSession, track_id: str, track_uri: str, now_ms: int) -> bool:
    if not session.history:
        return False
    newest = session.history[0]
    if newest.track_id != track_id and newest.track_uri != track_uri:
        return False
    try:
        played_ms = ms_from_iso(newest.played_at)
    except ValueError:
        return False
    return abs(now_ms - played_ms) <= SAME_PLAY_WINDOW_MS


def record_track_played(
    session: MixSession,
    *,
    track_id: str,
    track_uri: str,
    now_ms: int,
    bpm: float | None = None,
    not_queued: PlayedTrack | None = None,
) -> tuple[MixSession, bool]:
    """Move a played track from the queue to the history, at most once per play.

    A queued track leaves the queue and enters the history (the vibe follows it). A track not
    in the queue is recorded from `not_queued` when given (what track-played does with the
    track's details; the stream passes nothing) unless the newest history entry is already
    this track, played within `SAME_PLAY_WINDOW_MS`. Returns the session and whether it moved.
    """
    queued = find_in_queue(session, track_id=track_id, track_uri=track_uri)
    if queued is not None:
        if _newest_play_is(session, track_id, track_uri, now_ms):
            # The other path recorded this play and a second copy is still queued: drop the
            # copy that just played, without a second history entry.
            return remove_from_queue(session, queued.position), False
        played = played_from_queued(queued, played_at_ms=now_ms, bpm=valid_bpm(bpm))
        return record_played_track(remove_from_queue(session, queued.position), played), True
    if not_queued is None or _newest_play_is(session, track_id, track_uri, now_ms):
        return session, False
    track = not_queued.model_copy(update={"bpm": valid_bpm(not_queued.bpm)})
    return record_played_track(session, track), True


def is_repeat_signal(session: MixSession, track_id: str, now_ms: int) -> bool:
    """The newest signal is already this track's, from moments ago (another stream's)."""
    if not session.signals:
        return False
    newest = session.signals[-1]
    return newest.track_id == track_id and abs(now_ms - newest.timestamp) <= SAME_SIGNAL_WINDOW_MS


def steer_marker(track_id: str, now_ms: int) -> ListenerSignal:
    """The signal a steer stores just before it starts playing `track_id` itself."""
    return ListenerSignal(
        track_id=track_id, type="steer", listen_duration=0, track_duration=0, timestamp=now_ms
    )


def caused_by_steer(session: MixSession, next_track_id: str | None, now_ms: int) -> bool:
    """The newest signal is a steer's marker for the track now playing, from moments ago."""
    if not next_track_id or not session.signals:
        return False
    newest = session.signals[-1]
    return (
        newest.type == "steer"
        and newest.track_duration == 0
        and newest.track_id == next_track_id
        and 0 <= now_ms - newest.timestamp <= STEER_WINDOW_MS
    )


def wants_bpm(session: MixSession, track: FinishedTrack, now_ms: int) -> bool:
    """Whether the transition will move the track to the history (so a BPM is worth a lookup)."""
    if is_repeat_signal(session, track.track_id, now_ms):
        return False
    if find_in_queue(session, track_id=track.track_id, track_uri=track.track_uri) is None:
        return False
    return not _newest_play_is(session, track.track_id, track.track_uri, now_ms)


def apply_transition(
    session: MixSession,
    track: FinishedTrack,
    *,
    listen_ms: int,
    now_ms: int,
    bpm: float | None = None,
    next_track_id: str | None = None,
) -> TransitionOutcome:
    """The session after `track` ended having been heard for `listen_ms` (pure).

    `next_track_id` is the track that took its place: when a steer started it, the ended
    track's signal is `steer`, not the listener's verdict."""
    if is_repeat_signal(session, track.track_id, now_ms):
        return TransitionOutcome(session, None, duplicate=True)
    signal = make_signal(
        track_id=track.track_id, listen_ms=listen_ms, duration_ms=track.duration_ms, now_ms=now_ms
    )
    if caused_by_steer(session, next_track_id, now_ms):
        signal = signal.model_copy(update={"type": "steer"})
    updated = add_signal(session, signal)
    updated, moved = record_track_played(
        updated, track_id=track.track_id, track_uri=track.track_uri, now_ms=now_ms, bpm=bpm
    )
    if signal.type != "steer" and wants_taste_update(updated, signal.type):
        updated = update_taste_from_signal(updated, signal.type, track.artist, now_ms)
    updated, cleared = apply_skip_rule(updated)
    return TransitionOutcome(touch(updated, now_ms), signal, moved=moved, queue_cleared=cleared)


# -- the I/O around it --------------------------------------------------------------------------

UserId = Callable[[], Awaitable[str | None]]
BpmLookup = Callable[[FinishedTrack], Awaitable[float | None]]


class TransitionHandler:
    """Runs a stream's transitions one at a time; never raises (it runs in `waitUntil`).

    `store` is a `MixSessionStore[MixSession]` (None: no MIX_SESSIONS binding, nothing to do),
    `user_id` resolves (and remembers) the listener, `bpm` looks a BPM up (None: no lookup).
    The allowance is asked before each step that costs subrequests or KV operations."""

    def __init__(
        self,
        *,
        store: Any,
        user_id: UserId,
        bpm: BpmLookup | None = None,
        allowance: Allowance | None = None,
        logger: ServiceLogger | None = None,
        now_ms: Callable[[], int] = lambda: int(time.time() * 1000),
    ) -> None:
        self.store = store
        self.user_id = user_id
        self.bpm = bpm
        self.allowance = allowance
        self.logger = logger
        self.now_ms = now_ms
        self._lock = asyncio.Lock()
        self.outcomes: list[TransitionOutcome] = []
        self.skipped = 0

    def _allows(self, subrequests: int = 0, kv_ops: int = 0) -> bool:
        return self.allowance is None or self.allowance.allows(subrequests, kv_ops)

    async def handle(self, transition: Transition) -> TransitionOutcome | None:
        async with self._lock:
            try:
                return await self._handle(transition)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self.logger is not None:
                    self.logger.error("player transition failed", exc)
                return None

    async def _handle(self, transition: Transition) -> TransitionOutcome | None:
        if self.store is None:
            return None
        track = FinishedTrack.from_stream(transition.track)
        if not track.track_id:
            return None  # a local file or an ad: nothing a session can refer to
        if not self._allows(ME_SUBREQUESTS, SESSION_KV_OPS):
            self.skipped += 1
            self._warn("player transition skipped: no budget left", track=track.track_id)
            return None
        user = await self.user_id()
        if not user:
            return None
        session: MixSession | None = await self.store.load(user)
        if session is None:
            return None
        now = self.now_ms()
        bpm: float | None = None
        if self.bpm is not None and wants_bpm(session, track, now):
            if self._allows(BPM_SUBREQUESTS, BPM_KV_OPS + 1):
                try:
                    bpm = await self.bpm(track)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # best effort: the move happens without a BPM
                    self._warn("BPM lookup failed", track=track.track_id, error=str(exc))
            else:
                self._warn("BPM lookup skipped: no budget left", track=track.track_id)
            now = self.now_ms()
        following = transition.next_track
        outcome = apply_transition(
            session,
            track,
            listen_ms=transition.listen_ms,
            now_ms=now,
            bpm=bpm,
            next_track_id=following.id if following is not None else None,
        )
        self.outcomes.append(outcome)
        if outcome.duplicate:
            self._info("player transition already recorded", track=track.track_id)
            return outcome
        await self.store.save(user, outcome.session)
        self._info(
            "player transition recorded",
            track=track.track_id,
            signal=outcome.signal.type if outcome.signal else None,
            moved=outcome.moved,
            queue_cleared=outcome.queue_cleared,
            queue=len(outcome.session.queue),
        )
        return outcome

    def _info(self, message: str, **fields: Any) -> None:
        if self.logger is not None:
            self.logger.info(message, **fields)

    def _warn(self, message: str, **fields: Any) -> None:
        if self.logger is not None:
            self.logger.warn(message, **fields)


# -- BPM through the enrichment package --------------------------------------------------------


def enrichment_bpm_lookup(http: Any, upstreams: Any, cache: Any) -> BpmLookup:
    """A `BpmLookup` over `dj.enrichment`: the `bpm:{trackId}` cache first, else Deezer (by
    the track's ISRC, or an ISRC found on MusicBrainz), the answer cached as the analysis does.

    `http` is the request's `OutboundClient`, `cache` an `EnrichmentCache` or None."""
    from dj.enrichment.deezer import DeezerClient
    from dj.enrichment.enricher import DeezerEnricher, DeezerReport
    from dj.enrichment.musicbrainz import MusicBrainzClient
    from dj.enrichment.playlist import PlaylistTrack

    enricher = DeezerEnricher(
        DeezerClient(http, upstreams.deezer),
        MusicBrainzClient(http, upstreams.musicbrainz),
        cache,
    )

    async def lookup(track: FinishedTrack) -> float | None:
        wanted = PlaylistTrack.model_validate(
            {
                "id": track.track_id,
                "name": track.name,
                "duration_ms": track.duration_ms,
                "artists": [{"name": track.first_artist or track.artist}],
                "isrc": track.isrc,
            }
        )
        entries = await enricher.read([wanted])
        entry = entries[wanted.id]
        if not entry.needs_fetch:
            value = entry.value
        else:
            report = DeezerReport()
            await enricher.enrich(wanted, entry, report)
            value = report.values.get(wanted.id)
        return valid_bpm(value.bpm) if value is not None else None

    return lookup
