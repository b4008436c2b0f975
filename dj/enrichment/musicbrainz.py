"""MusicBrainz client: an ISRC for a Spotify track that has none (reference §4.4).

`GET /ws/2/recording/?query=recording:"<name>" AND artist:"<artist>"&fmt=json&limit=5`
with an identifying `User-Agent` (MusicBrainz refuses anonymous clients). Of the recordings
that carry ISRCs and a length, the one closest to Spotify's duration wins if within 10 s;
otherwise the first recording with any ISRC. Calls are paced to one per second, the
service's published limit (its 503 + `Retry-After` is still honoured by the outbound helper).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from .common import Outcome, Pacer, error_text, to_int

if TYPE_CHECKING:
    from runtime.outbound import OutboundClient

SERVICE = "musicbrainz"
USER_AGENT = "DJApp/1.0 (https://dj.current.space)"
DURATION_TOLERANCE_MS = 10_000
RATE_CALLS = 1
RATE_WINDOW = 1.1  # one per second, with a margin for arrival jitter
CALL_TIMEOUT = 5.0
CALL_RETRIES = 2  # a 503 with Retry-After: 1 is MusicBrainz's normal throttling answer


class Recording(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str | None = None
    title: str | None = None
    length: int | None = None
    isrcs: list[str] = []

    @field_validator("length", mode="before")
    @classmethod
    def _length(cls, value: Any) -> int | None:
        return to_int(value)

    @field_validator("isrcs", mode="before")
    @classmethod
    def _isrcs(cls, value: Any) -> list[str]:
        if not isinstance(value, list):
            return []
        return [v for v in value if isinstance(v, str) and v.strip()]


class RecordingSearch(BaseModel):
    model_config = ConfigDict(extra="ignore")

    recordings: list[Recording] = []


def lucene_phrase(text: str) -> str:
    """`text` as a quoted Lucene phrase (backslashes and quotes escaped)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def pick_isrc(recordings: list[Recording], duration_ms: int) -> str | None:
    """Closest-length recording with ISRCs within 10 s, else the first with any ISRC."""
    timed = [r for r in recordings if r.length and r.isrcs]
    if timed:
        best = min(timed, key=lambda r: abs((r.length or 0) - duration_ms))
        if abs((best.length or 0) - duration_ms) < DURATION_TOLERANCE_MS:
            return best.isrcs[0]
    for recording in recordings:
        if recording.isrcs:
            return recording.isrcs[0]
    return None


class MusicBrainzClient:
    def __init__(self, http: OutboundClient, base_url: str, *, pacer: Pacer | None = None) -> None:
        self.http = http
        self.base = base_url.rstrip("/")
        self.pacer = pacer
        self.calls = 0

    async def find_isrc(self, track_name: str, artist_name: str, duration_ms: int) -> Outcome[str]:
        """ok(ISRC), not_found (no recording with an ISRC) or failed."""
        if self.pacer is not None:
            await self.pacer.wait()
        self.calls += 1
        query = f"recording:{lucene_phrase(track_name)} AND artist:{lucene_phrase(artist_name)}"
        result = await self.http.fetch(
            service=SERVICE,
            url=f"{self.base}/recording/",
            params={"query": query, "fmt": "json", "limit": 5},
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
            timeout=CALL_TIMEOUT,
            retries=CALL_RETRIES,
        )
        if not result.ok:
            return Outcome.failure(error_text(result))
        try:
            search = RecordingSearch.model_validate_json(result.body)
        except ValidationError:
            return Outcome.failure("invalid musicbrainz body")
        isrc = pick_isrc(search.recordings, duration_ms)
        return Outcome.found(isrc) if isrc else Outcome.missing("musicbrainz: no isrc")
