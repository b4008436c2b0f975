"""`analyze_playlist` on CPython against in-process fakes: aggregates, caching, budgets."""

from __future__ import annotations

import json
import time

from dj.analysis import (
    AnalysisResult,
    SpotifyReadError,
    analyze_playlist,
    plan_fetches,
)
from dj.enrichment.deezer import BPMEnrichment
from dj.enrichment.playlist import PlaylistTrack
from fakes.catalog import CATALOG, PLAYLIST_100
from runtime.keys import artist_info_key, bpm_key, lastfm_track_key
from runtime.kv import DAY, iso_timestamp
from tests.dj.test_enrichment_support import (  # noqa: F401 - fixtures
    PLAYLIST_ID,
    TOKEN,
    World,
    upstream_fakes_fixture,
    world_fixture,
)

PLAYLIST = CATALOG.playlist_by_name(PLAYLIST_100)
TRACKS = [CATALOG.track(e.track_id) for e in PLAYLIST.entries]


def _first_artist(track_id: str) -> str:
    track = CATALOG.track(track_id)
    return CATALOG.artists[track.artist_ids[0]].name


def _envelope(world: World, key: str) -> dict:
    return json.loads(world.kv.data[key][0])


def _enrichment_calls(world: World) -> int:
    return sum(world.fakes.count(s) for s in ("deezer", "lastfm", "musicbrainz"))


async def test_cold_analysis_reports_every_section(world: World) -> None:
    progress: list[str] = []
    result = await analyze_playlist(PLAYLIST_ID, TOKEN, world.deps(), on_progress=progress.append)
    assert result.playlist_name == PLAYLIST_100
    assert result.total_tracks == 100 and len(result.track_ids) == 100
    meta = result.metadata_analysis
    assert meta.avg_popularity is None  # dev-mode tracks have no popularity
    assert meta.explicit_tracks == sum(1 for t in TRACKS if t.explicit)
    assert meta.release_year_range is not None and meta.release_year_range.oldest == 1959
    assert meta.top_genres and "rock" in meta.top_genres
    dz = result.deezer_analysis
    assert dz is not None and dz.total_checked == 100
    assert dz.tracks_found == sum(1 for t in TRACKS if t.id in CATALOG.deezer_by_spotify)
    assert dz.bpm is not None and 45 <= dz.bpm.range.min and dz.bpm.range.max <= 220
    lf = result.lastfm_analysis
    assert lf is not None and lf.sample_size == sum(1 for t in TRACKS if t.on_lastfm)
    assert lf.artists_enriched > 10 and len(lf.crowd_tags) == 10 and lf.similar_tracks
    assert result.message.startswith("Enriched with Deezer (BPM, rank, gain) + Last.fm")
    assert progress[-1] == f'Analysis complete for "{PLAYLIST_100}"!'
    assert any(p.startswith("Enriched 10/") for p in progress)
    # the embedded page holds all 100 entries; one more call for the audio features
    assert world.fakes.count("spotify") == 2
    assert len(world.fakes.spotify.calls_to("audio_features")) == 1


async def test_warm_analysis_makes_no_enrichment_call_and_reports_the_same(world: World) -> None:
    cold = await analyze_playlist(PLAYLIST_ID, TOKEN, world.deps())
    world.fakes.reset()
    world.clock.now += 60  # within the 5-minute miss freshness
    warm_deps = world.deps()
    warm = await analyze_playlist(PLAYLIST_ID, TOKEN, warm_deps)
    assert _enrichment_calls(world) == 0
    assert warm.model_dump() == cold.model_dump()
    # One read per track and source, nothing written: the pre-check and the read are one.
    assert warm_deps.kv_budget is not None and warm_deps.kv_budget.count == 200
    assert [op for op, _ in world.kv.ops[-200:]] == ["get"] * 200


async def test_cold_analysis_stays_under_the_kv_operation_limit(world: World) -> None:
    deps = world.deps()
    await analyze_playlist(PLAYLIST_ID, TOKEN, deps)
    assert deps.kv_budget is not None and 0 < deps.kv_budget.count <= 800
    assert deps.kv_budget.refused == 0


async def test_bpm_zero_is_cached_as_a_short_miss_and_a_bpm_as_a_90_day_hit(world: World) -> None:
    await analyze_playlist(PLAYLIST_ID, TOKEN, world.deps())
    zero = next(
        t
        for t in TRACKS
        if CATALOG.deezer_by_spotify.get(t.id) and CATALOG.deezer_by_spotify[t.id].bpm == 0.0
    )
    good = next(
        t
        for t in TRACKS
        if CATALOG.deezer_by_spotify.get(t.id)
        and (CATALOG.deezer_by_spotify[t.id].bpm or 0) > 60
        and t.isrc
    )
    miss = _envelope(world, bpm_key(zero.id))
    assert miss["is_miss"] is True and miss["ttl"] == 300
    assert miss["enrichment"]["bpm"] is None and miss["enrichment"]["rank"] > 0
    assert world.kv.ttls[bpm_key(zero.id)] == 7 * DAY  # kept for retry-and-merge
    hit = _envelope(world, bpm_key(good.id))
    assert hit["is_miss"] is False and hit["ttl"] == 90 * DAY
    assert world.kv.ttls[bpm_key(good.id)] == 90 * DAY
    assert set(hit) == {"enrichment", "fetched_at", "is_miss", "ttl"}
    assert set(hit["enrichment"]) == {"bpm", "gain", "rank", "release_date", "source"}


async def test_lastfm_signals_are_written_once_with_artist_info(world: World) -> None:
    await analyze_playlist(PLAYLIST_ID, TOKEN, world.deps())
    track = TRACKS[0]
    key = lastfm_track_key(_first_artist(track.id), track.name)
    assert sum(1 for op, k in world.kv.ops if op == "put" and k == key) == 1
    stored = _envelope(world, key)
    assert stored["ttl"] == 7 * DAY and stored["is_miss"] is False
    assert stored["signals"]["artistInfo"]["tags"]
    assert artist_info_key(_first_artist(track.id)) in world.kv.data


async def test_an_old_miss_is_retried_and_merged_with_the_old_entry(world: World) -> None:
    track = next(t for t in TRACKS if t.isrc and t.id in CATALOG.deezer_by_spotify)
    old = {
        "enrichment": {
            "bpm": None,
            "gain": -5.0,
            "rank": 1,
            "release_date": "1999-01-01",
            "source": "deezer",
        },
        "fetched_at": iso_timestamp(world.clock.now - 600),
        "is_miss": True,
        "ttl": 300,
    }
    await world.kv.put(bpm_key(track.id), json.dumps(old), expirationTtl=7 * DAY)
    world.fakes.deezer.inject(
        f"/track/isrc:{track.isrc}", 200, body={"id": 5, "bpm": 0, "rank": 777, "gain": None}
    )
    deps = world.deps(lastfm_key=None)
    await analyze_playlist(PLAYLIST_ID, TOKEN, deps)
    merged = _envelope(world, bpm_key(track.id))
    assert merged["enrichment"]["rank"] == 777  # new wins
    assert merged["enrichment"]["gain"] == -5.0  # old fills the gap
    assert merged["is_miss"] is True and merged["ttl"] == 300


async def test_a_fresh_miss_is_not_retried(world: World) -> None:
    track = TRACKS[1]
    fresh = {
        "enrichment": BPMEnrichment(rank=3).model_dump(),
        "is_miss": True,
        "ttl": 300,
        "fetched_at": iso_timestamp(world.clock.now - 60),
    }
    await world.kv.put(bpm_key(track.id), json.dumps(fresh), expirationTtl=7 * DAY)
    await analyze_playlist(PLAYLIST_ID, TOKEN, world.deps(lastfm_key=None))
    isrc = track.isrc
    assert not [c for c in world.fakes.deezer.calls if isrc and isrc in c.path]


async def test_deezer_outage_leaves_deezer_out_and_caches_nothing_for_it(world: World) -> None:
    world.fakes.deezer.inject("*", 500)
    result = await analyze_playlist(PLAYLIST_ID, TOKEN, world.deps())
    assert result.deezer_analysis is None and result.lastfm_analysis is not None
    assert not [k for k in world.kv.data if k.startswith("bpm:")]
    assert "Last.fm" in result.message and "Deezer" not in result.message


async def test_lastfm_bad_key_gives_no_lastfm_section_and_no_cached_signals(world: World) -> None:
    result = await analyze_playlist(PLAYLIST_ID, TOKEN, world.deps(lastfm_key="bad-key"))
    assert result.lastfm_analysis is None and result.deezer_analysis is not None
    assert result.metadata_analysis.top_genres == []
    assert not [k for k in world.kv.data if k.startswith(("lastfm:", "artist_"))]


async def test_musicbrainz_outage_only_costs_the_isrc_less_tracks(world: World) -> None:
    world.fakes.musicbrainz.inject("*", 503)
    result = await analyze_playlist(PLAYLIST_ID, TOKEN, world.deps(lastfm_key=None))
    isrcless = [t for t in TRACKS if t.isrc is None]
    assert isrcless
    dz = result.deezer_analysis
    assert dz is not None and dz.total_checked == 100
    assert not [t for t in isrcless if bpm_key(t.id) in world.kv.data]


async def test_a_slow_deezer_is_cut_at_the_deadline(world: World) -> None:
    world.fakes.delays["deezer"] = 3.0
    world.fakes.delays["musicbrainz"] = 3.0
    started = time.monotonic()
    result = await analyze_playlist(PLAYLIST_ID, TOKEN, world.deps(deadline=1.0))
    assert time.monotonic() - started < 2.5
    assert result.deezer_analysis is None
    assert result.lastfm_analysis is not None and result.lastfm_analysis.sample_size > 0


async def test_a_small_subrequest_budget_shrinks_the_batches(world: World) -> None:
    world.subrequest_limit = 81
    deps = world.deps()
    result = await analyze_playlist(PLAYLIST_ID, TOKEN, deps)
    assert deps.subrequests is not None and deps.subrequests.count <= 81
    assert _enrichment_calls(world) + world.fakes.count("spotify") <= 81
    assert result.deezer_analysis is not None and result.deezer_analysis.total_checked == 34
    # 80 remaining, 1 kept for the audio features: Deezer ⌊69/2⌋ = 34 tracks,
    # Last.fm ⌊(79 - 34 - 5)/4⌋ = 10 tracks.
    assert result.lastfm_analysis is not None and result.lastfm_analysis.sample_size <= 10


def _track(i: int, isrc: str | None = "X") -> PlaylistTrack:
    return PlaylistTrack(id=f"t{i}", name=f"n{i}", artists=[{"name": f"a{i}"}], isrc=isrc)


def test_plan_splits_the_subrequest_budget_like_the_reference() -> None:
    need = [_track(i) for i in range(100)]
    plan = plan_fetches(need, need, subrequests_remaining=100, kv_remaining=None)
    assert plan.deezer_budget == 45 and len(plan.deezer) == 45
    assert plan.lastfm_budget == (100 - 45 - 5) // 4 == len(plan.lastfm)
    roomy = plan_fetches(need, need, subrequests_remaining=947, kv_remaining=None)
    assert len(roomy.deezer) == 100 and len(roomy.lastfm) == 100


def test_plan_shrinks_lastfm_first_when_kv_operations_run_short() -> None:
    need = [_track(i) for i in range(100)]
    plan = plan_fetches(need, need, subrequests_remaining=None, kv_remaining=410)
    assert len(plan.deezer) == 100
    assert plan.kv_needed <= 400 and len(plan.lastfm) == (400 - 100) // 5
    tight = plan_fetches(need, need, subrequests_remaining=None, kv_remaining=60)
    assert tight.lastfm == [] and len(tight.deezer) == 50


async def test_progress_callback_failures_do_not_break_the_analysis(world: World) -> None:
    def explode(message: str) -> None:
        raise RuntimeError("client went away")

    result = await analyze_playlist(PLAYLIST_ID, TOKEN, world.deps(), on_progress=explode)
    assert isinstance(result, AnalysisResult) and result.deezer_analysis is not None


async def test_without_a_cache_binding_the_analysis_still_enriches(world: World) -> None:
    result = await analyze_playlist(PLAYLIST_ID, TOKEN, world.deps(with_cache=False))
    assert result.deezer_analysis is not None and result.lastfm_analysis is not None
    assert world.kv.data == {}


async def test_spotify_refusals_surface_as_spotify_read_errors(world: World) -> None:
    try:
        await analyze_playlist("0" * 22, TOKEN, world.deps())
    except SpotifyReadError as exc:
        assert exc.status == 404
    else:
        raise AssertionError("expected a SpotifyReadError")
    foreign = CATALOG.playlist_by_name("Today's Top Hits (editorial)").id
    try:
        await analyze_playlist(foreign, TOKEN, world.deps())
    except SpotifyReadError as exc:
        assert exc.status == 403
    else:
        raise AssertionError("expected a SpotifyReadError")


async def test_local_files_and_removed_entries_are_skipped(world: World) -> None:
    chill = CATALOG.playlist_by_name("Late Night Chill")
    result = await analyze_playlist(chill.id, TOKEN, world.deps(lastfm_key=None))
    assert result.total_tracks == sum(1 for e in chill.entries if e.track_id)
    assert all(len(i) == 22 for i in result.track_ids)
