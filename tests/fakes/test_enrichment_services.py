from __future__ import annotations

import httpx

from fakes.catalog import CATALOG
from fakes.deezer import FakeDeezer
from fakes.lastfm import DEFAULT_API_KEY, FakeLastFm
from fakes.musicbrainz import FakeMusicBrainz

UA = {"User-Agent": "DJApp/1.0 (https://dj.example)"}


# ------------------------------------------------------------------ Deezer
def test_deezer_unknown_isrc_is_http_200_with_error_800(
    deezer: FakeDeezer, client: httpx.Client
) -> None:
    r = client.get(f"{deezer.base_url}/track/isrc:INVALID1234567")
    assert r.status_code == 200
    assert r.json() == {"error": {"type": "DataException", "message": "no data", "code": 800}}
    assert client.get(f"{deezer.base_url}/track/abc").json()["error"]["code"] == 800


def test_deezer_isrc_lookup_returns_bpm_gain_rank_and_close_duration(
    deezer: FakeDeezer, client: httpx.Client
) -> None:
    seen_bpm = set()
    for t in CATALOG.tracks:
        dz = CATALOG.deezer_by_spotify.get(t.id)
        if t.isrc is None or dz is None or not dz.direct_isrc_lookup:
            continue
        body = client.get(f"{deezer.base_url}/track/isrc:{t.isrc}").json()
        assert body["isrc"] == t.isrc and abs(body["duration"] - t.duration_ms / 1000) <= 1.5
        assert isinstance(body["rank"], int) and len(body["release_date"]) == 10
        seen_bpm.add("zero" if body["bpm"] == 0 else "null" if body["bpm"] is None else "ok")
        if len(seen_bpm) == 3:
            break
    assert seen_bpm == {"zero", "null", "ok"}


def test_deezer_search_finds_isrc_misses_with_two_versions_lacking_bpm(
    deezer: FakeDeezer, client: httpx.Client
) -> None:
    miss = next(d for d in CATALOG.deezer_by_spotify.values() if not d.direct_isrc_lookup)
    assert client.get(f"{deezer.base_url}/track/isrc:{miss.isrc}").json()["error"]["code"] == 800
    found = client.get(f"{deezer.base_url}/search", params={"q": f"isrc:{miss.isrc}"}).json()
    assert found["total"] == 2
    durations = sorted(d["duration"] for d in found["data"])
    assert durations[1] - durations[0] == 27
    assert all("bpm" not in d and "isrc" not in d for d in found["data"])
    full = client.get(f"{deezer.base_url}/track/{miss.id}").json()
    assert full["bpm"] == miss.bpm


def test_deezer_advanced_search_by_artist_and_track(
    deezer: FakeDeezer, client: httpx.Client
) -> None:
    r = client.get(
        f"{deezer.base_url}/search", params={"q": 'artist:"daft punk" track:"get lucky"'}
    ).json()
    assert [d["title"] for d in r["data"]] == ["Get Lucky"]
    assert client.get(f"{deezer.base_url}/search").json()["error"]["code"] == 501


def test_deezer_quota_is_code_4_with_http_200(client: httpx.Client) -> None:
    with FakeDeezer(quota=(3, 5.0)) as dz:
        bodies = [client.get(f"{dz.base_url}/track/1") for _ in range(4)]
    assert [b.status_code for b in bodies] == [200] * 4
    assert bodies[3].json() == {
        "error": {"type": "Exception", "message": "Quota limit exceeded", "code": 4}
    }


# ----------------------------------------------------------------- Last.fm
def _lfm(fake: FakeLastFm, client: httpx.Client, **params: str) -> httpx.Response:
    base = {"api_key": DEFAULT_API_KEY, "format": "json"}
    return client.get(f"{fake.base_url}/2.0/", params={**base, **params})


def test_lastfm_track_info_numbers_are_strings(lastfm: FakeLastFm, client: httpx.Client) -> None:
    r = _lfm(lastfm, client, method="track.getInfo", artist="Queen", track="Bohemian Rhapsody")
    track = r.json()["track"]
    assert isinstance(track["listeners"], str) and track["listeners"].isdigit()
    assert isinstance(track["playcount"], str) and isinstance(track["duration"], str)
    assert track["artist"]["name"] == "Queen"


def test_lastfm_errors_come_back_as_http_200(lastfm: FakeLastFm, client: httpx.Client) -> None:
    r = _lfm(lastfm, client, method="track.getInfo", artist="Nobody", track="Nothing")
    assert r.status_code == 200
    assert r.json() == {"error": 6, "message": "Track not found", "links": []}
    bad = client.get(
        f"{lastfm.base_url}/2.0/",
        params={
            "method": "track.getInfo",
            "api_key": "wrong",
            "format": "json",
            "artist": "Queen",
            "track": "Bohemian Rhapsody",
        },
    )
    assert bad.status_code == 200 and bad.json()["error"] == 10
    assert _lfm(lastfm, client, method="track.nope").json()["error"] == 3


def test_lastfm_correction_and_autocorrect(lastfm: FakeLastFm, client: httpx.Client) -> None:
    c = _lfm(
        lastfm, client, method="track.getCorrection", artist="Queen", track="Bohemian Rapsody"
    ).json()["corrections"]["correction"]
    assert c["track"]["name"] == "Bohemian Rhapsody" and c["@attr"]["trackcorrected"] == "1"
    unknown = _lfm(lastfm, client, method="track.getCorrection", artist="X", track="Y").json()
    assert isinstance(unknown["corrections"], str)
    assert (
        _lfm(
            lastfm, client, method="track.getInfo", artist="Beatles", track="Here Comes the Sun"
        ).json()["error"]
        == 6
    )
    fixed = _lfm(
        lastfm,
        client,
        method="track.getInfo",
        artist="Beatles",
        track="Here Comes the Sun",
        autocorrect="1",
    ).json()
    assert fixed["track"]["artist"]["name"] == "The Beatles"


def test_lastfm_similar_and_toptags_shapes(lastfm: FakeLastFm, client: httpx.Client) -> None:
    sim = _lfm(
        lastfm,
        client,
        method="track.getSimilar",
        artist="Daft Punk",
        track="One More Time",
        limit="20",
    ).json()["similartracks"]["track"]
    assert len(sim) == 20 and all(0 <= s["match"] <= 1 for s in sim)
    assert isinstance(sim[0]["playcount"], int)
    tags = _lfm(
        lastfm, client, method="track.getTopTags", artist="Daft Punk", track="One More Time"
    ).json()["toptags"]["tag"]
    assert tags[0]["name"] == "electronic" and isinstance(tags[0]["count"], int)


def test_lastfm_artist_info_has_string_stats_and_sometimes_empty_images(
    lastfm: FakeLastFm, client: httpx.Client
) -> None:
    empties = 0
    for a in list(CATALOG.artists.values())[:6]:
        info = _lfm(lastfm, client, method="artist.getInfo", artist=a.name).json()["artist"]
        assert isinstance(info["stats"]["listeners"], str)
        assert info["bio"]["summary"] and info["tags"]["tag"]
        empties += all(i["#text"] == "" for i in info["image"])
    assert 0 < empties < 6


def test_lastfm_without_format_json_answers_xml(lastfm: FakeLastFm, client: httpx.Client) -> None:
    r = client.get(
        f"{lastfm.base_url}/2.0/", params={"method": "track.getInfo", "api_key": DEFAULT_API_KEY}
    )
    assert r.text.startswith("<?xml") and "<lfm" in r.text


# ------------------------------------------------------------- MusicBrainz
def test_musicbrainz_requires_a_user_agent(
    musicbrainz: FakeMusicBrainz, client: httpx.Client
) -> None:
    url = f"{musicbrainz.base_url}/ws/2/recording/"
    r = client.get(
        url, params={"query": 'recording:"x"', "fmt": "json"}, headers={"User-Agent": ""}
    )
    assert r.status_code == 403


def test_musicbrainz_finds_an_isrc_for_a_spotify_track_without_one(
    musicbrainz: FakeMusicBrainz, client: httpx.Client
) -> None:
    t = CATALOG.isrcless_tracks()[0]
    artist = CATALOG.artists[t.artist_ids[0]].name
    r = client.get(
        f"{musicbrainz.base_url}/ws/2/recording/",
        headers=UA,
        params={
            "query": f'recording:"{t.name}" AND artist:"{artist}"',
            "fmt": "json",
            "limit": "5",
        },
    )
    recs = r.json()["recordings"]
    assert len(recs) == 3 and recs[0]["score"] == 100
    with_isrc = [x for x in recs if x.get("isrcs")]
    best = min(with_isrc, key=lambda x: abs(x["length"] - t.duration_ms))
    assert abs(best["length"] - t.duration_ms) < 10_000
    deezer_isrcs = {d.isrc for d in CATALOG.deezer_tracks.values()}
    assert best["isrcs"][0] in deezer_isrcs
    assert any("length" not in x for x in recs)


def test_musicbrainz_answers_503_when_rate_limited(client: httpx.Client) -> None:
    with FakeMusicBrainz(rate=(1, 1.0)) as mb:
        url = f"{mb.base_url}/ws/2/recording/"
        params = {"query": 'recording:"Dreams"', "fmt": "json"}
        codes = [client.get(url, params=params, headers=UA).status_code for _ in range(2)]
    assert codes == [200, 503]


def test_musicbrainz_defaults_to_xml(musicbrainz: FakeMusicBrainz, client: httpx.Client) -> None:
    r = client.get(
        f"{musicbrainz.base_url}/ws/2/recording/",
        headers=UA,
        params={"query": 'recording:"Dreams"'},
    )
    assert r.headers["content-type"].startswith("application/xml") and "<metadata" in r.text
