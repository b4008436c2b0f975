"""KV key builders for every key the DJ API stores, and the upstream's Java-style hash.

Keys stay byte-for-byte compatible with the TypeScript worker wherever the upstream could
store them, so caches written by either worker are read by the other. Two deliberate changes:

* `spotify:playlist_tracks:` keys are user-scoped (the upstream shared one user's playlist
  page with every other user for five minutes). Old unscoped entries are simply never read
  again and expire on their own (5-minute TTL).
* A key longer than 512 bytes (UTF-8), which Workers KV rejects with a 414, is never built:
  `fit_key` keeps the longest prefix that fits and appends `~` and 16 hex digits of the
  SHA-256 of the whole key. Deterministic, so the same input always finds the same entry;
  the upstream could never store such keys, so no compatibility is lost.
"""

from __future__ import annotations

import hashlib
from urllib.parse import quote

MAX_KEY_BYTES = 512
"""Workers KV's limit on a key, in UTF-8 bytes."""

_DIGEST_CHARS = 16


class InvalidKeyError(ValueError):
    """A key cannot be built (empty or reserved)."""


def java_hash(text: str) -> str:
    """The upstream `hashString`: 31-multiplier over UTF-16 code units, int32 wrap, abs, hex.

    `Math.abs` of -2**31 is 2**31 in JavaScript, rendered `80000000`; Python's `abs` agrees.
    """
    h = 0
    units = text.encode("utf-16-le", errors="surrogatepass")
    for i in range(0, len(units), 2):
        h = (h * 31 + (units[i] | (units[i + 1] << 8))) & 0xFFFFFFFF
    if h >= 0x80000000:
        h -= 0x100000000
    return format(abs(h), "x")


def normalize_track_text(text: str) -> str:
    """Lower-case, then every UTF-16 code unit outside `[a-z0-9]` becomes `_`.

    An astral character (an emoji, say) is two code units in JavaScript, hence two `_`.
    """
    out: list[str] = []
    for char in text.lower():
        if "a" <= char <= "z" or "0" <= char <= "9":
            out.append(char)
        else:
            out.append("__" if ord(char) > 0xFFFF else "_")
    return "".join(out)


def fit_key(key: str) -> str:
    """`key` itself if it fits in 512 UTF-8 bytes, else a deterministic shortened form."""
    if not key:
        raise InvalidKeyError("a KV key cannot be empty")
    if key in (".", ".."):
        raise InvalidKeyError(f"{key!r} is not a valid KV key")
    raw = key.encode("utf-8")
    if len(raw) <= MAX_KEY_BYTES:
        return key
    digest = hashlib.sha256(raw).hexdigest()[:_DIGEST_CHARS]
    room = MAX_KEY_BYTES - 1 - _DIGEST_CHARS
    prefix = raw[:room].decode("utf-8", errors="ignore")  # never split a character
    return f"{prefix}~{digest}"


def _part(value: str) -> str:
    """A user-controlled id placed between `:` separators: `%` and `:` are escaped."""
    return quote(value, safe="") if (":" in value or "%" in value) else value


def bpm_key(spotify_track_id: str) -> str:
    """`bpm:{spotifyTrackId}` in AUDIO_FEATURES_CACHE (Deezer enrichment envelope)."""
    return fit_key(f"bpm:{spotify_track_id}")


def musicbrainz_isrc_key(track_name: str, artist_name: str, duration_ms: int | float) -> str:
    """`musicbrainz:isrc:{trackName}:{artistName}:{floor(durationMs/1000)}s`, raw names."""
    seconds = int(duration_ms // 1000)
    return fit_key(f"musicbrainz:isrc:{track_name}:{artist_name}:{seconds}s")


def lastfm_track_key(artist: str, track: str) -> str:
    """`lastfm:{hash(normalize(artist + '_' + track))}` (Last.fm signals envelope)."""
    return f"lastfm:{java_hash(normalize_track_text(f'{artist}_{track}'))}"


def lastfm_correction_key(artist: str, track: str) -> str:
    """`lastfm:correction:{artist}:{track}` with the raw input names."""
    return fit_key(f"lastfm:correction:{artist}:{track}")


def artist_info_key(artist: str) -> str:
    """`artist_{hash(artist.toLowerCase())}` (Last.fm artist info, no envelope)."""
    return f"artist_{java_hash(artist.lower())}"


def playlist_tracks_key(user_id: str, playlist_id: str, offset: int, limit: int) -> str:
    """`spotify:playlist_tracks:{userId}:{playlistId}:{offset}:{limit}`: user-scoped (§12.14).

    The upstream key had no user id, so a private playlist page fetched with one user's
    token was served to anyone asking for the same id within five minutes.
    """
    if not user_id:
        raise InvalidKeyError("playlist track pages are cached per user: user_id is required")
    return fit_key(
        f"spotify:playlist_tracks:{_part(user_id)}:{_part(playlist_id)}:{int(offset)}:{int(limit)}"
    )


def mix_session_key(spotify_user_id: str) -> str:
    """`mix:{spotifyUserId}` in MIX_SESSIONS."""
    if not spotify_user_id:
        raise InvalidKeyError("a mix session needs a user id")
    return fit_key(f"mix:{spotify_user_id}")


def playlist_event_key(playlist_id: str) -> str:
    """`event:playlist:{playlistId}` in SESSIONS (written by the webhooks worker)."""
    return fit_key(f"event:playlist:{playlist_id}")
