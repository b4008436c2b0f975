"""The player stream's engine: Spotify playback states in, "delta protocol v2" events out.

Three layers, the first two free of I/O so they are tested without a network or a clock:

* `parse_playback` turns one `GET /me/player` answer (or its 204) into a `Snapshot`, the
  normalised state the web client's schemas accept (device and context types from closed
  lists, `Unknown` names, zeros for missing numbers).
* `DeltaEngine` compares each snapshot with the one before and says what to send: `init`
  (first poll, and when playback comes back from idle), `idle`, `track`, `state`, `device`,
  `modes`, `volume`, `context`, `tick`; it numbers every event except `tick`, `error`,
  `auth_expired` and `reconnect` with one per-stream `seq` starting at 0; it counts
  consecutive failures (the fifth ends the stream); and it reports a finished track (a
  `Transition`) when one track gives way to another, with the time it was heard.
* `PlayerStreamLoop` polls on a fixed rate for a fixed lifetime, sends what the engine says,
  and stops for good on `auth_expired`, on the fifth consecutive error, at the end of its
  lifetime (`reconnect`) and the moment a send finds the client gone (or the stream's task is
  cancelled on disconnect). Transitions and the periodic queue check are handed to callbacks
  that run them in the background (`waitUntil`), never on the poll path.

Subrequests. Every poll is one subrequest (not retried: the next poll is the retry), and the
request's tracker (950) is shared with the background work. The loop keeps a live count of the
polls still to come (`Allowance.polls_left`); background work may only spend what lies above
that reserve, so polling cannot be starved. With the defaults: 300 polls (t = 0 s .. 299 s) +
at most 2 for the one `GET /me` a stream makes (the user id is remembered) = 302, leaving 648
for track transitions, whose BPM lookup costs at most 9 (Deezer 3 calls x 2 attempts +
MusicBrainz 1 x 3): 72 enriched transitions, one every ~4 s for five minutes, and transitions
past that are still recorded, without BPM. If polling alone would exceed the budget (a very
short poll interval), the stream ends early with `reconnect` before the tracker refuses a call.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Literal

from runtime.records import field, record

POLL_SECONDS_DEFAULT = 1.0
LIFETIME_SECONDS_DEFAULT = 300.0
POLL_SECONDS_MIN = 0.01
MAX_CONSECUTIVE_ERRORS = 5
QUEUE_CHECK_EVERY = 10
QUEUE_LOW_THRESHOLD = 3
POLL_SUBREQUESTS = 1

CONNECTED_MESSAGE = "Connected to playback stream (delta protocol v2)"
AUTH_EXPIRED_MESSAGE = "Spotify token expired, please refresh"
TOO_MANY_ERRORS_MESSAGE = "Too many errors, closing stream"
LIFETIME_MESSAGE = "Stream lifetime exceeded"
BUDGET_MESSAGE = "Stream subrequest budget used up"

IDLE_DEVICE_NAME = "No active device"
UNKNOWN_DEVICE_NAME = "Unknown"
UNKNOWN_TRACK_NAME = "Unknown"

DEVICE_TYPES = frozenset(
    {
        "computer",
        "smartphone",
        "speaker",
        "tv",
        "avr",
        "stb",
        "audio_dongle",
        "game_console",
        "cast_video",
        "cast_audio",
        "automobile",
    }
)
CONTEXT_TYPES = frozenset({"album", "artist", "playlist", "show", "collection"})
PLAYING_TYPES = frozenset({"track", "episode", "ad", "unknown"})
REPEAT_STATES = frozenset({"off", "track", "context"})

EndReason = Literal["lifetime", "auth_expired", "errors", "budget", "disconnected"]


class InvalidPlayback(ValueError):
    """A 2xx answer that is not a playback state object."""


# -- normalised state ---------------------------------------------------------------------------


@record(frozen=True)
class Track:
    id: str
    uri: str
    name: str
    artist: str
    album_name: str
    album_art: str | None
    duration: int
    explicit: bool
    is_local: bool
    popularity: int | float
    preview_url: str | None
    # Not sent to the client; used by the track transition.
    first_artist: str = ""
    isrc: str | None = None

    def payload(self) -> dict[str, Any]:
        return {
            "albumArt": self.album_art,
            "albumName": self.album_name,
            "artist": self.artist,
            "duration": self.duration,
            "explicit": self.explicit,
            "id": self.id,
            "isLocal": self.is_local,
            "name": self.name,
            "popularity": self.popularity,
            "previewUrl": self.preview_url,
            "uri": self.uri,
        }

    def same_as(self, other: Track | None) -> bool:
        # Upstream compared ids only, so two local files (both without an id) looked alike.
        return other is not None and self.id == other.id and self.uri == other.uri


@record(frozen=True)
class Device:
    id: str | None
    name: str
    type: str
    volume_percent: int | float | None
    supports_volume: bool
    is_private_session: bool
    is_restricted: bool

    def payload(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "isPrivateSession": self.is_private_session,
            "isRestricted": self.is_restricted,
            "name": self.name,
            "supportsVolume": self.supports_volume,
            "type": self.type,
            "volumePercent": self.volume_percent,
        }

    def identity(self) -> tuple[str | None, str, str]:
        return (self.id, self.name, self.type)


@record(frozen=True)
class PlaybackContext:
    uri: str
    href: str | None
    type: str

    def payload(self) -> dict[str, Any]:
        return {"href": self.href, "name": None, "type": self.type, "uri": self.uri}


@record(frozen=True)
class Snapshot:
    track: Track | None
    device: Device
    is_playing: bool
    shuffle: bool
    repeat: str
    playing_type: str
    progress: int | float
    timestamp: int
    context: PlaybackContext | None

    def modes(self) -> dict[str, Any]:
        return {"repeat": self.repeat, "shuffle": self.shuffle}

    def init_payload(self, seq: int) -> dict[str, Any]:
        return {
            "context": self.context.payload() if self.context else None,
            "device": self.device.payload(),
            "isPlaying": self.is_playing,
            "modes": self.modes(),
            "playingType": self.playing_type,
            "progress": self.progress,
            "seq": seq,
            "timestamp": self.timestamp,
            "track": self.track.payload() if self.track else None,
        }


def idle_snapshot(now_ms: int) -> Snapshot:
    """What Spotify's 204 (nothing active) becomes."""
    return Snapshot(
        track=None,
        device=Device(None, IDLE_DEVICE_NAME, "unknown", None, False, False, False),
        is_playing=False,
        shuffle=False,
        repeat="off",
        playing_type="unknown",
        progress=0,
        timestamp=now_ms,
        context=None,
    )


def _str(value: Any, default: str = "") -> str:
    return value if isinstance(value, str) else default


def _opt_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _num(value: Any, default: int | float | None = 0) -> int | float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return default
    if isinstance(value, float) and not math.isfinite(value):
        return default
    return value


def _bool(value: Any) -> bool:
    return value if isinstance(value, bool) else False


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _first_image(images: Any) -> str | None:
    if isinstance(images, list):
        for image in images:
            url = _dict(image).get("url")
            if isinstance(url, str) and url:
                return url
    return None


def parse_track(item: Any) -> Track | None:
    if not isinstance(item, dict):
        return None
    artists = [
        name
        for a in (item.get("artists") if isinstance(item.get("artists"), list) else [])
        if isinstance(name := _dict(a).get("name"), str)
    ]
    album = _dict(item.get("album"))
    show = _dict(item.get("show"))  # an episode has a show instead of album and artists
    art = _first_image(album.get("images")) or _first_image(item.get("images"))
    isrc = _dict(item.get("external_ids")).get("isrc")
    artist = ", ".join(artists) if artists else _str(show.get("publisher"))
    return Track(
        id=_str(item.get("id")),
        uri=_str(item.get("uri")),
        name=_str(item.get("name"), UNKNOWN_TRACK_NAME),
        artist=artist,
        album_name=_str(album.get("name")) or _str(show.get("name")),
        album_art=art,
        duration=int(_num(item.get("duration_ms")) or 0),
        explicit=_bool(item.get("explicit")),
        is_local=_bool(item.get("is_local")),
        popularity=_num(item.get("popularity")) or 0,
        preview_url=_opt_str(item.get("preview_url")),
        first_artist=artists[0] if artists else "",
        isrc=isrc if isinstance(isrc, str) and isrc else None,
    )


def parse_device(raw: Any) -> Device:
    data = _dict(raw)
    kind = _str(data.get("type"), "unknown").lower()
    return Device(
        id=_opt_str(data.get("id")),
        name=_str(data.get("name"), UNKNOWN_DEVICE_NAME) if data else UNKNOWN_DEVICE_NAME,
        type=kind if kind in DEVICE_TYPES else "unknown",
        volume_percent=_num(data.get("volume_percent"), None),
        supports_volume=_bool(data.get("supports_volume")),
        is_private_session=_bool(data.get("is_private_session")),
        is_restricted=_bool(data.get("is_restricted")),
    )


def parse_context(raw: Any) -> PlaybackContext | None:
    data = _dict(raw)
    uri = data.get("uri")
    if not isinstance(uri, str):
        return None
    kind = _str(data.get("type")).lower()
    return PlaybackContext(
        uri=uri,
        href=_opt_str(data.get("href")),
        type=kind if kind in CONTEXT_TYPES else "playlist",
    )


def parse_playback(data: Any, now_ms: int) -> Snapshot:
    """One `GET /me/player` answer (None for a 204) as a Snapshot stamped `now_ms`.

    Lenient: a missing or odd field gets the value the client's schema allows. Only an answer
    that is not a JSON object is an `InvalidPlayback`."""
    if data is None:
        return idle_snapshot(now_ms)
    if not isinstance(data, dict):
        raise InvalidPlayback("Invalid playback response from Spotify")
    repeat = data.get("repeat_state")
    playing_type = data.get("currently_playing_type")
    return Snapshot(
        track=parse_track(data.get("item")),
        device=parse_device(data.get("device")),
        is_playing=_bool(data.get("is_playing")),
        shuffle=_bool(data.get("shuffle_state")),
        repeat=repeat if repeat in REPEAT_STATES else "off",
        playing_type=playing_type if playing_type in PLAYING_TYPES else "unknown",
        progress=_num(data.get("progress_ms")) or 0,
        timestamp=now_ms,
        context=parse_context(data.get("context")),
    )


# -- the delta engine ---------------------------------------------------------------------------


@record(frozen=True)
class Event:
    name: str
    data: dict[str, Any]


@record(frozen=True)
class Transition:
    """A track that gave way to another: what played, from when, until when (ms), and the
    track that took its place (which tells a change the mix made itself, e.g. a steer)."""

    track: Track
    started_ms: int
    ended_ms: int
    next_track: Track | None = None

    @property
    def listen_ms(self) -> int:
        return max(0, self.ended_ms - self.started_ms)


@record
class Observation:
    events: list[Event] = field(default_factory=list)
    transition: Transition | None = None
    check_queue: bool = False


class DeltaEngine:
    """Successive snapshots -> events. One per stream; never shared."""

    def __init__(
        self,
        *,
        opened_ms: int,
        max_errors: int = MAX_CONSECUTIVE_ERRORS,
        queue_check_every: int = QUEUE_CHECK_EVERY,
    ) -> None:
        self.seq = 0
        self.errors = 0
        self.active_polls = 0
        self.max_errors = max_errors
        self.queue_check_every = queue_check_every
        self.prev: Snapshot | None = None
        self.idle = False
        # The first track is measured from the moment the stream opened, as upstream.
        self.track_started_ms = opened_ms

    def next_seq(self) -> int:
        seq = self.seq
        self.seq += 1
        return seq

    # -- fixed events ---------------------------------------------------------------------------
    @staticmethod
    def connected(interval_ms: int) -> Event:
        return Event("connected", {"message": CONNECTED_MESSAGE, "pollingInterval": interval_ms})

    @staticmethod
    def auth_expired() -> Event:
        return Event("auth_expired", {"message": AUTH_EXPIRED_MESSAGE})

    @staticmethod
    def reconnect(message: str = LIFETIME_MESSAGE) -> Event:
        return Event("reconnect", {"message": message})

    def queue_low(self, depth: int) -> Event:
        return Event("queue_low", {"depth": depth, "seq": self.next_seq()})

    def failure(self, message: str) -> tuple[Event, bool]:
        """One more consecutive failure: the `error` event, and whether the stream must end."""
        self.errors += 1
        remaining = max(0, self.max_errors - self.errors)
        if remaining == 0:
            return Event("error", {"message": TOO_MANY_ERRORS_MESSAGE, "retriesRemaining": 0}), True
        return Event("error", {"message": message, "retriesRemaining": remaining}), False

    # -- snapshots ------------------------------------------------------------------------------
    def _init(self, snap: Snapshot) -> Event:
        return Event("init", snap.init_payload(self.next_seq()))

    def observe(self, snap: Snapshot) -> Observation:
        """The events for a successful poll (and resets the error count)."""
        self.errors = 0
        out = Observation()
        prev = self.prev
        self.prev = snap
        now_idle = snap.track is None
        if prev is None or now_idle != self.idle:
            if now_idle:
                out.events.append(
                    self._init(snap) if prev is None else Event("idle", {"seq": self.next_seq()})
                )
            else:
                out.events.append(self._init(snap))
                if prev is not None:
                    # Back from idle: the new track starts now (upstream kept the old start).
                    self.track_started_ms = snap.timestamp
            self.idle = now_idle
            return out
        if now_idle:
            return out
        self._deltas(prev, snap, out)
        if snap.is_playing:
            out.events.append(Event("tick", {"p": snap.progress, "ts": snap.timestamp}))
        self.active_polls += 1
        out.check_queue = self.active_polls % self.queue_check_every == 0
        return out

    def _deltas(self, prev: Snapshot, snap: Snapshot, out: Observation) -> None:
        events = out.events
        track = snap.track
        assert track is not None  # callers handle idle
        if not track.same_as(prev.track):
            events.append(Event("track", {**track.payload(), "seq": self.next_seq()}))
            if prev.track is not None:
                out.transition = Transition(
                    prev.track, self.track_started_ms, snap.timestamp, next_track=track
                )
            self.track_started_ms = snap.timestamp
        if prev.is_playing != snap.is_playing:
            events.append(Event("state", {"isPlaying": snap.is_playing, "seq": self.next_seq()}))
        device_changed = prev.device.identity() != snap.device.identity()
        if device_changed:
            events.append(Event("device", {**snap.device.payload(), "seq": self.next_seq()}))
        if prev.shuffle != snap.shuffle or prev.repeat != snap.repeat:
            events.append(Event("modes", {**snap.modes(), "seq": self.next_seq()}))
        if not device_changed and prev.device.volume_percent != snap.device.volume_percent:
            percent = snap.device.volume_percent
            events.append(
                Event(
                    "volume",
                    {"percent": percent if percent is not None else 0, "seq": self.next_seq()},
                )
            )
        prev_uri = prev.context.uri if prev.context else None
        uri = snap.context.uri if snap.context else None
        if prev_uri != uri:
            context = snap.context.payload() if snap.context else None
            events.append(Event("context", {"context": context, "seq": self.next_seq()}))


# -- one poll's answer ----------------------------------------------------------------------------

PollKind = Literal["state", "auth", "error", "budget"]


@record(frozen=True)
class PollAnswer:
    """What one `GET /me/player` gave: a state (`data` None for 204), 401, a failure, or no
    subrequest left. `retry_after` (seconds) comes from a 429."""

    kind: PollKind
    data: Any = None
    message: str = ""
    retry_after: float | None = None


# -- the subrequest allowance -------------------------------------------------------------------


class Allowance:
    """What background work may spend without eating into the polls still to come.

    `tracker` is the request's subrequest budget (None: unlimited, e.g. unit tests), `kv` its
    KV-operation budget. The loop keeps `polls_left` current; each queue check costs one KV read,
    so `queue_checks_left` KV operations stay reserved too."""

    def __init__(self, tracker: Any = None, kv: Any = None) -> None:
        self.tracker = tracker
        self.kv = kv
        self.polls_left = 0
        self.queue_checks_left = 0
        self.refused = 0

    def subrequests_spare(self) -> float:
        if self.tracker is None:
            return math.inf
        return self.tracker.remaining - self.polls_left * POLL_SUBREQUESTS

    def kv_spare(self) -> float:
        if self.kv is None:
            return math.inf
        return self.kv.remaining - self.queue_checks_left

    def allows(self, subrequests: int = 0, kv_ops: int = 0) -> bool:
        ok = self.subrequests_spare() >= subrequests and self.kv_spare() >= kv_ops
        if not ok:
            self.refused += 1
        return ok

    def can_poll(self) -> bool:
        return self.tracker is None or self.tracker.remaining >= POLL_SUBREQUESTS


# -- the loop -----------------------------------------------------------------------------------


@record
class StreamSummary:
    reason: EndReason = "disconnected"
    polls: int = 0
    failures: int = 0
    events: int = 0
    transitions: int = 0
    queue_checks: int = 0
    process_ms: list[float] = field(default_factory=list)
    """Per successful poll: parse + diff + hand-over of the events, in ms (no upstream wait)."""
    fetch_ms: list[float] = field(default_factory=list)
    """Per poll: the whole `GET /me/player` call as the loop saw it, in ms."""


def _wall_ms() -> int:
    return int(time.time() * 1000)


class PlayerStreamLoop:
    """Polls and sends until one of the stream's endings. `run()` returns the summary; it
    propagates cancellation (the client went away) after recording it."""

    def __init__(
        self,
        *,
        fetch: Callable[[], Awaitable[PollAnswer]],
        send: Callable[[Event], Awaitable[bool]],
        on_transition: Callable[[Transition], None] | None = None,
        on_queue_check: Callable[[], None] | None = None,
        poll_seconds: float = POLL_SECONDS_DEFAULT,
        lifetime_seconds: float = LIFETIME_SECONDS_DEFAULT,
        allowance: Allowance | None = None,
        clock: Callable[[], float] | None = None,
        wall_ms: Callable[[], int] = _wall_ms,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        perf: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.fetch = fetch
        self._send = send
        self.on_transition = on_transition
        self.on_queue_check = on_queue_check
        self.poll_seconds = max(POLL_SECONDS_MIN, poll_seconds)
        self.lifetime_seconds = lifetime_seconds
        self.allowance = allowance or Allowance()
        self._clock = clock
        self.wall_ms = wall_ms
        self.sleep = sleep
        self.perf = perf
        self.engine = DeltaEngine(opened_ms=wall_ms())
        self.summary = StreamSummary()
        self.stopped = False

    def clock(self) -> float:
        if self._clock is not None:
            return self._clock()
        return asyncio.get_running_loop().time()

    @property
    def interval_ms(self) -> int:
        return round(self.poll_seconds * 1000)

    def planned_polls(self) -> int:
        """Polls a full lifetime makes: at t = 0, interval, ... while t < lifetime."""
        return max(1, math.ceil(self.lifetime_seconds / self.poll_seconds - 1e-9))

    async def send(self, event: Event) -> bool:
        """Send one event; a False answer means the client is gone and the loop stops."""
        if self.stopped:
            return False
        ok = await self._send(event)
        if ok:
            self.summary.events += 1
        else:
            self.stopped = True
        return ok

    def _reserve(self, deadline: float, next_at: float) -> None:
        left = (
            0 if next_at >= deadline else math.ceil((deadline - next_at) / self.poll_seconds - 1e-9)
        )
        self.allowance.polls_left = left
        self.allowance.queue_checks_left = left // QUEUE_CHECK_EVERY + 1

    async def run(self) -> StreamSummary:
        summary = self.summary
        try:
            await self._run()
        except asyncio.CancelledError:
            summary.reason = "disconnected"
            self.stopped = True
            raise
        return summary

    async def _run(self) -> None:
        summary = self.summary
        start = self.clock()
        deadline = start + self.lifetime_seconds
        next_at = start
        self._reserve(deadline, next_at)
        if not await self.send(self.engine.connected(self.interval_ms)):
            summary.reason = "disconnected"
            return
        while not self.stopped:
            now = self.clock()
            if now >= deadline:
                summary.reason = "lifetime"
                await self.send(self.engine.reconnect(LIFETIME_MESSAGE))
                return
            if next_at > now:
                await self.sleep(min(next_at, deadline) - now)
                continue
            if not self.allowance.can_poll():
                summary.reason = "budget"
                await self.send(self.engine.reconnect(BUDGET_MESSAGE))
                return
            next_at += self.poll_seconds
            self._reserve(deadline, next_at)
            began = self.perf()
            try:
                answer = await asyncio.wait_for(self.fetch(), max(0.001, deadline - now))
            except TimeoutError:
                continue  # the lifetime ended during the call; the top of the loop says so
            summary.polls += 1
            summary.fetch_ms.append((self.perf() - began) * 1000)
            if answer.kind == "budget":
                summary.reason = "budget"
                await self.send(self.engine.reconnect(BUDGET_MESSAGE))
                return
            if answer.kind == "auth":
                summary.reason = "auth_expired"
                await self.send(self.engine.auth_expired())
                return
            if answer.kind == "error":
                summary.failures += 1
                event, fatal = self.engine.failure(answer.message)
                await self.send(event)
                if fatal:
                    summary.reason = "errors"
                    return
            else:
                if not await self._state(answer.data):
                    return
            if answer.retry_after:
                next_at = max(next_at, self.clock() + answer.retry_after)
            after = self.clock()
            if next_at < after:
                next_at = after  # late: poll again now, without catching up on missed slots
        summary.reason = "disconnected"

    async def _state(self, data: Any) -> bool:
        """Handle a successful answer; False when the stream must stop."""
        began = self.perf()
        try:
            snap = parse_playback(data, self.wall_ms())
        except InvalidPlayback as exc:
            self.summary.failures += 1
            event, fatal = self.engine.failure(str(exc))
            await self.send(event)
            if fatal:
                self.summary.reason = "errors"
            return not fatal and not self.stopped
        seen = self.engine.observe(snap)
        if seen.transition is not None and self.on_transition is not None:
            self.summary.transitions += 1
            self.on_transition(seen.transition)
        for event in seen.events:
            if not await self.send(event):
                return False
        if seen.check_queue and self.on_queue_check is not None:
            self.summary.queue_checks += 1
            self.on_queue_check()
        self.summary.process_ms.append((self.perf() - began) * 1000)
        return True


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]
