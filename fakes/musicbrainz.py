"""Fake MusicBrainz WS/2: `GET /ws/2/recording/?query=...&fmt=json&limit=N`.

Quirks reproduced:
- a request without a `User-Agent` header is refused with **403** (MusicBrainz blocks
  anonymous clients);
- over the rate limit the answer is **503** with an error body (MusicBrainz allows about one
  request per second per client; the fake's default window is `rate=(3, 1.0)`, pass
  `rate=None` to disable or tighten it in a test);
- without `fmt=json` the body is XML;
- the Lucene query understands `recording:"..."`, `artist:"..."`, `isrc:...`, AND/OR and
  free words; results carry `score`, `length` (ms, sometimes missing) and `isrcs` (sometimes
  missing), ordered by score.

Recordings: one per catalog track that has an ISRC, plus, for every track Spotify has no ISRC
for, three recordings (the studio one with an ISRC that Deezer knows, a live one of a very
different length, and a demo without ISRC or length).
"""

from __future__ import annotations

import re
from typing import Any
from xml.sax.saxutils import escape

from .base import FakeRequest, FakeResponse, FakeServer, RateLimit
from .catalog import CATALOG, Catalog, MBRecording

RATE_MESSAGE = (
    "Your requests are exceeding the allowable rate limit. Please see "
    "https://wiki.musicbrainz.org/MusicBrainz_API/Rate_Limiting for more "
    "information."
)


class FakeMusicBrainz(FakeServer):
    service = "musicbrainz"

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        catalog: Catalog = CATALOG,
        rate: tuple[int, float] | None = (3, 1.0),
    ) -> None:
        super().__init__(host, port)
        self.catalog = catalog
        self.recordings: list[MBRecording] = self._build()
        self.route("GET", "/ws/2/recording/", self._recording, "recording")
        self.route("GET", "/ws/2/recording", self._recording, "recording")
        if rate is not None:
            self.rate_limit("*", rate[0], rate[1], status=503)

    def _build(self) -> list[MBRecording]:
        from .catalog import make_uuid

        out: list[MBRecording] = []
        for t in self.catalog.tracks:
            if t.isrc is None:
                continue
            a = self.catalog.artists[t.artist_ids[0]]
            al = self.catalog.albums[t.album_id]
            out.append(
                MBRecording(
                    make_uuid("rec:" + t.id),
                    t.name,
                    a.name,
                    a.mbid,
                    t.duration_ms + (t.index % 5) * 150,
                    [t.isrc],
                    al.release_date,
                )
            )
        out.extend(self.catalog.mb_recordings)
        return out

    def error_body(self, status: int, message: str | None) -> FakeResponse:
        return FakeResponse.json(
            {
                "error": message or "Internal server error",
                "help": "For usage, please see: https://musicbrainz.org/development/mmd",
            },
            status=status,
        )

    def rate_limited_response(self, limit: RateLimit) -> FakeResponse:
        response = FakeResponse.json({"error": RATE_MESSAGE}, status=503)
        response.headers["Retry-After"] = str(limit.retry_after)
        return response

    def _recording(self, request: FakeRequest) -> FakeResponse:
        if not (request.headers.get("user-agent") or "").strip():
            return FakeResponse.text(
                "Your request has been blocked: MusicBrainz requires a meaningful User-Agent "
                "header identifying your application.",
                403,
            )
        query = request.q("query")
        if not query:
            return self.error_body(400, "Invalid query: missing query parameter")
        try:
            limit = max(1, min(100, int(request.q("limit") or 25)))
            offset = max(0, int(request.q("offset") or 0))
        except ValueError:
            return self.error_body(400, "Invalid limit or offset")
        scored = self.search(query)
        page = scored[offset : offset + limit]
        if request.q("fmt") != "json":
            return FakeResponse.text(
                self._xml(page, len(scored), offset), content_type="application/xml; charset=UTF-8"
            )
        return FakeResponse.json(
            {
                "created": "2026-03-01T12:00:00.000Z",
                "count": len(scored),
                "offset": offset,
                "recordings": [self._rec_json(r, s) for r, s in page],
            }
        )

    def search(self, query: str) -> list[tuple[MBRecording, int]]:
        alternatives = [self._terms(part) for part in re.split(r"\s+OR\s+", query)]
        results: list[tuple[MBRecording, int]] = []
        for rec in self.recordings:
            best = 0
            for terms in alternatives:
                score = self._score(rec, terms)
                best = max(best, score)
            if best > 0:
                results.append((rec, best))
        results.sort(key=lambda rs: -rs[1])
        return results

    @staticmethod
    def _terms(part: str) -> list[tuple[str, str]]:
        terms: list[tuple[str, str]] = []
        for m in re.finditer(r'(\w+):"((?:[^"\\]|\\.)*)"|(\w+):(\S+)|"([^"]*)"|(\S+)', part):
            if m.group(1):
                terms.append((m.group(1).lower(), m.group(2).replace('\\"', '"')))
            elif m.group(3):
                terms.append((m.group(3).lower(), m.group(4)))
            elif m.group(5) is not None:
                terms.append(("", m.group(5)))
            elif m.group(6) and m.group(6) not in ("AND", "NOT", "&&"):
                terms.append(("", m.group(6)))
        return terms

    @staticmethod
    def _score(rec: MBRecording, terms: list[tuple[str, str]]) -> int:
        def norm(s: str) -> str:
            return re.sub(r"[^\w ]+", "", s.casefold()).strip()

        if not terms:
            return 0
        score = 100
        for fld, value in terms:
            v = norm(value)
            if fld == "isrc":
                if value.upper() not in rec.isrcs:
                    return 0
            elif fld in ("recording", "recordingname", ""):
                title = norm(rec.title)
                if v == title:
                    continue
                if v and v in title:
                    score -= 15
                else:
                    return 0
            elif fld in ("artist", "artistname", "creditname"):
                artist = norm(rec.artist)
                if v == artist:
                    continue
                if v and v in artist:
                    score -= 10
                else:
                    return 0
        if rec.disambiguation:
            score -= 5
        return max(1, score)

    def _rec_json(self, r: MBRecording, score: int) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": r.id,
            "score": score,
            "title": r.title,
            "video": None,
            "artist-credit": [
                {
                    "name": r.artist,
                    "artist": {"id": r.artist_id, "name": r.artist, "sort-name": r.artist},
                }
            ],
            "releases": [],
        }
        if r.length is not None:
            out["length"] = r.length
        if r.first_release_date:
            out["first-release-date"] = r.first_release_date
        if r.isrcs:
            out["isrcs"] = list(r.isrcs)
        if r.disambiguation:
            out["disambiguation"] = r.disambiguation
        return out

    def _xml(self, page: list[tuple[MBRecording, int]], count: int, offset: int) -> str:
        recs = "".join(
            f'<recording id="{r.id}" ns2:score="{s}"><title>{escape(r.title)}</title>'
            + (f"<length>{r.length}</length>" if r.length is not None else "")
            + "</recording>"
            for r, s in page
        )
        return (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<metadata xmlns="http://musicbrainz.org/ns/mmd-2.0#" '
            'xmlns:ns2="http://musicbrainz.org/ns/ext#-2.0">'
            f'<recording-list count="{count}" offset="{offset}">{recs}</recording-list>'
            "</metadata>"
        )
