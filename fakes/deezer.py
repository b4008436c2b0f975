"""Fake Deezer public API (no auth): `/track/{id}`, `/track/isrc:{ISRC}`, `/search`.

Quirks reproduced:
- Errors are **HTTP 200** with `{"error": {"type", "message", "code"}}`: not found is
  `DataException`/"no data"/800, a missing `q` is 501, quota exceeded is `Exception`/
  "Quota limit exceeded"/4 (the real limit is 50 requests per 5 seconds; enable it with
  `quota=(50, 5.0)` or `rate_limit(...)`).
- `bpm` is often 0 and sometimes null; `gain` can be null; durations are whole seconds and
  can differ from Spotify's by a second.
- Search results are the short track form: no `bpm`, `gain`, `isrc` or `release_date`, so a
  client has to follow up with `/track/{id}`.
- Some ISRCs miss on `/track/isrc:` but are found by `/search?q=isrc:`, with two versions of
  different durations (the client must pick the closest).
"""

from __future__ import annotations

import hashlib
from typing import Any

from .base import FakeRequest, FakeResponse, FakeServer, RateLimit
from .catalog import CATALOG, Catalog, DeezerTrack

CDN = "https://cdn-images.dzcdn.net/images"


def deezer_error(type_: str, message: str, code: int) -> dict[str, Any]:
    return {"error": {"type": type_, "message": message, "code": code}}


NO_DATA = deezer_error("DataException", "no data", 800)
QUOTA = deezer_error("Exception", "Quota limit exceeded", 4)


class FakeDeezer(FakeServer):
    service = "deezer"

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        catalog: Catalog = CATALOG,
        quota: tuple[int, float] | None = None,
    ) -> None:
        super().__init__(host, port)
        self.catalog = catalog
        self.route("GET", "/track/{ref}", self._track, "track")
        self.route("GET", "/search", self._search, "search")
        self.route("GET", "/search/track", self._search, "search")
        if quota is not None:
            self.rate_limit("*", quota[0], quota[1])

    def error_body(self, status: int, message: str | None) -> FakeResponse:
        # Deezer's own errors always come back as HTTP 200; an injected non-200 status
        # (e.g. a 502 from its CDN) gets a plain-text body, as a proxy would send.
        if status == 200:
            return FakeResponse.json(deezer_error("Exception", message or "error", 4))
        return FakeResponse.text(message or "Bad Gateway", status)

    def not_found(self, request: FakeRequest) -> FakeResponse:
        return FakeResponse.json(deezer_error("DataException", "no data", 800))

    def rate_limited_response(self, limit: RateLimit) -> FakeResponse:
        return FakeResponse.json(QUOTA)

    def inject_error(
        self, target: str, code: int = 800, *, times: int | None = None, skip: int = 0
    ) -> None:
        """Answer matching calls with HTTP 200 and a Deezer error object (800, 4, 700...)."""
        kinds = {
            4: ("Exception", "Quota limit exceeded"),
            700: ("Exception", "Service busy"),
            800: ("DataException", "no data"),
            300: ("OAuthException", "Invalid OAuth"),
            500: ("ParameterException", "Wrong parameter"),
            501: ("MissingParameterException", "Missing parameters"),
        }
        kind, message = kinds.get(code, ("Exception", "An error occurred"))
        self.inject(target, 200, body=deezer_error(kind, message, code), times=times, skip=skip)

    # ------------------------------------------------------------- serializers
    def _artist(self, aid: str, short: bool = False) -> dict[str, Any]:
        a = self.catalog.artists[aid]
        h = hashlib.md5(a.name.encode()).hexdigest()
        out: dict[str, Any] = {
            "id": a.deezer_id,
            "name": a.name,
            "link": f"https://www.deezer.com/artist/{a.deezer_id}",
            "picture": f"https://api.deezer.com/artist/{a.deezer_id}/image",
            "picture_small": f"{CDN}/artist/{h}/56x56-000000-80-0-0.jpg",
            "picture_medium": f"{CDN}/artist/{h}/250x250-000000-80-0-0.jpg",
            "picture_big": f"{CDN}/artist/{h}/500x500-000000-80-0-0.jpg",
            "picture_xl": f"{CDN}/artist/{h}/1000x1000-000000-80-0-0.jpg",
            "tracklist": f"https://api.deezer.com/artist/{a.deezer_id}/top?limit=50",
            "type": "artist",
        }
        if not short:
            out["share"] = f"https://www.deezer.com/artist/{a.deezer_id}?utm_source=deezer"
            out["radio"] = True
        return out

    def _album(self, alb_id: str, full: bool) -> dict[str, Any]:
        al = self.catalog.albums[alb_id]
        h = hashlib.md5(al.name.encode()).hexdigest()
        out: dict[str, Any] = {
            "id": al.deezer_id,
            "title": al.name,
            "cover": f"https://api.deezer.com/album/{al.deezer_id}/image",
            "cover_small": f"{CDN}/cover/{h}/56x56-000000-80-0-0.jpg",
            "cover_medium": f"{CDN}/cover/{h}/250x250-000000-80-0-0.jpg",
            "cover_big": f"{CDN}/cover/{h}/500x500-000000-80-0-0.jpg",
            "cover_xl": f"{CDN}/cover/{h}/1000x1000-000000-80-0-0.jpg",
            "md5_image": h,
            "tracklist": f"https://api.deezer.com/album/{al.deezer_id}/tracks",
            "type": "album",
        }
        if full:
            out["link"] = f"https://www.deezer.com/album/{al.deezer_id}"
            out["release_date"] = (al.release_date + "-01-01")[:10]
        return out

    def track_json(self, d: DeezerTrack, full: bool = True) -> dict[str, Any]:
        title = d.title + (f" {d.title_version}" if d.title_version else "")
        base: dict[str, Any] = {
            "id": d.id,
            "readable": True,
            "title": title,
            "title_short": d.title,
            "title_version": d.title_version,
            "link": f"https://www.deezer.com/track/{d.id}",
            "duration": d.duration,
            "rank": d.rank,
            "explicit_lyrics": d.explicit,
            "explicit_content_lyrics": 1 if d.explicit else 0,
            "explicit_content_cover": 0,
            "preview": f"https://cdnt-preview.dzcdn.net/api/1/1/a/b/c/0/{d.id:x}.mp3",
            "md5_image": hashlib.md5(str(d.album_id).encode()).hexdigest(),
            "artist": self._artist(d.artist_id, short=not full),
            "album": self._album(d.album_id, full),
            "type": "track",
        }
        if not full:
            return base
        base.update(
            {
                "isrc": d.isrc,
                "share": f"https://www.deezer.com/track/{d.id}?utm_source=deezer",
                "track_position": 1 + d.id % 12,
                "disk_number": 1,
                "release_date": d.release_date,
                "bpm": d.bpm,
                "gain": d.gain,
                "available_countries": ["DE", "FR", "GB", "US"],
                "contributors": [{**self._artist(d.artist_id), "role": "Main"}],
                "track_token": "AAAAAWf" + hashlib.sha1(str(d.id).encode()).hexdigest(),
            }
        )
        return base

    # ---------------------------------------------------------------- handlers
    def _track(self, request: FakeRequest) -> FakeResponse:
        ref = request.params["ref"]
        if ref.lower().startswith("isrc:"):
            isrc = ref[5:]
            hits = [d for d in self.catalog.deezer_by_isrc(isrc) if d.direct_isrc_lookup]
            if not hits:
                return FakeResponse.json(NO_DATA)
            return FakeResponse.json(self.track_json(hits[0]))
        if not ref.isdigit():
            return FakeResponse.json(NO_DATA)
        d = self.catalog.deezer_tracks.get(int(ref))
        return FakeResponse.json(self.track_json(d) if d else NO_DATA)

    def _search(self, request: FakeRequest) -> FakeResponse:
        q = (request.q("q") or "").strip()
        if not q:
            return FakeResponse.json(
                deezer_error("MissingParameterException", "Missing parameters: q", 501)
            )
        try:
            limit = int(request.q("limit") or 25)
            index = int(request.q("index") or 0)
        except ValueError:
            return FakeResponse.json(deezer_error("ParameterException", "Wrong parameter", 500))
        found = self.search(q)
        page = found[index : index + limit]
        body: dict[str, Any] = {
            "data": [self.track_json(d, full=False) for d in page],
            "total": len(found),
        }
        if index + limit < len(found):
            body["next"] = f"{self.base_url}/search?q={q}&index={index + limit}&limit={limit}"
        if index > 0:
            body["prev"] = f"{self.base_url}/search?q={q}&index={max(0, index - limit)}"
        return FakeResponse.json(body)

    def search(self, q: str) -> list[DeezerTrack]:
        """Deezer advanced search: `artist:"A" track:"T" album:"B" isrc:X` plus free words."""
        from .spotify import _fold, parse_query

        terms = [t for alt in parse_query(q) for t in alt]
        out: list[DeezerTrack] = []
        for d in self.catalog.deezer_tracks.values():
            artist = _fold(self.catalog.artists[d.artist_id].name)
            album = _fold(self.catalog.albums[d.album_id].name)
            title = _fold(d.title)
            ok = True
            for fld, value in terms:
                v = _fold(value)
                if fld == "isrc":
                    ok = d.isrc.upper() == value.upper()
                elif fld == "artist":
                    ok = v in artist
                elif fld == "track":
                    ok = v in title
                elif fld == "album":
                    ok = v in album
                elif fld in ("dur_min", "dur_max", "bpm_min", "bpm_max"):
                    num = d.duration if fld.startswith("dur") else (d.bpm or 0)
                    try:
                        ok = num >= float(value) if fld.endswith("min") else num <= float(value)
                    except ValueError:
                        ok = False
                else:
                    ok = all(w in f"{title} {artist} {album}" for w in v.split())
                if not ok:
                    break
            if ok:
                out.append(d)
        out.sort(key=lambda d: -d.rank)
        return out
