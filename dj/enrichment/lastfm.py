"""Last.fm client: crowd tags, popularity, similar tracks and artist info (reference §4.5).

Per track: `track.getCorrection` (canonical names) → `track.getInfo`, `track.getTopTags`,
`track.getSimilar` (autocorrect=1, limit 20). Per unique artist, once: `artist.getInfo`.
Every method fails on its own; the caller decides what a partial answer is worth.

Quirks handled by the models: counts arrive as strings ("1234"), image URLs as empty
strings, one-item lists as a bare object, empty lists as "", errors as HTTP 200
`{"error": <int>, "message": ...}` (6 = not found, a real answer; any other code - 10 bad
key, 11 offline, 29 rate limit... - is a failure that teaches nothing), and an unknown
track's correction as a bare string.

The cached shapes (`LastFmSignals`, `ArtistInfo`) keep the upstream's camelCase keys so the
entries the TypeScript worker wrote stay readable and the ones written here read there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .common import Outcome, as_list, blank_to_none, error_text, to_int, to_number

if TYPE_CHECKING:
    from runtime.outbound import OutboundClient

SERVICE = "lastfm"
NOT_FOUND_CODE = 6
MAX_TAGS = 10
MAX_SIMILAR_ARTISTS = 10
SIMILAR_LIMIT = 20
CALL_TIMEOUT = 5.0
CALL_RETRIES = 1

_LENIENT = ConfigDict(extra="ignore", populate_by_name=True)


# -- what the API sends --------------------------------------------------------------------


def _count(value: Any) -> int:
    number = to_int(value)
    return number if number is not None and number > 0 else 0


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _opt_text(value: Any) -> str | None:
    value = blank_to_none(value)
    return value if isinstance(value, str) else None


class LfImage(BaseModel):
    model_config = _LENIENT

    url: str | None = Field(default=None, alias="#text")
    size: str = ""

    @field_validator("url", mode="before")
    @classmethod
    def _url(cls, value: Any) -> str | None:
        return _opt_text(value)


def _images(value: Any) -> list[LfImage]:
    out: list[LfImage] = []
    for item in as_list(value):
        try:
            out.append(LfImage.model_validate(item))
        except ValidationError:
            continue
    return out


def pick_image(images: list[LfImage], *sizes: str) -> str | None:
    """The first non-empty URL among `sizes`, in the order given."""
    for size in sizes:
        for image in images:
            if image.size == size and image.url:
                return image.url
    return None


class LfArtistRef(BaseModel):
    model_config = _LENIENT

    name: str = ""
    url: str | None = None

    @field_validator("name", mode="before")
    @classmethod
    def _name(cls, value: Any) -> str:
        return _text(value)

    @field_validator("url", mode="before")
    @classmethod
    def _url(cls, value: Any) -> str | None:
        return _opt_text(value)


def _artist_name(value: Any) -> str:
    """`artist` is an object in track answers and a plain string in album blocks."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return _text(value.get("name"))
    return ""


class LfTrackInfo(BaseModel):
    model_config = _LENIENT

    name: str = ""
    mbid: str | None = None
    url: str | None = None
    duration: int | None = None
    listeners: int = 0
    playcount: int = 0
    album: dict[str, Any] | None = None
    wiki: dict[str, Any] | None = None

    @field_validator("mbid", "url", mode="before")
    @classmethod
    def _opt(cls, value: Any) -> str | None:
        return _opt_text(value)

    @field_validator("listeners", "playcount", mode="before")
    @classmethod
    def _counts(cls, value: Any) -> int:
        return _count(value)

    @field_validator("duration", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> int | None:
        number = to_int(value)
        return number if number else None  # "0" means unknown

    @field_validator("album", "wiki", mode="before")
    @classmethod
    def _objects(cls, value: Any) -> dict[str, Any] | None:
        return value if isinstance(value, dict) else None


# -- what is cached ------------------------------------------------------------------------


class AlbumInfo(BaseModel):
    model_config = _LENIENT

    artist: str = ""
    image: str | None = None
    mbid: str | None = None
    title: str = ""
    url: str | None = None


class WikiInfo(BaseModel):
    model_config = _LENIENT

    content: str = ""
    published: str = ""
    summary: str = ""


class SimilarTrack(BaseModel):
    model_config = _LENIENT

    artist: str
    match: float = 0.0
    name: str


class BioInfo(BaseModel):
    model_config = _LENIENT

    content: str = ""
    summary: str = ""


class ArtistImages(BaseModel):
    model_config = _LENIENT

    large: str | None = None
    medium: str | None = None
    small: str | None = None


class SimilarArtist(BaseModel):
    model_config = _LENIENT

    name: str
    url: str | None = None


class ArtistInfo(BaseModel):
    """The cached value under `artist_{hash}` (plain JSON, no envelope)."""

    model_config = _LENIENT

    bio: BioInfo | None = None
    images: ArtistImages = Field(default_factory=ArtistImages)
    listeners: int = 0
    playcount: int = 0
    similar: list[SimilarArtist] = []
    tags: list[str] = []

    @field_validator("listeners", "playcount", mode="before")
    @classmethod
    def _counts(cls, value: Any) -> int:
        return _count(value)


class LastFmSignals(BaseModel):
    """The cached value under `lastfm:{hash}` (field `signals` of the envelope)."""

    model_config = _LENIENT

    album: AlbumInfo | None = None
    artist_info: ArtistInfo | None = Field(default=None, alias="artistInfo")
    canonical_artist: str = Field(default="", alias="canonicalArtist")
    canonical_track: str = Field(default="", alias="canonicalTrack")
    duration: int | None = None
    listeners: int = 0
    mbid: str | None = None
    playcount: int = 0
    similar: list[SimilarTrack] = []
    top_tags: list[str] = Field([], alias="topTags")
    url: str | None = None
    wiki: WikiInfo | None = None

    @field_validator("listeners", "playcount", mode="before")
    @classmethod
    def _counts(cls, value: Any) -> int:
        return _count(value)

    @property
    def has_data(self) -> bool:
        return bool(self.top_tags) or self.listeners > 0

    @property
    def is_miss(self) -> bool:
        """The upstream's miss: no tags and no listeners."""
        return not self.has_data


def merge_signals(old: LastFmSignals | None, new: LastFmSignals) -> LastFmSignals:
    """Retry-and-merge: `new ?? old`, the larger counts, non-empty lists win."""
    if old is None:
        return new
    return LastFmSignals(
        album=new.album or old.album,
        artistInfo=new.artist_info or old.artist_info,
        canonicalArtist=new.canonical_artist or old.canonical_artist,
        canonicalTrack=new.canonical_track or old.canonical_track,
        duration=new.duration if new.duration is not None else old.duration,
        listeners=max(new.listeners, old.listeners),
        mbid=new.mbid if new.mbid is not None else old.mbid,
        playcount=max(new.playcount, old.playcount),
        similar=new.similar or old.similar,
        topTags=new.top_tags or old.top_tags,
        url=new.url if new.url is not None else old.url,
        wiki=new.wiki or old.wiki,
    )


class Correction(BaseModel):
    """The cached value under `lastfm:correction:{artist}:{track}`."""

    artist: str
    track: str


# -- parsing answers -----------------------------------------------------------------------


def parse_correction(body: dict[str, Any], artist: str, track: str) -> Correction | None:
    corrections = body.get("corrections")
    if not isinstance(corrections, dict):
        return None  # an unknown track: `"corrections": "\n "`
    entries = as_list(corrections.get("correction"))
    for entry in entries:
        found = entry.get("track") if isinstance(entry, dict) else None
        if isinstance(found, dict):
            name = _text(found.get("name")) or track
            canonical_artist = _artist_name(found.get("artist")) or artist
            return Correction(artist=canonical_artist, track=name)
    return None


def parse_track_info(body: dict[str, Any]) -> LfTrackInfo | None:
    raw = body.get("track")
    if not isinstance(raw, dict):
        return None
    try:
        return LfTrackInfo.model_validate(raw)
    except ValidationError:
        return None


def album_of(info: LfTrackInfo) -> AlbumInfo | None:
    raw = info.album
    if raw is None:
        return None
    return AlbumInfo(
        artist=_artist_name(raw.get("artist")),
        image=pick_image(_images(raw.get("image")), "extralarge", "large", "medium"),
        mbid=_opt_text(raw.get("mbid")),
        title=_text(raw.get("title")),
        url=_opt_text(raw.get("url")),
    )


def wiki_of(info: LfTrackInfo) -> WikiInfo | None:
    raw = info.wiki
    if raw is None:
        return None
    return WikiInfo(
        content=_text(raw.get("content")),
        published=_text(raw.get("published")),
        summary=_text(raw.get("summary")),
    )


def parse_tags(container: Any, limit: int = MAX_TAGS) -> list[str]:
    """Tag names from `{"tag": [...]}` (or a bare object, or "")."""
    if not isinstance(container, dict):
        return []
    names = [_text(t.get("name")) for t in as_list(container.get("tag")) if isinstance(t, dict)]
    return [n for n in names if n][:limit]


def parse_similar(body: dict[str, Any]) -> list[SimilarTrack]:
    container = body.get("similartracks")
    if not isinstance(container, dict):
        return []
    out: list[SimilarTrack] = []
    for item in as_list(container.get("track")):
        if not isinstance(item, dict):
            continue
        name = _text(item.get("name"))
        artist = _artist_name(item.get("artist"))
        if name and artist:
            out.append(
                SimilarTrack(artist=artist, name=name, match=to_number(item.get("match")) or 0.0)
            )
    return out


def parse_artist_info(body: dict[str, Any]) -> ArtistInfo | None:
    raw = body.get("artist")
    if not isinstance(raw, dict):
        return None
    bio_raw = raw.get("bio")
    bio = (
        BioInfo(content=_text(bio_raw.get("content")), summary=_text(bio_raw.get("summary")))
        if isinstance(bio_raw, dict)
        else None
    )
    images = _images(raw.get("image"))
    stats = raw.get("stats") if isinstance(raw.get("stats"), dict) else {}
    similar_raw = raw.get("similar") if isinstance(raw.get("similar"), dict) else {}
    similar = [
        SimilarArtist(name=_text(a.get("name")), url=_opt_text(a.get("url")))
        for a in as_list(similar_raw.get("artist"))
        if isinstance(a, dict) and _text(a.get("name"))
    ][:MAX_SIMILAR_ARTISTS]
    return ArtistInfo(
        bio=bio,
        images=ArtistImages(
            small=pick_image(images, "small"),
            medium=pick_image(images, "medium"),
            large=pick_image(images, "large", "extralarge"),
        ),
        listeners=stats.get("listeners"),
        playcount=stats.get("playcount"),
        similar=similar,
        tags=parse_tags(raw.get("tags")),
    )


# -- client --------------------------------------------------------------------------------


class LastFmClient:
    """Each method is one call on lane `lastfm`; the API key never reaches a log line."""

    def __init__(self, http: OutboundClient, base_url: str, api_key: str) -> None:
        self.http = http
        self.base = base_url
        self._api_key = api_key
        self.calls = 0

    async def _call(self, method: str, params: dict[str, Any]) -> Outcome[dict[str, Any]]:
        self.calls += 1
        result = await self.http.fetch(
            service=SERVICE,
            url=self.base,
            params={"method": method, **params, "api_key": self._api_key, "format": "json"},
            timeout=CALL_TIMEOUT,
            retries=CALL_RETRIES,
        )
        if not result.ok:
            return Outcome.failure(error_text(result))
        try:
            body = result.json()
        except ValueError:
            return Outcome.failure("invalid_json")
        if not isinstance(body, dict):
            return Outcome.failure("unexpected body")
        if "error" in body:
            code = to_int(body.get("error"))
            if code == NOT_FOUND_CODE:
                return Outcome.missing("lastfm: not found")
            return Outcome.failure(f"lastfm error {code}")
        return Outcome.found(body)

    async def correction(self, artist: str, track: str) -> Outcome[Correction]:
        """ok(canonical names) or not_found (nothing to correct / unknown track)."""
        answer = await self._call("track.getCorrection", {"artist": artist, "track": track})
        if not answer.ok:
            return answer  # type: ignore[return-value]
        corrected = parse_correction(answer.value or {}, artist, track)
        return Outcome.found(corrected) if corrected else Outcome.missing()

    async def track_info(self, artist: str, track: str) -> Outcome[LfTrackInfo]:
        answer = await self._call(
            "track.getInfo", {"artist": artist, "track": track, "autocorrect": 1}
        )
        if not answer.ok:
            return answer  # type: ignore[return-value]
        info = parse_track_info(answer.value or {})
        return Outcome.found(info) if info else Outcome.failure("invalid track.getInfo body")

    async def top_tags(self, artist: str, track: str) -> Outcome[list[str]]:
        answer = await self._call(
            "track.getTopTags", {"artist": artist, "track": track, "autocorrect": 1}
        )
        if not answer.ok:
            return answer  # type: ignore[return-value]
        return Outcome.found(parse_tags((answer.value or {}).get("toptags")))

    async def similar(self, artist: str, track: str) -> Outcome[list[SimilarTrack]]:
        answer = await self._call(
            "track.getSimilar",
            {"artist": artist, "track": track, "autocorrect": 1, "limit": SIMILAR_LIMIT},
        )
        if not answer.ok:
            return answer  # type: ignore[return-value]
        return Outcome.found(parse_similar(answer.value or {}))

    async def artist_info(self, artist: str) -> Outcome[ArtistInfo]:
        answer = await self._call("artist.getInfo", {"artist": artist, "autocorrect": 1})
        if not answer.ok:
            return answer  # type: ignore[return-value]
        info = parse_artist_info(answer.value or {})
        return Outcome.found(info) if info else Outcome.failure("invalid artist.getInfo body")


def build_signals(
    artist: str,
    track: str,
    info: Outcome[LfTrackInfo],
    tags: Outcome[list[str]],
    similar: Outcome[list[SimilarTrack]],
) -> LastFmSignals:
    """Signals from the three track calls; a failed or missing call leaves its part empty."""
    details = info.value if info.ok else None
    return LastFmSignals(
        album=album_of(details) if details else None,
        canonicalArtist=artist,
        canonicalTrack=track,
        duration=details.duration if details else None,
        listeners=details.listeners if details else 0,
        mbid=details.mbid if details else None,
        playcount=details.playcount if details else 0,
        similar=similar.value if similar.ok and similar.value else [],
        topTags=tags.value if tags.ok and tags.value else [],
        url=details.url if details else None,
        wiki=wiki_of(details) if details else None,
    )
