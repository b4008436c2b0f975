"""Deezer client (public API, no auth): BPM, gain, rank and release date by ISRC.

The chain for one ISRC (reference §4.3): `GET /track/isrc:{ISRC}`; if Deezer has nothing
there, `GET /search?q=isrc:{ISRC}` and take the result whose duration is closest to
Spotify's, then `GET /track/{id}` for the full record (search results carry no BPM). Each
step fails on its own: a failed direct lookup still lets the search run.

Deezer quirks handled by the models: errors come back as HTTP 200 with `{"error": {...}}`
(code 800 "no data" is a real not-found, anything else a failure); `bpm` is often 0 and
sometimes null (0 means "unknown" and is stored as null, so it is never cached as a
90-day hit: §12.10); `gain`/`rank` can be null; numbers may arrive as strings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from .common import Outcome, Pacer, error_text, js_round, to_int, to_number

if TYPE_CHECKING:
    from runtime.outbound import OutboundClient

SERVICE = "deezer"
MIN_VALID_BPM = 45.0
MAX_VALID_BPM = 220.0
NOT_FOUND_CODE = 800
# Deezer's published quota: 50 requests per 5 seconds.
QUOTA_CALLS = 50
QUOTA_WINDOW = 5.0
CALL_TIMEOUT = 5.0
CALL_RETRIES = 1

Source = Literal["deezer", "deezer-via-musicbrainz"]


def is_valid_bpm(bpm: float | None) -> bool:
    """BPM usable for statistics: 45 to 220 inclusive (upstream `isValidBPM`)."""
    return bpm is not None and MIN_VALID_BPM <= bpm <= MAX_VALID_BPM


class DeezerTrack(BaseModel):
    """The fields of a Deezer track the enrichment uses; everything else is ignored."""

    model_config = ConfigDict(extra="ignore")

    id: int
    title: str | None = None
    duration: int | None = None
    bpm: float | None = None
    gain: float | None = None
    rank: int | None = None
    release_date: str | None = None
    isrc: str | None = None

    @field_validator("id", mode="before")
    @classmethod
    def _id(cls, value: Any) -> Any:
        number = to_int(value)
        return value if number is None else number

    @field_validator("duration", "rank", mode="before")
    @classmethod
    def _ints(cls, value: Any) -> int | None:
        return to_int(value)

    @field_validator("bpm", mode="before")
    @classmethod
    def _bpm(cls, value: Any) -> float | None:
        number = to_number(value)
        # 0 (and nonsense below it) is Deezer's "no BPM": never a value.
        return number if number is not None and number > 0 else None

    @field_validator("gain", mode="before")
    @classmethod
    def _gain(cls, value: Any) -> float | None:
        return to_number(value)

    @field_validator("release_date", "title", "isrc", mode="before")
    @classmethod
    def _text(cls, value: Any) -> str | None:
        if isinstance(value, str) and value.strip() and value != "0000-00-00":
            return value
        return None


class BPMEnrichment(BaseModel):
    """The cached value under `bpm:{spotifyTrackId}` (field `enrichment` of the envelope)."""

    bpm: float | None = None
    gain: float | None = None
    rank: int | None = None
    release_date: str | None = None
    source: Source | None = None

    @property
    def found(self) -> bool:
        return self.source is not None

    @property
    def is_miss(self) -> bool:
        """A miss for caching purposes: no BPM (even if rank/gain/date were found)."""
        return self.bpm is None

    @classmethod
    def empty(cls) -> BPMEnrichment:
        return cls()

    @classmethod
    def from_track(cls, track: DeezerTrack, source: Source) -> BPMEnrichment:
        return cls(
            bpm=track.bpm,
            gain=track.gain,
            rank=track.rank,
            release_date=track.release_date,
            source=source,
        )


def merge_enrichment(old: BPMEnrichment | None, new: BPMEnrichment) -> BPMEnrichment:
    """Field-wise `new ?? old` (the upstream's merge of a retried miss with the old entry)."""
    if old is None:
        return new
    return BPMEnrichment(
        bpm=new.bpm if new.bpm is not None else old.bpm,
        gain=new.gain if new.gain is not None else old.gain,
        rank=new.rank if new.rank is not None else old.rank,
        release_date=new.release_date if new.release_date is not None else old.release_date,
        source=new.source if new.source is not None else old.source,
    )


def _classify(result: Any) -> Outcome[Any]:
    """A Deezer answer as ok (parsed JSON object), not_found (error 800) or failed."""
    if not result.ok:
        return Outcome.failure(error_text(result))
    try:
        body = result.json()
    except ValueError:
        return Outcome.failure("invalid_json")
    if not isinstance(body, dict):
        return Outcome.failure("unexpected body")
    error = body.get("error")
    if error is not None:
        code = to_int(error.get("code")) if isinstance(error, dict) else None
        if code == NOT_FOUND_CODE:
            return Outcome.missing("deezer: no data")
        return Outcome.failure(f"deezer error {code}")
    return Outcome.found(body)


def _track(body: dict[str, Any]) -> Outcome[DeezerTrack]:
    try:
        return Outcome.found(DeezerTrack.model_validate(body))
    except ValidationError:
        return Outcome.failure("invalid track body")


def best_by_duration(candidates: list[DeezerTrack], duration_ms: int) -> DeezerTrack | None:
    """The candidate whose duration (s) is closest to Spotify's rounded seconds; first wins ties."""
    if not candidates:
        return None
    target = js_round(duration_ms / 1000)
    return min(candidates, key=lambda t: abs((t.duration or 0) - target))


class DeezerClient:
    """Calls go through the request's outbound client (lane `deezer`, budget, retries)."""

    def __init__(self, http: OutboundClient, base_url: str, *, pacer: Pacer | None = None) -> None:
        self.http = http
        self.base = base_url.rstrip("/")
        self.pacer = pacer
        self.calls = 0

    async def _get(self, path: str, params: dict[str, Any] | None = None) -> Outcome[Any]:
        if self.pacer is not None:
            await self.pacer.wait()
        self.calls += 1
        result = await self.http.fetch(
            service=SERVICE,
            url=f"{self.base}{path}",
            params=params,
            timeout=CALL_TIMEOUT,
            retries=CALL_RETRIES,
        )
        return _classify(result)

    async def track_by_isrc(self, isrc: str) -> Outcome[DeezerTrack]:
        answer = await self._get(f"/track/isrc:{isrc}")
        return _track(answer.value) if answer.ok else answer

    async def track_by_id(self, track_id: int) -> Outcome[DeezerTrack]:
        answer = await self._get(f"/track/{int(track_id)}")
        return _track(answer.value) if answer.ok else answer

    async def search_isrc(self, isrc: str) -> Outcome[list[DeezerTrack]]:
        answer = await self._get("/search", {"q": f"isrc:{isrc}"})
        if not answer.ok:
            return answer
        found: list[DeezerTrack] = []
        for item in answer.value.get("data") or []:
            try:
                found.append(DeezerTrack.model_validate(item))
            except ValidationError:
                continue
        return Outcome.found(found) if found else Outcome.missing("deezer: empty search")

    async def lookup(self, isrc: str, duration_ms: int) -> Outcome[DeezerTrack]:
        """The full Deezer record for an ISRC: direct lookup, then search + track by id."""
        direct = await self.track_by_isrc(isrc)
        if direct.ok:
            return direct
        search = await self.search_isrc(isrc)
        if not search.ok:
            # Nothing anywhere: a real miss only if no step failed.
            if search.failed:
                return search
            return Outcome.failure(direct.error or "failed") if direct.failed else search
        best = best_by_duration(search.value or [], duration_ms)
        if best is None:
            return Outcome.missing()
        full = await self.track_by_id(best.id)
        if full.ok or full.failed:
            return full
        return Outcome.failure("search hit not found by id") if direct.failed else full
