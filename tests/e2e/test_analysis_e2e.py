"""Playlist analysis end to end: the built Worker on Pyodide, Miniflare KV, the fakes.

KV lives for the whole host session, so the cold/warm pair uses the 100-track playlist and
each failure test analyses its own playlist of tracks nobody else analyses.
"""

from __future__ import annotations

from fakes.base import RecordedCall
from fakes.catalog import CATALOG, PLAYLIST_100, Playlist, PlaylistEntry, spotify_id
from fakes.spotify import DEV_TOKEN, audio_features_of
from tests.e2e.conftest import DJ

AUTH = {"Authorization": f"Bearer {DEV_TOKEN}"}
ENRICHMENT = ("deezer", "lastfm", "musicbrainz")
PLAYLIST_ID = CATALOG.playlist_by_name(PLAYLIST_100).id
RATE_LIMIT = 40


def _analysis(dj: DJ, playlist_id: str) -> dict:
    r = dj.http.get(f"/api/spotify/playlists/{playlist_id}/analysis", headers=AUTH, timeout=120)
    assert r.status_code == 200, r.text
    return r.json()


def _calls(dj: DJ) -> dict[str, list[RecordedCall]]:
    return {name: getattr(dj.fakes, name).calls for name in ("spotify", *ENRICHMENT)}


def max_in_any_window(times: list[float], window: float = 1.0) -> int:
    """The most calls that arrived within any `window` seconds (sliding)."""
    times = sorted(times)
    best = start = 0
    for end, t in enumerate(times):
        while t - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


def _playlist(dj: DJ, name: str, first: int, last: int) -> str:
    """A playlist of catalog tracks [first, last) owned by the fake user (fresh in KV)."""
    pid = spotify_id(f"playlist:e2e-analysis:{name}")
    entries = [
        PlaylistEntry(t.id, "2025-01-01T00:00:00Z", CATALOG.user.id)
        for t in CATALOG.tracks[first:last]
    ]
    dj.fakes.spotify.playlists[pid] = Playlist(
        pid, name, "analysis e2e", CATALOG.user.id, "Demo Listener", True, False, entries, []
    )
    return pid


def test_cold_then_warm_analysis_of_100_tracks(dj: DJ) -> None:
    cold = _analysis(dj, PLAYLIST_ID)
    cold_calls = _calls(dj)
    assert cold["total_tracks"] == 100
    assert cold["deezer_analysis"]["total_checked"] == 100
    assert cold["deezer_analysis"]["bpm"]["sample_size"] > 50
    assert cold["lastfm_analysis"]["sample_size"] > 90
    assert cold["metadata_analysis"]["top_genres"]
    bpm = cold["deezer_analysis"]["bpm"]
    assert sum(b["count"] for b in bpm["distribution"]) == bpm["sample_size"]
    assert cold["audio_features"]["sample_size"] == 100
    counts = {name: len(calls) for name, calls in cold_calls.items()}
    assert counts["deezer"] >= 90 and counts["lastfm"] >= 400 and counts["musicbrainz"] >= 10
    assert sum(counts.values()) <= 950  # the subrequest budget
    every = [c.arrived for calls in cold_calls.values() for c in calls]
    assert max_in_any_window(every) <= RATE_LIMIT, counts
    assert len(every) / (max(every) - min(every)) <= RATE_LIMIT  # the average rate
    # Paced to ~1/s (MusicBrainz's published rate): never throttled by the fake (3/s).
    assert max_in_any_window([c.arrived for c in cold_calls["musicbrainz"]]) <= 2
    assert all(c.status == 200 for c in cold_calls["musicbrainz"])

    dj.fakes.reset()
    warm = _analysis(dj, PLAYLIST_ID)
    assert {name: len(getattr(dj.fakes, name).calls) for name in ENRICHMENT} == {
        "deezer": 0,
        "lastfm": 0,
        "musicbrainz": 0,
    }
    for section in (
        "metadata_analysis",
        "deezer_analysis",
        "lastfm_analysis",
        "audio_features",
        "message",
    ):
        assert warm[section] == cold[section], section


def test_the_tempo_histogram_and_audio_features_over_the_real_host(dj: DJ) -> None:
    # Tracks of the 100-track playlist: audio features are never cached, and the histogram is
    # the same whether Deezer's answers come from KV or not.
    tracks = CATALOG.tracks[0:12]
    pid = _playlist(dj, "charts", 0, 12)
    result = _analysis(dj, pid)
    bpm = result["deezer_analysis"]["bpm"]
    buckets = bpm["distribution"]
    assert buckets and all(b["max"] - b["min"] == 10 and b["min"] % 10 == 0 for b in buckets)
    assert [b["min"] for b in buckets] == list(range(buckets[0]["min"], buckets[-1]["max"], 10))
    assert sum(b["count"] for b in buckets) == bpm["sample_size"]
    assert buckets[0]["min"] <= bpm["range"]["min"] and bpm["range"]["max"] <= buckets[-1]["max"]
    features = result["audio_features"]
    assert features["source"] == "spotify" and features["sample_size"] == len(tracks)
    expected = sum(audio_features_of(t)["valence"] for t in tracks) / len(tracks)
    assert features["valence"]["avg"] == round(expected, 2)
    for name in ("energy", "danceability", "valence"):
        assert [b["min"] for b in features[name]["distribution"]] == [0, 0.2, 0.4, 0.6, 0.8]
        assert sum(b["count"] for b in features[name]["distribution"]) == len(tracks)
    assert result["audio_features_unavailable"] is None
    (call,) = dj.fakes.spotify.calls_to("audio_features")
    assert call.q("ids") == ",".join(t.id for t in tracks)


def test_a_dev_mode_403_for_audio_features_still_gives_the_analysis(dj: DJ) -> None:
    pid = _playlist(dj, "no audio features", 12, 24)
    dj.fakes.spotify.inject("audio_features", 403)
    result = _analysis(dj, pid)
    assert result["audio_features"] is None
    assert "403" in result["audio_features_unavailable"]
    assert result["deezer_analysis"]["bpm"]["distribution"]
    assert result["lastfm_analysis"] is not None
    assert len(dj.fakes.spotify.calls_to("audio_features")) == 1


def test_deezer_500s_still_give_an_analysis_without_deezer(dj: DJ) -> None:
    pid = _playlist(dj, "deezer down", 100, 112)
    dj.fakes.deezer.inject("*", 500)
    dj.fakes.musicbrainz.inject("*", 200, body={"recordings": []})
    result = _analysis(dj, pid)
    assert result["deezer_analysis"] is None
    assert result["lastfm_analysis"] is not None and result["total_tracks"] == 12
    # the per-request circuit breaker: after 5 failures in a row Deezer is skipped, so at
    # most the lane's ten calls already in flight reach it (was up to 3 per track)
    assert 5 <= len(dj.fakes.deezer.calls) <= 10


def test_deezer_timeouts_cost_only_the_slow_calls(dj: DJ) -> None:
    pid = _playlist(dj, "deezer slow", 112, 124)
    slow = dj.fakes.deezer.inject("*", delay=6.0, times=2)
    result = _analysis(dj, pid)
    assert slow.fired == 2
    assert result["deezer_analysis"] is not None
    assert result["deezer_analysis"]["tracks_found"] >= 8


def test_lastfm_bad_key_error_10_gives_no_lastfm_section(dj: DJ) -> None:
    pid = _playlist(dj, "lastfm bad key", 124, 136)
    dj.fakes.lastfm.inject_error("*", code=10)
    result = _analysis(dj, pid)
    assert result["lastfm_analysis"] is None
    assert result["deezer_analysis"] is not None
    assert result["metadata_analysis"]["top_genres"] == []
    assert "Deezer" in result["message"]


def test_musicbrainz_503_only_costs_the_tracks_without_isrc(dj: DJ) -> None:
    pid = _playlist(dj, "musicbrainz down", 136, 150)
    dj.fakes.musicbrainz.inject("*", 503)
    result = _analysis(dj, pid)
    isrcless = [t for t in CATALOG.tracks[136:150] if t.isrc is None]
    assert isrcless and dj.fakes.musicbrainz.calls
    assert result["deezer_analysis"] is not None
    found = result["deezer_analysis"]["tracks_found"]
    assert found <= 14 - len(isrcless)
    assert all(c.headers.get("user-agent") for c in dj.fakes.musicbrainz.calls)


def test_analysis_needs_a_bearer_and_passes_spotify_404_through(dj: DJ) -> None:
    r = dj.http.get(f"/api/spotify/playlists/{PLAYLIST_ID}/analysis")
    assert r.status_code == 401
    missing = dj.http.get(f"/api/spotify/playlists/{'0' * 22}/analysis", headers=AUTH)
    assert missing.status_code == 404 and missing.json() == {"error": "Playlist not found"}
    bad = dj.http.get("/api/spotify/playlists/not-an-id!/analysis", headers=AUTH)
    assert bad.status_code == 400


def test_logs_carry_no_lastfm_key(dj: DJ) -> None:
    start = len(dj.logs())
    pid = _playlist(dj, "log check", 150, 153)
    _analysis(dj, pid)
    lines = dj.logs(start)
    assert any("playlist analysed" in line for line in lines)
    assert all("fake-lastfm-api-key" not in line for line in lines)


def test_an_id_spotify_refuses_is_a_400_and_a_spotify_outage_a_502(dj: DJ) -> None:
    # well-formed for our path model, but not a 22-character base62 id: Spotify's 400
    refused = dj.http.get("/api/spotify/playlists/abc/analysis", headers=AUTH)
    assert refused.status_code == 400
    assert refused.json() == {"error": "Spotify refused the request (check the playlist id)"}
    dj.fakes.spotify.inject("playlist", 503)
    dj.fakes.spotify.inject("playlist_items", 503)
    down = dj.http.get(f"/api/spotify/playlists/{PLAYLIST_ID}/analysis", headers=AUTH)
    assert down.status_code == 502 and down.json() == {"error": "Spotify request failed"}
