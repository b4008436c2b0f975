"""The Deezer, MusicBrainz and Last.fm clients against the fakes' quirks."""

from __future__ import annotations

import json

import pytest

from dj.enrichment.common import Pacer, js_round, to_number
from dj.enrichment.deezer import DeezerClient, DeezerTrack, best_by_duration, is_valid_bpm
from dj.enrichment.lastfm import (
    LastFmClient,
    LastFmSignals,
    parse_artist_info,
    parse_correction,
    parse_similar,
    parse_tags,
)
from dj.enrichment.musicbrainz import USER_AGENT, MusicBrainzClient, Recording, pick_isrc
from fakes.catalog import CATALOG
from tests.dj.test_enrichment_support import (  # noqa: F401 - fixtures
    LASTFM_KEY,
    UPSTREAMS,
    World,
    upstream_fakes_fixture,
    world_fixture,
)

DEEZER_BY_SPOTIFY = CATALOG.deezer_by_spotify


def _isrc_track(predicate) -> tuple[str, object]:
    for track in CATALOG.tracks:
        dz = DEEZER_BY_SPOTIFY.get(track.id)
        if track.isrc and dz is not None and predicate(track, dz):
            return track.isrc, (track, dz)
    raise AssertionError("no catalog track matches")


# -- parsing quirks ------------------------------------------------------------------------


def test_deezer_bpm_zero_and_null_become_none_and_strings_become_numbers() -> None:
    zero = DeezerTrack.model_validate({"id": "12", "bpm": 0, "gain": "-7.5", "rank": "5000"})
    assert zero.id == 12 and zero.bpm is None and zero.gain == -7.5 and zero.rank == 5000
    assert DeezerTrack.model_validate({"id": 1, "bpm": None}).bpm is None
    assert DeezerTrack.model_validate({"id": 1, "bpm": "120.5"}).bpm == 120.5
    assert DeezerTrack.model_validate({"id": 1, "release_date": ""}).release_date is None


def test_valid_bpm_is_45_to_220_inclusive() -> None:
    assert [is_valid_bpm(b) for b in (None, 0, 44.9, 45, 220, 220.1)] == [
        False,
        False,
        False,
        True,
        True,
        False,
    ]


def test_best_by_duration_picks_the_closest_rounded_length_first_on_ties() -> None:
    a = DeezerTrack(id=1, duration=200)
    b = DeezerTrack(id=2, duration=227)
    c = DeezerTrack(id=3, duration=201)
    assert best_by_duration([b, a], 200_400).id == 1
    assert best_by_duration([a, c], 200_500).id == 3  # 200.5 s rounds up to 201 (Math.round)
    assert best_by_duration([], 1000) is None


def test_js_round_and_number_coercion() -> None:
    assert (js_round(2.5), js_round(-2.5), js_round(3.49)) == (3, -2, 3)
    assert to_number("1234") == 1234.0 and to_number("") is None and to_number(True) is None


def test_lastfm_single_object_lists_and_empty_strings_are_tolerated() -> None:
    assert parse_tags({"tag": {"name": "rock"}}) == ["rock"]
    assert parse_tags("") == []
    info = parse_artist_info(
        {
            "artist": {
                "name": "X",
                "stats": {"listeners": "1200", "playcount": "99"},
                "image": [
                    {"#text": "", "size": "small"},
                    {"#text": "http://i/l.png", "size": "extralarge"},
                ],
                "similar": {"artist": {"name": "Y", "url": "http://y"}},
                "tags": {"tag": [{"name": "a"}, {"name": ""}]},
                "bio": {"summary": "s", "content": "c"},
            }
        }
    )
    assert info is not None
    assert (info.listeners, info.playcount) == (1200, 99)
    assert info.images.small is None and info.images.large == "http://i/l.png"
    assert [s.name for s in info.similar] == ["Y"] and info.tags == ["a"]
    assert (
        parse_similar(
            {"similartracks": {"track": {"name": "T", "artist": {"name": "A"}, "match": "0.5"}}}
        )[0].match
        == 0.5
    )


def test_lastfm_correction_of_an_unknown_track_is_none() -> None:
    assert parse_correction({"corrections": "\n   "}, "a", "t") is None
    corrected = parse_correction(
        {"corrections": {"correction": {"track": {"name": "T2", "artist": {"name": "A2"}}}}},
        "a",
        "t",
    )
    assert corrected is not None and (corrected.artist, corrected.track) == ("A2", "T2")


def test_cached_signals_keep_the_upstream_camel_case_keys() -> None:
    signals = LastFmSignals(canonicalArtist="Queen", topTags=["rock"], listeners="42")
    dumped = json.loads(signals.model_dump_json(by_alias=True))
    assert dumped["canonicalArtist"] == "Queen" and dumped["topTags"] == ["rock"]
    assert dumped["listeners"] == 42 and "artistInfo" in dumped
    assert LastFmSignals.model_validate(dumped) == signals


def test_musicbrainz_picks_closest_within_ten_seconds_else_first_with_isrc() -> None:
    recs = [
        Recording(length=None, isrcs=[]),
        Recording(length=300_000, isrcs=["LIVE"]),
        Recording(length=200_400, isrcs=["STUDIO"]),
    ]
    assert pick_isrc(recs, 200_000) == "STUDIO"
    assert pick_isrc(recs, 100_000) == "LIVE"  # nothing within 10 s: first with an ISRC
    assert pick_isrc([Recording(isrcs=[])], 1) is None


# -- clients against the fakes -------------------------------------------------------------


async def test_deezer_direct_isrc_lookup_is_one_call(world: World) -> None:
    isrc, (track, dz) = _isrc_track(lambda t, d: d.direct_isrc_lookup)
    client = DeezerClient(world.client(), UPSTREAMS.deezer)
    outcome = await client.lookup(isrc, track.duration_ms)
    assert outcome.ok and outcome.value.id == dz.id
    assert world.fakes.count("deezer") == 1


async def test_deezer_falls_back_to_search_and_the_closest_duration(world: World) -> None:
    isrc, (track, dz) = _isrc_track(lambda t, d: not d.direct_isrc_lookup)
    client = DeezerClient(world.client(), UPSTREAMS.deezer)
    outcome = await client.lookup(isrc, track.duration_ms)
    assert outcome.ok and outcome.value.id == dz.id  # not the +27 s extended mix
    routes = [c.path for c in world.fakes.deezer.calls]
    assert routes[0].startswith("/track/isrc:") and routes[1] == "/search"
    assert routes[2] == f"/track/{dz.id}"


async def test_deezer_200_error_800_is_not_found_and_a_500_is_a_failure(world: World) -> None:
    client = DeezerClient(world.client(), UPSTREAMS.deezer)
    missing = await client.lookup("ZZZZZ0000000", 200_000)
    assert missing.status == "not_found"
    world.fakes.deezer.inject("*", 500)
    failed = await client.lookup("ZZZZZ0000000", 200_000)
    assert failed.failed


async def test_deezer_quota_error_is_a_failure_not_a_miss(world: World) -> None:
    isrc, (track, _) = _isrc_track(lambda t, d: d.direct_isrc_lookup)
    world.fakes.deezer.inject_error("*", code=4)
    outcome = await DeezerClient(world.client(), UPSTREAMS.deezer).lookup(isrc, track.duration_ms)
    assert outcome.failed


async def test_musicbrainz_sends_the_user_agent_and_finds_the_studio_isrc(world: World) -> None:
    track = CATALOG.isrcless_tracks()[0]
    artist = CATALOG.artists[track.artist_ids[0]].name
    outcome = await MusicBrainzClient(world.client(), UPSTREAMS.musicbrainz).find_isrc(
        track.name, artist, track.duration_ms
    )
    assert outcome.ok
    assert outcome.value == DEEZER_BY_SPOTIFY[track.id].isrc
    call = world.fakes.musicbrainz.calls[0]
    assert call.headers.get("user-agent") == USER_AGENT
    assert call.q("fmt") == "json" and call.q("limit") == "5"


async def test_musicbrainz_503_is_retried_then_reported_as_failure(world: World) -> None:
    world.fakes.musicbrainz.inject("*", 503)
    outcome = await MusicBrainzClient(world.client(), UPSTREAMS.musicbrainz).find_isrc("a", "b", 1)
    assert outcome.failed
    assert world.fakes.count("musicbrainz") == 3  # first attempt + 2 retries


async def test_lastfm_numbers_as_strings_and_bad_key_error(world: World) -> None:
    track = CATALOG.tracks[0]
    artist = CATALOG.artists[track.artist_ids[0]].name
    client = LastFmClient(world.client(), UPSTREAMS.lastfm, LASTFM_KEY)
    info = await client.track_info(artist, track.name)
    assert info.ok and info.value.listeners == track.lastfm_listeners
    bad = LastFmClient(world.client(), UPSTREAMS.lastfm, "wrong-key")
    answer = await bad.top_tags(artist, track.name)
    assert answer.failed and answer.error == "lastfm error 10"
    missing = await client.track_info("Nobody", "Nothing")
    assert missing.status == "not_found"


async def test_lastfm_api_key_never_reaches_the_logs(world: World) -> None:
    track = CATALOG.tracks[0]
    artist = CATALOG.artists[track.artist_ids[0]].name
    client = LastFmClient(world.client(), UPSTREAMS.lastfm, LASTFM_KEY)
    await client.similar(artist, track.name)
    assert world.lines and all(LASTFM_KEY not in line for line in world.lines)


async def test_pacer_spaces_calls_to_the_published_limit() -> None:
    now = [0.0]
    slept: list[float] = []

    async def sleep(delay: float) -> None:
        slept.append(delay)

    pacer = Pacer(2, 1.0, clock=lambda: now[0], sleep=sleep)
    delays = [pacer.reserve() for _ in range(5)]
    assert delays == [0.0, 0.0, 1.0, 1.0, 2.0]
    now[0] = 10.0
    await pacer.wait()
    assert slept == []


@pytest.mark.parametrize("bad", [{"error": {"code": 800}}, {"error": {"code": "800"}}])
async def test_deezer_error_800_spelled_either_way_is_not_found(world: World, bad: dict) -> None:
    world.fakes.deezer.inject("*", 200, body=bad)
    outcome = await DeezerClient(world.client(), UPSTREAMS.deezer).track_by_id(1)
    assert outcome.status == "not_found"
