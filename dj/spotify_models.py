"""What the DJ API reads from Spotify, and the shapes it hands the web client.

Tolerant by design. The upstream parsed Spotify answers with strict schemas (popularity
required 0-100, image `height`/`width` required, `type: "track"` literal, `images` an array),
so one local file, podcast episode or `images: null` playlist failed a whole call (reference
§4.2). Here:

* every field the client does not strictly need is optional, unknown fields are kept
  (`extra="allow"`) and passed on as Spotify sent them;
* `images: null` (new playlists, local files) becomes `[]`;
* a list item that still cannot be read is left out of its page (and logged) instead of
  failing the page: see `TolerantList`.

February-2026 mappings (reference §11; Spotify's migration guide for development-mode apps),
each applied in a `mode="before"` validator so the web client keeps the shapes of §1.2:

* playlist objects: `items` (`{href, total}` on a simplified playlist, a paging object on a
  full one) → `tracks`, as before the change; the new `items` key is dropped so a page does
  not carry every track twice;
* playlist entries: `item` → `track`; `item` is dropped for the same reason;
* user objects lost `country`, `email`, `product`: they are simply absent (optional) and the
  routes omit them, as the upstream's `optional()` contract allows.

Wire names equal field names (Spotify uses snake_case), so dumps need no aliases.
"""

from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    RootModel,
    TypeAdapter,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    field_validator,
    model_validator,
)

T = TypeVar("T")


def _drop_invalid(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    """Validate a list item by item; items that fail are dropped (and logged), not fatal."""
    if value is None:
        return []
    if not isinstance(value, list):
        return handler(value)
    kept: list[Any] = []
    dropped = 0
    for item in value:
        try:
            kept.extend(handler([item]))
        except ValidationError:
            dropped += 1
    if dropped:
        _log_dropped(dropped)
    return kept


def _log_dropped(count: int) -> None:
    from runtime.context import current_or_none

    ctx = current_or_none()
    if ctx is not None:
        ctx.log.warn("spotify items left out: they did not match the expected shape", count=count)


TolerantList = Annotated[list[T], WrapValidator(_drop_invalid)]
"""A list whose unreadable items are left out instead of failing the whole document."""


class SpotifyObject(BaseModel):
    """Base of every Spotify model: unknown fields are kept and passed on."""

    model_config = ConfigDict(extra="allow")


def _none_to_list(value: Any) -> Any:
    return [] if value is None else value


class Image(SpotifyObject):
    url: str | None = None
    height: int | None = None
    width: int | None = None


class ExternalUrls(SpotifyObject):
    spotify: str | None = None


class ArtistSimple(SpotifyObject):
    id: str | None = None
    name: str = ""
    type: str = "artist"
    uri: str | None = None
    href: str | None = None
    external_urls: ExternalUrls = Field(default_factory=ExternalUrls)


class ArtistFull(ArtistSimple):
    genres: TolerantList[str] = []
    images: TolerantList[Image] = []
    popularity: int | None = Field(None, description="Removed for development-mode apps (2026).")
    followers: dict[str, Any] | None = None


class AlbumSimple(SpotifyObject):
    id: str | None = None
    name: str = ""
    album_type: str | None = None
    total_tracks: int | None = None
    release_date: str | None = None
    release_date_precision: str | None = None
    type: str = "album"
    uri: str | None = None
    href: str | None = None
    external_urls: ExternalUrls = Field(default_factory=ExternalUrls)
    artists: TolerantList[ArtistSimple] = []
    images: TolerantList[Image] = []


class Track(SpotifyObject):
    """A track, a local file (`is_local`, ids null) or a podcast episode (`type: "episode"`)."""

    id: str | None = None
    name: str = ""
    type: str = "track"
    uri: str | None = None
    href: str | None = None
    duration_ms: int | None = None
    explicit: bool = False
    is_local: bool = False
    preview_url: str | None = None
    popularity: int | None = Field(None, description="Removed for development-mode apps (2026).")
    disc_number: int | None = None
    track_number: int | None = None
    external_ids: dict[str, Any] = {}
    external_urls: ExternalUrls = Field(default_factory=ExternalUrls)
    artists: TolerantList[ArtistSimple] = []
    album: AlbumSimple | None = None

    @field_validator("external_ids", mode="before")
    @classmethod
    def _ids(cls, value: Any) -> Any:
        return {} if value is None else value


class UserRef(SpotifyObject):
    """A playlist owner or `added_by` user."""

    id: str | None = None
    display_name: str | None = None
    type: str = "user"
    uri: str | None = None
    href: str | None = None
    external_urls: ExternalUrls = Field(default_factory=ExternalUrls)


class PlaylistEntry(SpotifyObject):
    """A playlist track object. Spotify's 2026 `item` is served as `track`, as before."""

    added_at: str | None = None
    added_by: UserRef | None = None
    is_local: bool = False
    primary_color: str | None = None
    track: Track | None = None
    video_thumbnail: dict[str, Any] | None = None

    @model_validator(mode="before")
    @classmethod
    def _item_to_track(cls, data: Any) -> Any:
        if isinstance(data, dict) and "item" in data:
            data = dict(data)
            item = data.pop("item")
            if data.get("track") is None:
                data["track"] = item
        return data


class TracksRef(SpotifyObject):
    href: str | None = None
    total: int = 0


class Paging(SpotifyObject, Generic[T]):
    href: str | None = None
    items: TolerantList[T] = []
    limit: int = 0
    next: str | None = None
    offset: int = 0
    previous: str | None = None
    total: int = 0


def _playlist_items_to_tracks(data: Any) -> Any:
    """`items` → `tracks` on a playlist object (simplified or full)."""
    if isinstance(data, dict) and "items" in data:
        data = dict(data)
        items = data.pop("items")
        if data.get("tracks") is None:
            data["tracks"] = items
    return data


class PlaylistSimple(SpotifyObject):
    """A playlist in `/me/playlists`; `tracks` holds `{href, total}` (Spotify 2026: `items`)."""

    id: str
    name: str = ""
    description: str | None = None
    collaborative: bool = False
    public: bool | None = None
    snapshot_id: str | None = None
    type: str = "playlist"
    uri: str | None = None
    href: str | None = None
    external_urls: ExternalUrls = Field(default_factory=ExternalUrls)
    images: TolerantList[Image] = []
    owner: UserRef | None = None
    tracks: TracksRef = Field(default_factory=TracksRef)

    @model_validator(mode="before")
    @classmethod
    def _items_to_tracks(cls, data: Any) -> Any:
        return _playlist_items_to_tracks(data)


class PlaylistEntriesPage(Paging[PlaylistEntry]):
    pass


class PlaylistFull(PlaylistSimple):
    """A created playlist: `tracks` is a paging object of entries (Spotify 2026: `items`)."""

    followers: dict[str, Any] | None = None
    tracks: PlaylistEntriesPage = Field(default_factory=PlaylistEntriesPage)  # type: ignore[assignment]


class PlaylistPage(Paging[PlaylistSimple]):
    pass


class TrackPage(Paging[Track]):
    pass


class AlbumPage(Paging[AlbumSimple]):
    pass


class ArtistPage(Paging[ArtistFull]):
    pass


class SearchResult(SpotifyObject):
    """`GET /search`; only the requested kinds are present."""

    tracks: TrackPage | None = None
    albums: AlbumPage | None = None
    artists: ArtistPage | None = None
    playlists: PlaylistPage | None = None

    def to_client(self) -> dict[str, Any]:
        """The kinds Spotify returned, absent ones left out (not `null`), as the upstream did."""
        out = self.model_dump(mode="json")
        return {key: value for key, value in out.items() if value is not None}


class SpotifyUser(SpotifyObject):
    """`GET /me`. Since 2026 development-mode apps get no country, email or product."""

    id: str
    display_name: str | None = None
    country: str | None = None
    email: str | None = None
    product: str | None = None


class SnapshotResult(SpotifyObject):
    snapshot_id: str | None = None


class TokenGrant(SpotifyObject):
    """The accounts service's answer to a code exchange or a refresh."""

    access_token: str = Field(min_length=1)
    expires_in: int
    token_type: str = "Bearer"
    scope: str = ""
    refresh_token: str | None = None


class PlayerDevice(SpotifyObject):
    id: str | None = None
    name: str = ""
    type: str | None = None
    is_active: bool = False
    volume_percent: int | None = None


# The player proxy passes Spotify's answers on as they came, and error bodies are built as dicts:
# the models below only document responses, so the Worker does not build them (`defer_build`).


class PlaybackState(SpotifyObject, defer_build=True):
    """`GET /me/player`, passed on as Spotify sent it (204 becomes the idle shape)."""

    device: PlayerDevice | None = None
    is_playing: bool = False
    item: Track | None = None
    progress_ms: int | None = None
    context: dict[str, Any] | None = None
    shuffle_state: bool | None = None
    repeat_state: str | None = None
    currently_playing_type: str | None = None


class Devices(SpotifyObject, defer_build=True):
    devices: TolerantList[PlayerDevice] = []


class PlayerQueue(SpotifyObject, defer_build=True):
    currently_playing: Track | None = None
    queue: TolerantList[Track] = []


# -- errors the routes answer with ----------------------------------------------------------


class ErrorBody(BaseModel, defer_build=True):
    error: str


class UpstreamErrorBody(BaseModel, defer_build=True):
    """A failure that came from Spotify; `details` is Spotify's own error text."""

    error: str
    details: str | None = None


class ValidationIssue(BaseModel):
    in_: Literal["path", "query", "header", "body"] = Field(alias="in")
    path: list[str | int]
    code: str
    message: str


class ValidationErrorInfo(BaseModel):
    name: str
    message: str = Field(description="The issues as a JSON string (zod-validator's shape).")
    issues: list[ValidationIssue]


class ValidationEnvelope(BaseModel, defer_build=True):
    """The runtime's 400 for input that fails its model (`runtime.errors`)."""

    success: Literal[False]
    error: ValidationErrorInfo


class BadRequest(RootModel[UpstreamErrorBody | ValidationEnvelope], defer_build=True):
    """A 400: invalid input (validation envelope) or Spotify's own 400 passed on."""


def parse_as(model: Any, data: Any) -> Any:
    """Validate plain data against `model` (raises pydantic's ValidationError)."""
    return TypeAdapter(model).validate_python(data)
