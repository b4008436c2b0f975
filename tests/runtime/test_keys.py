"""KV key builders and the upstream's 31-hash (cache compatibility with the TS worker)."""

from __future__ import annotations

import pytest

from runtime.keys import (
    MAX_KEY_BYTES,
    InvalidKeyError,
    artist_info_key,
    bpm_key,
    fit_key,
    java_hash,
    lastfm_correction_key,
    lastfm_track_key,
    mix_session_key,
    musicbrainz_isrc_key,
    normalize_track_text,
    playlist_event_key,
    playlist_tracks_key,
)


@pytest.mark.parametrize(
    ("artist", "track", "normalised", "digest"),
    [
        ("Queen", "Bohemian Rhapsody", "queen_bohemian_rhapsody", "42915093"),
        ("Daft Punk", "One More Time", "daft_punk_one_more_time", "a963d6b"),
        ("Sigur Rós", "Hoppípolla 🎵", "sigur_r_s_hopp_polla___", "2ce2b94b"),
    ],
)
def test_lastfm_track_key_matches_the_reference_vectors(
    artist: str, track: str, normalised: str, digest: str
) -> None:
    assert normalize_track_text(f"{artist}_{track}") == normalised
    assert java_hash(normalised) == digest
    assert lastfm_track_key(artist, track) == f"lastfm:{digest}"


def test_hash_of_plain_word_matches_the_reference_vector() -> None:
    assert java_hash("queen") == "66f172a"


def test_astral_characters_hash_as_two_utf16_code_units() -> None:
    # "🎵" is U+1F3B5 = surrogates D83C DFB5 in JavaScript.
    expected = ((0xD83C * 31) + 0xDFB5) & 0xFFFFFFFF
    assert java_hash("🎵") == format(expected, "x")
    assert normalize_track_text("a🎵b") == "a__b"


def test_hash_wraps_to_signed_32_bits_and_renders_the_absolute_value() -> None:
    # 31-hash of a long run wraps many times; recompute the JS way step by step.
    text = "z" * 40
    h = 0
    for ch in text:
        h = (h * 31 + ord(ch)) & 0xFFFFFFFF
    signed = h - 2**32 if h >= 2**31 else h
    assert java_hash(text) == format(abs(signed), "x")
    assert not java_hash(text).startswith("-")


def test_artist_key_hashes_the_lowercased_name_without_normalising() -> None:
    assert artist_info_key("Queen") == f"artist_{java_hash('queen')}" == "artist_66f172a"
    assert artist_info_key("Sigur Rós") == f"artist_{java_hash('sigur rós')}"


def test_raw_name_keys_keep_the_upstream_format() -> None:
    assert bpm_key("4uLU6hMCjMI75M1A2tKUQC") == "bpm:4uLU6hMCjMI75M1A2tKUQC"
    assert (
        musicbrainz_isrc_key("Bohemian Rhapsody", "Queen", 354_947)
        == "musicbrainz:isrc:Bohemian Rhapsody:Queen:354s"
    )
    assert lastfm_correction_key("queen", "bohemian") == "lastfm:correction:queen:bohemian"
    assert mix_session_key("spotify-user") == "mix:spotify-user"
    assert playlist_event_key("pl1") == "event:playlist:pl1"


def test_playlist_tracks_key_is_scoped_to_the_user() -> None:
    alice = playlist_tracks_key("alice", "37i9dQZF1DX", 0, 100)
    bob = playlist_tracks_key("bob", "37i9dQZF1DX", 0, 100)
    assert alice == "spotify:playlist_tracks:alice:37i9dQZF1DX:0:100"
    assert alice != bob
    # A ':' in a user id cannot forge another user's key.
    assert playlist_tracks_key("a:b", "c", 0, 1) != playlist_tracks_key("a", "b:c", 0, 1)
    with pytest.raises(InvalidKeyError):
        playlist_tracks_key("", "37i9dQZF1DX", 0, 100)


def test_long_keys_are_shortened_deterministically_below_512_bytes() -> None:
    title = "Ω" * 400  # 800 UTF-8 bytes
    key = musicbrainz_isrc_key(title, "Artist", 1000)
    assert len(key.encode("utf-8")) <= MAX_KEY_BYTES
    assert key == musicbrainz_isrc_key(title, "Artist", 1000)
    assert key.startswith("musicbrainz:isrc:ΩΩ")
    # Different long inputs with the same prefix still get different keys.
    other = musicbrainz_isrc_key(title, "Other", 1000)
    assert other != key and len(other.encode()) <= MAX_KEY_BYTES
    assert key.encode("utf-8").decode("utf-8") == key  # no split character


def test_a_key_of_exactly_512_bytes_is_kept_and_513_is_shortened() -> None:
    exact = "k" * MAX_KEY_BYTES
    assert fit_key(exact) == exact
    longer = "k" * (MAX_KEY_BYTES + 1)
    assert fit_key(longer) != longer
    assert len(fit_key(longer).encode()) == MAX_KEY_BYTES


def test_empty_and_dot_keys_are_refused() -> None:
    for bad in ("", ".", ".."):
        with pytest.raises(InvalidKeyError):
            fit_key(bad)
    with pytest.raises(InvalidKeyError):
        mix_session_key("")
