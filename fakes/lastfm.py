"""Fake Last.fm API 2.0: `GET /2.0/?method=...&api_key=...&format=json`.

Methods: track.getCorrection, track.getInfo, track.getTopTags, track.getSimilar,
artist.getInfo. Quirks reproduced:
- counts in getInfo/artist.getInfo (`listeners`, `playcount`, `duration`) are **strings**;
  getSimilar's `playcount`/`match`/`duration` and getTopTags' `count` are numbers;
- image URLs are sometimes empty strings (`{"#text": "", "size": "small"}`);
- errors are **HTTP 200** `{"error": <int>, "message": ..., "links": []}`: 6 not found,
  10 invalid API key, 3 invalid method, 29 rate limit; a missing required parameter is 6;
- `track.getCorrection` with nothing to correct returns the same names with
  `trackcorrected: "0"`, and for an unknown track a bare string (`"corrections": "\n "`);
- without `format=json` the answer is XML (`<lfm status=...>`);
- `autocorrect=1` resolves the misspellings listed in `catalog.TRACK_CORRECTIONS`.
"""

from __future__ import annotations

import hashlib
from typing import Any

from .base import FakeRequest, FakeResponse, FakeServer, RateLimit
from .catalog import (
    ARTIST_CORRECTIONS,
    CATALOG,
    GENRE_TAGS,
    TRACK_CORRECTIONS,
    Artist,
    Catalog,
    Track,
)

DEFAULT_API_KEY = "fake-lastfm-api-key"
SITE = "https://www.last.fm/music"
IMG = "https://lastfm.freetls.fastly.net/i/u"
STAR = "2a96cbd8b46e442fc41c2b86b821562f.png"  # Last.fm's placeholder image name

ERRORS = {
    2: "Invalid service - This service does not exist",
    3: "Invalid Method - No method with that name in this package",
    6: "Track not found",
    10: "Invalid API key - You must be granted a valid key by last.fm",
    11: "Service Offline - This service is temporarily offline. Try again later.",
    16: "There was a temporary error processing your request. Please try again",
    26: "Suspended API key - Access for your account has been suspended, please contact Last.fm",
    29: "Rate Limit Exceeded - Your IP has made too many requests in a short period",
}


def _q(s: str) -> str:
    return s.replace(" ", "+")


class FakeLastFm(FakeServer):
    service = "lastfm"

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        catalog: Catalog = CATALOG,
        api_keys: tuple[str, ...] = (DEFAULT_API_KEY,),
    ) -> None:
        super().__init__(host, port)
        self.catalog = catalog
        self.api_keys = set(api_keys)
        self.route("GET", "/2.0/", self._dispatch_method, "api")
        self.route("POST", "/2.0/", self._dispatch_method, "api")
        self.route("GET", "/2.0", self._dispatch_method, "api")

    def error_body(self, status: int, message: str | None) -> FakeResponse:
        code = 29 if status == 429 else 11 if status >= 500 else 16
        return FakeResponse.json(
            {"error": code, "message": message or ERRORS[code], "links": []}, status=status
        )

    def rate_limited_response(self, limit: RateLimit) -> FakeResponse:
        return FakeResponse.json({"error": 29, "message": ERRORS[29], "links": []})

    def inject_error(
        self,
        target: str = "*",
        code: int = 6,
        *,
        times: int | None = None,
        skip: int = 0,
        method: str | None = None,
    ) -> None:
        """HTTP 200 with a Last.fm error object. `method` narrows it to one API method."""
        del method  # all methods share one route; use `skip`/`times` to aim
        self.inject(
            target,
            200,
            body={"error": code, "message": ERRORS.get(code, "Error"), "links": []},
            times=times,
            skip=skip,
        )

    # ---------------------------------------------------------------- helpers
    def _err(self, code: int, message: str | None = None, xml: bool = False) -> FakeResponse:
        msg = message or ERRORS.get(code, "Error")
        if xml:
            return FakeResponse.text(
                f'<?xml version="1.0" encoding="UTF-8"?>\n<lfm status="failed">\n'
                f'<error code="{code}">{msg}</error></lfm>',
                content_type="text/xml; charset=utf-8",
            )
        return FakeResponse.json({"error": code, "message": msg, "links": []})

    def _images(self, seed: str, empty: bool) -> list[dict[str, str]]:
        out = []
        for size, px in (
            ("small", "34s"),
            ("medium", "64s"),
            ("large", "174s"),
            ("extralarge", "300x300"),
            ("mega", "300x300"),
        ):
            url = "" if empty else f"{IMG}/{px}/{hashlib.md5(seed.encode()).hexdigest()}.png"
            out.append({"#text": url, "size": size})
        return out

    def _star_images(self) -> list[dict[str, str]]:
        return [
            {"#text": f"{IMG}/{px}/{STAR}", "size": size}
            for size, px in (
                ("small", "34s"),
                ("medium", "64s"),
                ("large", "174s"),
                ("extralarge", "300x300"),
                ("mega", "300x300"),
            )
        ]

    def _artist_ref(self, a: Artist) -> dict[str, str]:
        return {"name": a.name, "mbid": a.mbid, "url": f"{SITE}/{_q(a.name)}"}

    def _resolve_track(self, artist: str, track: str, autocorrect: bool) -> Track | None:
        key = (artist.strip().casefold(), track.strip().casefold())
        if autocorrect and key in TRACK_CORRECTIONS:
            artist, track = TRACK_CORRECTIONS[key]
        elif autocorrect and key[0] in ARTIST_CORRECTIONS:
            artist = ARTIST_CORRECTIONS[key[0]]
        t = self.catalog.track_by_name(artist, track)
        return t if t is not None and t.on_lastfm else None

    def _resolve_artist(self, name: str, autocorrect: bool) -> Artist | None:
        if autocorrect:
            name = ARTIST_CORRECTIONS.get(name.strip().casefold(), name)
        return self.catalog.artist_by_name(name.strip())

    def _tags(self, t: Track) -> list[str]:
        tags = list(GENRE_TAGS.get(t.genre, [t.genre]))
        year = int(self.catalog.albums[t.album_id].release_date[:4])
        decade = f"{year // 10 % 10}0s" if year < 2020 else "2020s"
        extras = [
            decade,
            "favorites",
            "seen live",
            "love",
            "awesome",
            "beautiful",
            "catchy",
            "energetic",
        ]
        return list(dict.fromkeys([*tags, *extras[: 2 + t.index % 7]]))

    # ---------------------------------------------------------------- dispatch
    def _dispatch_method(self, request: FakeRequest) -> FakeResponse:
        params = {k: v[0] for k, v in request.query.items()}
        if request.method == "POST" and request.body:
            params.update(request.form())
        xml = params.get("format") != "json"
        key = params.get("api_key")
        if not key or key not in self.api_keys:
            return self._err(10, xml=xml)
        method = (params.get("method") or "").lower()
        handler = {
            "track.getcorrection": self._correction,
            "track.getinfo": self._info,
            "track.gettoptags": self._toptags,
            "track.getsimilar": self._similar,
            "artist.getinfo": self._artist_info,
        }.get(method)
        if handler is None:
            return self._err(3, xml=xml)
        if xml:
            return FakeResponse.text(
                '<?xml version="1.0" encoding="UTF-8"?>\n<lfm status="ok">\n</lfm>',
                content_type="text/xml; charset=utf-8",
            )
        return handler(params)

    def _need(self, params: dict[str, str], *names: str) -> bool:
        return all(params.get(n) for n in names)

    def _correction(self, p: dict[str, str]) -> FakeResponse:
        if not self._need(p, "artist", "track"):
            return self._err(6, "Invalid parameters - Your request is missing a required parameter")
        key = (p["artist"].strip().casefold(), p["track"].strip().casefold())
        t = self._resolve_track(p["artist"], p["track"], True)
        if t is None:
            return FakeResponse.json({"corrections": "\n            "})
        a = self.catalog.artists[t.artist_ids[0]]
        corrected_track = "1" if key in TRACK_CORRECTIONS and key[1] != t.name.casefold() else "0"
        corrected_artist = "1" if key[0] != a.name.casefold() else "0"
        return FakeResponse.json(
            {
                "corrections": {
                    "correction": {
                        "track": {
                            "name": t.name,
                            "mbid": "",
                            "url": f"{SITE}/{_q(a.name)}/_/{_q(t.name)}",
                            "artist": self._artist_ref(a),
                        },
                        "@attr": {
                            "index": "0",
                            "artistcorrected": corrected_artist,
                            "trackcorrected": corrected_track,
                        },
                    }
                }
            }
        )

    def _info(self, p: dict[str, str]) -> FakeResponse:
        if not self._need(p, "artist", "track") and not p.get("mbid"):
            return self._err(6, "Invalid parameters - Your request is missing a required parameter")
        t = self._resolve_track(
            p.get("artist", ""), p.get("track", ""), p.get("autocorrect") == "1"
        )
        if t is None:
            return self._err(6)
        a = self.catalog.artists[t.artist_ids[0]]
        album = self.catalog.albums[t.album_id]
        body: dict[str, Any] = {
            "name": t.name,
            "mbid": "" if t.index % 4 == 0 else _mbid(t.id),
            "url": f"{SITE}/{_q(a.name)}/_/{_q(t.name)}",
            "duration": "0" if t.index % 6 == 0 else str(t.duration_ms // 1000 * 1000),
            "streamable": {"#text": "0", "fulltrack": "0"},
            "listeners": str(t.lastfm_listeners),
            "playcount": str(t.lastfm_playcount),
            "artist": self._artist_ref(a),
            "toptags": {
                "tag": [
                    {"name": n, "url": f"https://www.last.fm/tag/{_q(n)}"}
                    for n in self._tags(t)[:5]
                ]
            },
        }
        if t.index % 5 != 2:  # some tracks have no album block at all
            body["album"] = {
                "artist": a.name,
                "title": album.name,
                "mbid": _mbid(album.id),
                "url": f"{SITE}/{_q(a.name)}/{_q(album.name)}",
                "image": self._images(album.id, empty=t.index % 7 == 0),
                "@attr": {"position": str(t.track_number)},
            }
        if t.index % 3 == 0:
            body["wiki"] = {
                "published": "04 Mar 2009, 17:12",
                "summary": f'"{t.name}" is a song by {a.name}. <a href="{body["url"]}">'
                f"Read more on Last.fm</a>.",
                "content": f'"{t.name}" is a song by {a.name} from "{album.name}". '
                f"User-contributed text is available under the Creative Commons "
                f"By-SA License; additional terms may apply.",
            }
        return FakeResponse.json({"track": body})

    def _toptags(self, p: dict[str, str]) -> FakeResponse:
        if not self._need(p, "artist", "track"):
            return self._err(6, "Invalid parameters - Your request is missing a required parameter")
        t = self._resolve_track(p["artist"], p["track"], p.get("autocorrect") == "1")
        if t is None:
            return self._err(6)
        a = self.catalog.artists[t.artist_ids[0]]
        tags = self._tags(t)
        return FakeResponse.json(
            {
                "toptags": {
                    "tag": [
                        {
                            "count": max(1, 100 - i * 13),
                            "name": n,
                            "url": f"https://www.last.fm/tag/{_q(n)}",
                        }
                        for i, n in enumerate(tags)
                    ],
                    "@attr": {"artist": a.name, "track": t.name},
                }
            }
        )

    def _similar(self, p: dict[str, str]) -> FakeResponse:
        if not self._need(p, "artist", "track"):
            return self._err(6, "Invalid parameters - Your request is missing a required parameter")
        t = self._resolve_track(p["artist"], p["track"], p.get("autocorrect") == "1")
        if t is None:
            return self._err(6)
        try:
            limit = int(p.get("limit") or 100)
        except ValueError:
            limit = 100
        others = [o for o in self.catalog.tracks if o.id != t.id and o.on_lastfm]
        others.sort(key=lambda o: (o.genre != t.genre, abs(o.bpm - t.bpm), o.index))
        items = []
        for i, o in enumerate(others[:limit]):
            a = self.catalog.artists[o.artist_ids[0]]
            items.append(
                {
                    "name": o.name,
                    "playcount": o.lastfm_playcount,
                    "mbid": "" if o.index % 4 == 0 else _mbid(o.id),
                    "match": round(max(0.01, 1.0 - i * 0.047), 6),
                    "url": f"{SITE}/{_q(a.name)}/_/{_q(o.name)}",
                    "streamable": {"#text": "0", "fulltrack": "0"},
                    "duration": o.duration_ms // 1000 if o.index % 6 else None,
                    "artist": self._artist_ref(a),
                    "image": self._star_images(),
                }
            )
        a0 = self.catalog.artists[t.artist_ids[0]]
        return FakeResponse.json({"similartracks": {"track": items, "@attr": {"artist": a0.name}}})

    def _artist_info(self, p: dict[str, str]) -> FakeResponse:
        if not p.get("artist") and not p.get("mbid"):
            return self._err(6, "Invalid parameters - Your request is missing a required parameter")
        a = self._resolve_artist(p.get("artist", ""), p.get("autocorrect") == "1")
        if a is None:
            return self._err(6, "The artist you supplied could not be found")
        peers = [
            o
            for o in self.catalog.artists.values()
            if o.id != a.id and set(o.genres) & set(a.genres)
        ][:5]
        tags = list(dict.fromkeys(g for genre in a.genres for g in GENRE_TAGS.get(genre, [genre])))
        url = f"{SITE}/{_q(a.name)}"
        return FakeResponse.json(
            {
                "artist": {
                    "name": a.name,
                    "mbid": a.mbid,
                    "url": url,
                    "image": self._images(a.id, empty=a.lastfm_images_empty),
                    "streamable": "0",
                    "ontour": "0",
                    "stats": {"listeners": str(a.listeners), "playcount": str(a.playcount)},
                    "similar": {
                        "artist": [
                            {
                                "name": o.name,
                                "url": f"{SITE}/{_q(o.name)}",
                                "image": self._images(o.id, empty=True),
                            }
                            for o in peers
                        ]
                    },
                    "tags": {
                        "tag": [
                            {"name": n, "url": f"https://www.last.fm/tag/{_q(n)}"} for n in tags[:5]
                        ]
                    },
                    "bio": {
                        "links": {"link": {"#text": "", "rel": "original", "href": f"{url}/+wiki"}},
                        "published": "10 Feb 2006, 20:52",
                        "summary": f'{a.name} make {a.genres[0]} records. <a href="{url}">Read more '
                        f"on Last.fm</a>",
                        "content": f"{a.name} make {a.genres[0]} records that many people enjoy. "
                        f'<a href="{url}">Read more on Last.fm</a>. User-contributed text '
                        f"is available under the Creative Commons By-SA License.",
                    },
                }
            }
        )


def _mbid(seed: str) -> str:
    h = hashlib.sha256(("lfm:" + seed).encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"
