"""The analysis's chart data: the tempo histogram and Spotify's audio features (with its 403)."""

from __future__ import annotations

import pytest

from dj.analysis import (
    AnalysisResult,
    analyze_playlist,
    audio_features_summary,
    bpm_distribution,
    feature_distribution,
)
from dj.enrichment.audio_features import (
    EMPTY,
    REFUSED,
    AudioFeaturesReport,
    failure_reason,
    fetch_audio_features,
    parse_features,
)
from dj.enrichment.playlist import PlaylistTrack
from dj.spotify import SpotifyClient
from fakes.catalog import CATALOG, PLAYLIST_100
from fakes.spotify import audio_features_of
from tests.dj.test_enrichment_support import (  # noqa: F401 - fixtures
    PLAYLIST_ID,
    TOKEN,
    UPSTREAMS,
    World,
    upstream_fakes_fixture,
    world_fixture,
)

TRACKS = [CATALOG.track(e.track_id) for e in CATALOG.playlist_by_name(PLAYLIST_100).entries]


def _buckets(values: list[float]) -> list[tuple[float, float, int]]:
    return [(b.min, b.max, b.count) for b in bpm_distribution(values)]


# -- tempo histogram -----------------------------------------------------------------------


def test_bpm_buckets_are_ten_wide_on_multiples_of_ten() -> None:
    assert _buckets([120, 121.5, 129.99, 130]) == [(120, 130, 3), (130, 140, 1)]


def test_45_is_the_lowest_valid_bpm_and_lands_in_40_to_50() -> None:
    assert _buckets([45]) == [(40, 50, 1)]
    assert _buckets([44.9]) == []


def test_219_9_and_220_both_land_in_the_last_bucket() -> None:
    assert _buckets([219.9, 220]) == [(210, 220, 2)]
    assert _buckets([220.1, 300]) == []


def test_invalid_bpms_are_ignored() -> None:
    assert _buckets([0, -5, 44, 221, 1000, 100]) == [(100, 110, 1)]


def test_no_values_give_no_buckets() -> None:
    assert bpm_distribution([]) == []


def test_empty_buckets_between_the_extremes_are_kept_with_count_zero() -> None:
    assert _buckets([80, 85, 111]) == [(80, 90, 2), (90, 100, 0), (100, 110, 0), (110, 120, 1)]


def test_bucket_counts_add_up_to_the_valid_sample() -> None:
    values = [40.0 + i * 1.9 for i in range(100)]  # 40 .. 228.1
    valid = [v for v in values if 45 <= v <= 220]
    buckets = bpm_distribution(values)
    assert sum(b.count for b in buckets) == len(valid)
    assert buckets[0].min == 40 and buckets[-1].max == 220 and len(buckets) == 18


# -- audio features ------------------------------------------------------------------------


def test_feature_histogram_has_five_fixed_buckets_and_1_is_in_the_last() -> None:
    buckets = feature_distribution([0.0, 0.19, 0.2, 0.5, 0.99, 1.0, 1.2, -0.1])
    assert [(b.min, b.max) for b in buckets] == [
        (0, 0.2),
        (0.2, 0.4),
        (0.4, 0.6),
        (0.6, 0.8),
        (0.8, 1),
    ]
    assert [b.count for b in buckets] == [2, 1, 1, 0, 2]
    assert [b.count for b in feature_distribution([])] == [0] * 5


def test_parsing_skips_null_entries_and_values_out_of_range() -> None:
    body = {
        "audio_features": [
            None,
            {"id": "a", "energy": 0.5, "danceability": "0.25", "valence": 1},
            {"id": "b", "energy": 1.5, "danceability": 0.2, "valence": 0.1},
            {"energy": 0.5, "danceability": 0.2, "valence": 0.1},
            "junk",
        ]
    }
    assert parse_features(body) == {"a": {"energy": 0.5, "danceability": 0.25, "valence": 1.0}}
    assert parse_features({"error": {"status": 403}}) == {}
    assert parse_features(None) == {}


def test_the_summary_averages_only_tracks_with_features() -> None:
    tracks = [PlaylistTrack(id=i) for i in ("a", "b", "c")]
    report = AudioFeaturesReport(
        values={
            "a": {"energy": 0.1, "danceability": 0.5, "valence": 0.9},
            "b": {"energy": 0.3, "danceability": 0.7, "valence": 0.8},
        }
    )
    summary = audio_features_summary(tracks, report)
    assert summary is not None and summary.sample_size == 2
    assert (summary.energy.avg, summary.danceability.avg, summary.valence.avg) == (0.2, 0.6, 0.85)
    assert [b.count for b in summary.valence.distribution] == [0, 0, 0, 0, 2]
    assert audio_features_summary(tracks, AudioFeaturesReport()) is None
    assert audio_features_summary(tracks, None) is None


@pytest.mark.parametrize(
    ("status", "error", "words"),
    [
        (403, "http_status", "27 November 2024"),
        (404, "http_status", "(404)"),
        (503, "http_status", "HTTP 503"),
        (None, "timeout", "in time"),
        (None, "budget_exhausted", "subrequests"),
        (None, "network", "could not be reached"),
    ],
)
def test_each_failure_has_a_sentence(status: int | None, error: str, words: str) -> None:
    reason = failure_reason(status, error)
    assert words in reason and reason[0].isupper() and reason.endswith(".")


# -- through the pipeline ------------------------------------------------------------------


async def test_the_analysis_has_a_tempo_histogram_and_audio_features(world: World) -> None:
    result = await analyze_playlist(PLAYLIST_ID, TOKEN, world.deps())
    dz = result.deezer_analysis
    assert dz is not None and dz.bpm is not None
    buckets = dz.bpm.distribution
    assert sum(b.count for b in buckets) == dz.bpm.sample_size
    assert buckets[0].min <= dz.bpm.range.min and dz.bpm.range.max <= buckets[-1].max
    assert buckets[0].count > 0 and buckets[-1].count > 0
    features = result.audio_features
    assert features is not None and features.sample_size == 100
    expected = sum(audio_features_of(t)["energy"] for t in TRACKS) / 100
    assert features.energy.avg == round(expected, 2)
    for stat in (features.energy, features.danceability, features.valence):
        assert sum(b.count for b in stat.distribution) == 100
    assert result.audio_features_unavailable is None
    calls = world.fakes.spotify.calls_to("audio_features")
    assert len(calls) == 1
    assert calls[0].q("ids") == ",".join(t.id for t in TRACKS)


async def test_a_403_for_audio_features_leaves_the_rest_of_the_analysis(world: World) -> None:
    world.fakes.spotify.inject("audio_features", 403)
    result = await analyze_playlist(PLAYLIST_ID, TOKEN, world.deps())
    assert result.audio_features is None
    assert result.audio_features_unavailable == REFUSED
    assert result.deezer_analysis is not None and result.lastfm_analysis is not None
    assert len(world.fakes.spotify.calls_to("audio_features")) == 1  # a 403 is not retried


async def test_a_spotify_outage_for_audio_features_is_a_reason_not_an_error(world: World) -> None:
    world.fakes.spotify.inject("audio_features", 503)
    result = await analyze_playlist(PLAYLIST_ID, TOKEN, world.deps())
    assert result.audio_features is None
    assert (
        result.audio_features_unavailable == "Spotify's audio features request failed (HTTP 503)."
    )
    assert len(world.fakes.spotify.calls_to("audio_features")) == 3  # retried twice


async def test_tracks_spotify_knows_nothing_about_give_the_empty_reason(world: World) -> None:
    world.fakes.spotify.inject("audio_features", 200, body={"audio_features": [None]})
    result = await analyze_playlist(PLAYLIST_ID, TOKEN, world.deps())
    assert result.audio_features is None and result.audio_features_unavailable == EMPTY


def test_the_openapi_schema_declares_the_new_fields() -> None:
    schema = AnalysisResult.model_json_schema()
    defs = schema["$defs"]
    assert "audio_features" in schema["properties"]
    assert "audio_features_unavailable" in schema["properties"]
    assert "distribution" in defs["BPMStat"]["properties"]
    assert set(defs["AudioFeaturesAnalysis"]["required"]) >= {
        "sample_size",
        "energy",
        "danceability",
        "valence",
    }


async def test_audio_features_not_back_by_the_deadline_are_left_out_with_a_reason(
    world: World,
) -> None:
    world.fakes.delays["spotify"] = 1.0  # the playlist read waits too, before the deadline runs
    result = await analyze_playlist(PLAYLIST_ID, TOKEN, world.deps(deadline=0.2))
    assert result.audio_features is None
    assert result.audio_features_unavailable == failure_reason(None, "timeout")
    assert result.total_tracks == 100


async def test_audio_features_go_out_in_batches_of_100(world: World) -> None:
    client = SpotifyClient(UPSTREAMS, TOKEN, http=world.client())
    ids = [t.id for t in CATALOG.tracks[:150]]
    report = await fetch_audio_features(client, ids + ids[:10])  # duplicates asked once
    calls = world.fakes.spotify.calls_to("audio_features")
    assert [len((c.q("ids") or "").split(",")) for c in calls] == [100, 50]
    assert report.calls == 2 and len(report.values) == 150 and report.unavailable is None
    assert report.values[ids[120]]["valence"] == audio_features_of(CATALOG.tracks[120])["valence"]
    with pytest.raises(ValueError):
        await client.audio_features(ids[:101])


async def test_a_refused_second_batch_drops_the_first_one_too(world: World) -> None:
    world.fakes.spotify.inject("audio_features", 403, skip=1)
    client = SpotifyClient(UPSTREAMS, TOKEN, http=world.client())
    report = await fetch_audio_features(client, [t.id for t in CATALOG.tracks[:150]])
    assert report.values == {} and report.unavailable == REFUSED and report.calls == 2
