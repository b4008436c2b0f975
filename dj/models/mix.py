"""Models of a mix session, the value stored under ``mix:{userId}`` (reference §3, §7.1).

Python attributes are snake_case; JSON (input and output) uses the camelCase names the web
client reads (``energyLevel``, ``bpmRange``, ``trackUri``, ``addedBy``, ``vibeScore``,
``playedAt``, ``autoFill`` ...). ``model_dump()``/``model_dump_json()`` emit the camelCase names
by default. Optional-but-not-nullable fields (``albumArt``, ``reason``, ``toolCalls``) are left
out of the output when unset, as JSON.stringify drops ``undefined``; nullable fields (``bpm``,
``energy``, ``plan``, ``tasteModel``, ``bpmLock``) are written as ``null``.

Deliberate difference (reference §12.10): a PlayedTrack or Suggestion BPM outside 20..220
(Deezer reports 0 for "unknown") is normalised to ``None`` while validating, instead of failing
the whole session.
"""

import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    ValidationError,
    field_validator,
)
from pydantic.alias_generators import to_camel

from dj.js_compat import ISO_DATETIME_RE, is_finite_number
from runtime import jsonsafe

MAX_QUEUE = 10
MAX_HISTORY = 20
MAX_SIGNALS = 50
MAX_CONVERSATION = 50
MAX_FALLBACK_POOL = 10
MAX_SKIP_PATTERNS = 20
BPM_MIN = 20
BPM_MAX = 220
ENERGY_MIN = 1
ENERGY_MAX = 10
ERA_MIN = 1900
ERA_MAX = 2100
SESSION_TTL_SECONDS = 8 * 60 * 60

EnergyDirection = Literal["building", "steady", "winding_down"]
AddedBy = Literal["user", "ai"]
SignalType = Literal["completed", "skipped", "partial", "user-queued", "steer"]

# A JSON number: ints stay ints (so "5/10" renders as it does upstream), bools and numeric
# strings are rejected (zod's z.number() rejects them too), NaN/Infinity are rejected.
Number = StrictInt | Annotated[StrictFloat, Field(allow_inf_nan=False)]
Bpm = Annotated[Number, Field(ge=BPM_MIN, le=BPM_MAX)]
Year = Annotated[StrictInt, Field(ge=ERA_MIN, le=ERA_MAX)]
Score = Annotated[Number, Field(ge=0, le=100)]
Unit = Annotated[Number, Field(ge=0, le=1)]
Affinity = Annotated[Number, Field(ge=-1, le=1)]

_UUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
# Roughly what `new URL(x)` accepts: a scheme, a colon, no whitespace.
_URL_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:\S+$")


def _absent_when_none(value: object) -> bool:
    return value is None


def _optional_url() -> Any:
    return Field(default=None, exclude_if=_absent_when_none)


class CamelModel(BaseModel):
    """Base: snake_case attributes, camelCase JSON in and out, unknown keys ignored."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        extra="ignore",  # zod strips unknown keys
    )


def _check_url(value: str | None) -> str | None:
    if value is not None and not _URL_RE.match(value):
        raise ValueError("must be a URL")
    return value


def _check_iso(value: str) -> str:
    if not ISO_DATETIME_RE.match(value):
        raise ValueError("must be an ISO-8601 UTC datetime")
    return value


def normalise_bpm(value: object) -> object:
    """Out-of-range numeric BPM -> None (reference §12.10); anything else passes to validation."""
    if is_finite_number(value) and not (BPM_MIN <= value <= BPM_MAX):  # type: ignore[operator]
        return None
    return value


class BpmRange(CamelModel):
    min: Bpm
    max: Bpm


class EraRange(CamelModel):
    start: Year
    end: Year


class VibeProfile(CamelModel):
    energy_level: Annotated[Number, Field(ge=ENERGY_MIN, le=ENERGY_MAX)] = 5
    energy_direction: EnergyDirection = "steady"
    bpm_range: BpmRange = Field(default_factory=lambda: BpmRange(min=80, max=140))
    era: EraRange = Field(default_factory=lambda: EraRange(start=2000, end=2025))
    genres: list[str] = []
    mood: list[str] = []


class QueuedTrack(CamelModel):
    track_id: str
    track_uri: str
    name: str
    artist: str
    album_art: str | None = _optional_url()
    position: Annotated[StrictInt, Field(ge=0)]
    added_by: AddedBy
    reason: str | None = Field(default=None, exclude_if=_absent_when_none)
    vibe_score: Score

    _url = field_validator("album_art")(_check_url)


class PlayedTrack(CamelModel):
    track_id: str
    track_uri: str
    name: str
    artist: str
    album_art: str | None = _optional_url()
    played_at: str
    bpm: Bpm | None
    energy: Unit | None

    _url = field_validator("album_art")(_check_url)
    _iso = field_validator("played_at")(_check_iso)
    _bpm = field_validator("bpm", mode="before")(normalise_bpm)


class Suggestion(CamelModel):
    track_id: str
    track_uri: str
    name: str
    artist: str
    album_art: str | None = _optional_url()
    bpm: Bpm | None
    reason: str
    vibe_score: Score

    _url = field_validator("album_art")(_check_url)
    _bpm = field_validator("bpm", mode="before")(normalise_bpm)


class ConversationEntry(CamelModel):
    role: Literal["user", "assistant"]
    content: str
    timestamp: Number
    tool_calls: list[str] | None = Field(default=None, exclude_if=_absent_when_none)


class ListenerSignal(CamelModel):
    track_id: str
    type: SignalType
    listen_duration: Annotated[Number, Field(ge=0)]
    track_duration: Annotated[Number, Field(ge=0)]
    timestamp: Number


class TasteModel(CamelModel):
    artist_affinities: dict[str, Affinity] = {}
    genre_weights: dict[str, Affinity] = {}
    bpm_preference: tuple[Bpm, Bpm] = (80, 140)
    energy_preference: Unit = 0.5
    skip_patterns: list[str] = []
    updated_at: Number = 0


class SessionPreferences(CamelModel):
    auto_fill: bool = True
    avoid_genres: list[str] = []
    bpm_lock: BpmRange | None = None
    favorite_artists: list[str] = []


class MixSession(CamelModel):
    id: str
    user_id: str
    created_at: str
    updated_at: str
    vibe: VibeProfile
    queue: Annotated[list[QueuedTrack], Field(max_length=MAX_QUEUE)] = []
    history: Annotated[list[PlayedTrack], Field(max_length=MAX_HISTORY)] = []
    fallback_pool: Annotated[list[str], Field(max_length=MAX_FALLBACK_POOL)] = []
    preferences: SessionPreferences
    conversation: Annotated[list[ConversationEntry], Field(max_length=MAX_CONVERSATION)] = []
    signals: Annotated[list[ListenerSignal], Field(max_length=MAX_SIGNALS)] = []
    # SetPlan is never written by the API; it is kept opaque (any JSON object) and round-tripped.
    plan: dict[str, Any] | None = None
    taste_model: TasteModel | None = None

    @field_validator("id")
    @classmethod
    def _uuid(cls, value: str) -> str:
        if not _UUID_RE.match(value):
            raise ValueError("must be a UUID")
        return value

    _iso = field_validator("created_at", "updated_at")(_check_iso)


def parse_stored(raw: str | bytes | dict[str, Any] | None) -> MixSession | None:
    """The stored ``mix:{userId}`` value -> MixSession, or None when absent, not JSON or invalid.

    Never raises: upstream treats an unparsable stored session as "no session".
    """
    if raw is None:
        return None
    try:
        if isinstance(raw, dict):
            return MixSession.model_validate(raw)
        data = jsonsafe.loads(raw)
        if not isinstance(data, dict):
            return None
        return MixSession.model_validate(data)
    except (ValidationError, ValueError, TypeError, RecursionError):
        return None


def dump_stored(session: MixSession) -> str:
    """Re-validate a session and serialise it for KV (camelCase JSON).

    Raises pydantic.ValidationError when the session no longer satisfies the schema (upstream's
    ``MixSessionSchema.parse`` before every put); the rules in ``dj.mix_rules`` keep every cap.
    """
    data = session.model_dump(mode="json")
    return MixSession.model_validate(data).model_dump_json()
