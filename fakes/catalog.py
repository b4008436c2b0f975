"""A deterministic music catalog shared by all fakes.

About 150 tracks: well-known songs (titles and artists as data, metadata approximate) plus
invented ones. Each track has a Spotify record, and most have a Deezer record, a Last.fm
record and an ISRC; the ~10 % without an ISRC have a MusicBrainz recording that carries
one. Everything is derived from fixed seeds, so ids are identical on every run.

Quirks built in on purpose (all deterministic, see the `quirk_*` helpers and tests):
- Deezer BPM is 0 for every 5th track and null for every 11th; valid values 60-180 otherwise.
- Deezer's `/track/isrc:` misses some tracks that `/search?q=isrc:` still finds, and those
  have a second (compilation, different duration) version.
- Some tracks are not on Deezer at all, some not on Last.fm.
- Last.fm artist images sometimes have empty-string URLs; a few misspellings have corrections.
- Playlists: one of exactly 100 tracks, one with a local file and a null (removed) entry, one
  with `images: null`, one owned by someone else, one empty.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _digest(seed: str) -> int:
    return int.from_bytes(hashlib.sha256(seed.encode("utf-8")).digest(), "big")


def spotify_id(seed: str) -> str:
    """A 22-character base62 id derived from `seed`."""
    n = _digest("spotify:" + seed)
    out = []
    for _ in range(22):
        n, r = divmod(n, 62)
        out.append(BASE62[r])
    return "".join(out)


def is_spotify_id(value: str) -> bool:
    return len(value) == 22 and all(c in BASE62 for c in value)


def _num(seed: str, lo: int, hi: int) -> int:
    return lo + _digest(seed) % (hi - lo + 1)


def make_uuid(seed: str) -> str:
    h = hashlib.sha256(("mbid:" + seed).encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"


_COUNTRIES = ["GB", "US", "FR", "DE", "SE", "NL", "AU", "CA"]
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _isrc(seed: str, year: int) -> str:
    d = _digest("isrc:" + seed)
    cc = _COUNTRIES[d % len(_COUNTRIES)]
    reg = "".join(_LETTERS[(d >> (5 * i)) % 26] for i in range(3))
    return f"{cc}{reg}{year % 100:02d}{d % 100000:05d}"


# (artist, title, album, release_date, seconds, explicit, bpm, genre)
_KNOWN: list[tuple[str, str, str, str, int, bool, float, str]] = [
    ("Queen", "Bohemian Rhapsody", "A Night at the Opera", "1975-11-21", 354, False, 72.0, "rock"),
    ("Queen", "Don't Stop Me Now", "Jazz", "1978", 209, False, 156.0, "rock"),
    ("Queen", "Under Pressure", "Hot Space", "1982-05", 248, False, 114.0, "rock"),
    ("The Killers", "Mr. Brightside", "Hot Fuss", "2004-06-07", 222, False, 148.0, "indie"),
    (
        "Led Zeppelin",
        "Stairway to Heaven",
        "Led Zeppelin IV",
        "1971-11-08",
        482,
        False,
        82.0,
        "rock",
    ),
    ("Michael Jackson", "Billie Jean", "Thriller", "1982-11-30", 294, False, 117.0, "pop"),
    ("Michael Jackson", "Beat It", "Thriller", "1982-11-30", 258, False, 139.0, "pop"),
    ("Daft Punk", "One More Time", "Discovery", "2001-03-12", 320, False, 123.0, "electronic"),
    (
        "Daft Punk",
        "Harder, Better, Faster, Stronger",
        "Discovery",
        "2001-03-12",
        224,
        False,
        123.0,
        "electronic",
    ),
    ("Daft Punk", "Get Lucky", "Random Access Memories", "2013-05-17", 369, False, 116.0, "disco"),
    ("Fleetwood Mac", "Dreams", "Rumours", "1977-02-04", 257, False, 120.0, "rock"),
    ("Fleetwood Mac", "Go Your Own Way", "Rumours", "1977-02-04", 223, False, 135.0, "rock"),
    ("The Beatles", "Here Comes the Sun", "Abbey Road", "1969-09-26", 185, False, 129.0, "rock"),
    ("The Beatles", "Come Together", "Abbey Road", "1969-09-26", 259, False, 82.0, "rock"),
    ("Nirvana", "Smells Like Teen Spirit", "Nevermind", "1991-09-24", 301, False, 117.0, "grunge"),
    ("Radiohead", "Karma Police", "OK Computer", "1997-05", 264, False, 75.0, "alternative"),
    ("Radiohead", "No Surprises", "OK Computer", "1997-05", 229, False, 76.0, "alternative"),
    (
        "Radiohead",
        "Everything In Its Right Place",
        "Kid A",
        "2000-10-02",
        251,
        False,
        124.0,
        "electronic",
    ),
    ("Massive Attack", "Teardrop", "Mezzanine", "1998-04-20", 330, False, 77.0, "trip-hop"),
    ("Portishead", "Glory Box", "Dummy", "1994-08-22", 306, False, 118.0, "trip-hop"),
    (
        "Outkast",
        "Hey Ya!",
        "Speakerboxxx/The Love Below",
        "2003-09-23",
        250,
        False,
        159.0,
        "hip-hop",
    ),
    ("Kendrick Lamar", "HUMBLE.", "DAMN.", "2017-04-14", 177, True, 150.0, "hip-hop"),
    ("Kendrick Lamar", "Alright", "To Pimp a Butterfly", "2015-03-15", 219, True, 110.0, "hip-hop"),
    ("Beyoncé", "Crazy in Love", "Dangerously in Love", "2003-06-20", 236, False, 99.0, "r&b"),
    ("Amy Winehouse", "Rehab", "Back to Black", "2006-10-27", 214, False, 145.0, "soul"),
    ("Amy Winehouse", "Back to Black", "Back to Black", "2006-10-27", 241, False, 123.0, "soul"),
    ("Adele", "Rolling in the Deep", "21", "2011-01-24", 228, False, 105.0, "pop"),
    ("Adele", "Someone Like You", "21", "2011-01-24", 285, False, 68.0, "pop"),
    ("Arctic Monkeys", "Do I Wanna Know?", "AM", "2013-09-09", 272, False, 85.0, "indie"),
    ("Arctic Monkeys", "R U Mine?", "AM", "2013-09-09", 201, False, 97.0, "indie"),
    (
        "Tame Impala",
        "The Less I Know the Better",
        "Currents",
        "2015-07-17",
        216,
        True,
        117.0,
        "psychedelic",
    ),
    ("Tame Impala", "Let It Happen", "Currents", "2015-07-17", 467, False, 125.0, "psychedelic"),
    (
        "LCD Soundsystem",
        "All My Friends",
        "Sound of Silver",
        "2007-03-12",
        457,
        False,
        113.0,
        "electronic",
    ),
    ("Robyn", "Dancing On My Own", "Body Talk Pt. 1", "2010-06-01", 281, False, 117.0, "pop"),
    ("Prince", "Kiss", "Parade", "1986-03-31", 226, False, 111.0, "funk"),
    ("Prince", "Purple Rain", "Purple Rain", "1984-06-25", 521, False, 113.0, "funk"),
    ("Stevie Wonder", "Superstition", "Talking Book", "1972-10-28", 266, False, 100.0, "soul"),
    ("Marvin Gaye", "What's Going On", "What's Going On", "1971-05-21", 233, False, 102.0, "soul"),
    ("Chic", "Le Freak", "C'est Chic", "1978-08-11", 330, False, 120.0, "disco"),
    ("Donna Summer", "I Feel Love", "I Remember Yesterday", "1977", 356, False, 126.0, "disco"),
    ("Bee Gees", "Stayin' Alive", "Saturday Night Fever", "1977-11-15", 285, False, 104.0, "disco"),
    ("Miles Davis", "So What", "Kind of Blue", "1959-08-17", 562, False, 136.0, "jazz"),
    ("John Coltrane", "Naima", "Giant Steps", "1960", 261, False, 64.0, "jazz"),
    ("Dave Brubeck Quartet", "Take Five", "Time Out", "1959-12-14", 324, False, 174.0, "jazz"),
    ("Nina Simone", "Feeling Good", "I Put a Spell on You", "1965", 177, False, 80.0, "jazz"),
    ("Bob Marley & The Wailers", "Is This Love", "Kaya", "1978-03-23", 232, False, 122.0, "reggae"),
    ("David Bowie", "Heroes", '"Heroes"', "1977-10-14", 371, False, 113.0, "rock"),
    ("David Bowie", "Life on Mars?", "Hunky Dory", "1971-12-17", 233, False, 130.0, "rock"),
    (
        "Kate Bush",
        "Running Up That Hill (A Deal with God)",
        "Hounds of Love",
        "1985-09-16",
        300,
        False,
        108.0,
        "art pop",
    ),
    (
        "New Order",
        "Blue Monday",
        "Power, Corruption & Lies",
        "1983-03-07",
        449,
        False,
        130.0,
        "new wave",
    ),
    ("Depeche Mode", "Enjoy the Silence", "Violator", "1990-03-19", 372, False, 113.0, "synthpop"),
    ("a-ha", "Take On Me", "Hunting High and Low", "1985-06", 225, False, 169.0, "synthpop"),
    (
        "Eurythmics",
        "Sweet Dreams (Are Made of This)",
        "Sweet Dreams (Are Made of This)",
        "1983-01-04",
        216,
        False,
        126.0,
        "synthpop",
    ),
    (
        "The Cure",
        "Just Like Heaven",
        "Kiss Me, Kiss Me, Kiss Me",
        "1987-05-25",
        212,
        False,
        148.0,
        "new wave",
    ),
    (
        "Joy Division",
        "Love Will Tear Us Apart",
        "Substance 1977-1980",
        "1988",
        205,
        False,
        147.0,
        "post-punk",
    ),
    (
        "Guns N' Roses",
        "Sweet Child O' Mine",
        "Appetite for Destruction",
        "1987-07-21",
        356,
        False,
        125.0,
        "rock",
    ),
    ("AC/DC", "Back In Black", "Back In Black", "1980-07-25", 255, False, 94.0, "rock"),
    (
        "Billie Eilish",
        "bad guy",
        "WHEN WE ALL FALL ASLEEP, WHERE DO WE GO?",
        "2019-03-29",
        194,
        False,
        135.0,
        "pop",
    ),
    ("The Weeknd", "Blinding Lights", "After Hours", "2020-03-20", 200, False, 171.0, "synthpop"),
    ("Dua Lipa", "Levitating", "Future Nostalgia", "2020-03-27", 203, False, 103.0, "disco"),
    ("Sigur Rós", "Hoppípolla", "Takk...", "2005-09-12", 268, False, 80.0, "post-rock"),
    ("Björk", "Jóga", "Homogenic", "1997-09-22", 305, False, 90.0, "art pop"),
    ("Röyksopp", "Eple", "Melody A.M.", "2001-09-03", 220, False, 111.0, "electronic"),
    ("Bon Iver", "Skinny Love", "For Emma, Forever Ago", "2007-07-08", 238, False, 76.0, "indie"),
    ("Fleet Foxes", "White Winter Hymnal", "Fleet Foxes", "2008-06-03", 147, False, 119.0, "folk"),
    (
        "Phoebe Bridgers",
        "Motion Sickness",
        "Stranger in the Alps",
        "2017-09-22",
        230,
        True,
        125.0,
        "indie",
    ),
]

_INVENTED_ARTISTS: list[tuple[str, str]] = [
    ("Velvet Harbor", "indie"),
    ("Neon Lantern", "synthpop"),
    ("The Quiet Engines", "post-rock"),
    ("Marisol Vega", "latin pop"),
    ("Copper Tide", "rock"),
    ("Lumen Drift", "electronic"),
    ("Saffron Avenue", "soul"),
    ("Kite & Compass", "folk"),
    ("Oskar Lindqvist", "jazz"),
    ("Paper Satellites", "indie"),
    ("Midnight Orchard", "trip-hop"),
    ("DJ Halcyon", "house"),
    ("Rue Marigold", "r&b"),
    ("Static Meadow", "shoegaze"),
    ("The Hollow Pines", "folk"),
]
_ADJ = [
    "Golden",
    "Electric",
    "Quiet",
    "Slow",
    "Bright",
    "Paper",
    "Silver",
    "Midnight",
    "Velvet",
    "Broken",
    "Neon",
    "Distant",
    "Summer",
    "Hollow",
    "Wild",
    "Crystal",
]
_NOUN = [
    "Hours",
    "Signal",
    "Rivers",
    "Lights",
    "Heart",
    "Motel",
    "Skyline",
    "Static",
    "Tides",
    "Echoes",
    "Garden",
    "Highway",
    "Mirrors",
    "Weather",
    "Parade",
    "Satellite",
]

GENRE_TAGS: dict[str, list[str]] = {
    "rock": ["rock", "classic rock", "70s"],
    "indie": ["indie", "indie rock", "alternative"],
    "pop": ["pop", "dance", "80s"],
    "electronic": ["electronic", "dance", "house"],
    "disco": ["disco", "funk", "dance"],
    "grunge": ["grunge", "rock", "90s"],
    "alternative": ["alternative", "rock", "90s"],
    "trip-hop": ["trip-hop", "downtempo", "chill"],
    "hip-hop": ["hip-hop", "rap", "hip hop"],
    "r&b": ["rnb", "soul", "female vocalists"],
    "soul": ["soul", "funk", "female vocalists"],
    "psychedelic": ["psychedelic", "indie", "chill"],
    "funk": ["funk", "80s", "soul"],
    "jazz": ["jazz", "instrumental", "chill"],
    "reggae": ["reggae", "roots", "chill"],
    "art pop": ["art pop", "female vocalists", "80s"],
    "new wave": ["new wave", "80s", "post-punk"],
    "synthpop": ["synthpop", "80s", "electronic"],
    "post-punk": ["post-punk", "new wave", "80s"],
    "post-rock": ["post-rock", "ambient", "chill"],
    "folk": ["folk", "indie folk", "acoustic"],
    "latin pop": ["latin", "pop", "dance"],
    "house": ["house", "electronic", "dance"],
    "shoegaze": ["shoegaze", "dream pop", "indie"],
}

# Misspelled (artist, track) -> canonical (artist, track) for track.getCorrection/autocorrect.
TRACK_CORRECTIONS: dict[tuple[str, str], tuple[str, str]] = {
    ("queen", "bohemian rapsody"): ("Queen", "Bohemian Rhapsody"),
    ("beatles", "here comes the sun"): ("The Beatles", "Here Comes the Sun"),
    ("guns n roses", "sweet child of mine"): ("Guns N' Roses", "Sweet Child O' Mine"),
    ("the killers", "mr brightside"): ("The Killers", "Mr. Brightside"),
    ("daft punk", "one more time (radio edit)"): ("Daft Punk", "One More Time"),
}
ARTIST_CORRECTIONS: dict[str, str] = {
    "beatles": "The Beatles",
    "guns n roses": "Guns N' Roses",
    "acdc": "AC/DC",
    "bjork": "Björk",
}


@dataclass
class Image:
    url: str
    height: int | None
    width: int | None

    def to_json(self) -> dict[str, object]:
        return {"url": self.url, "height": self.height, "width": self.width}


@dataclass
class Artist:
    id: str
    name: str
    genres: list[str]
    deezer_id: int
    mbid: str
    listeners: int
    playcount: int
    lastfm_images_empty: bool


@dataclass
class Album:
    id: str
    name: str
    artist_ids: list[str]
    release_date: str
    images: list[Image]
    total_tracks: int
    deezer_id: int
    album_type: str = "album"

    @property
    def release_date_precision(self) -> str:
        return {4: "year", 7: "month"}.get(len(self.release_date), "day")


@dataclass
class DeezerTrack:
    id: int
    title: str
    isrc: str
    duration: int
    bpm: float | None
    gain: float | None
    rank: int
    release_date: str
    explicit: bool
    artist_id: str
    album_id: str
    direct_isrc_lookup: bool = True
    title_version: str = ""


@dataclass
class MBRecording:
    id: str
    title: str
    artist: str
    artist_id: str
    length: int | None
    isrcs: list[str]
    first_release_date: str
    disambiguation: str = ""


@dataclass
class Track:
    index: int
    id: str
    name: str
    artist_ids: list[str]
    album_id: str
    duration_ms: int
    explicit: bool
    isrc: str | None
    track_number: int
    genre: str
    bpm: float
    on_lastfm: bool
    lastfm_listeners: int
    lastfm_playcount: int
    disc_number: int = 1

    @property
    def uri(self) -> str:
        return f"spotify:track:{self.id}"


@dataclass
class PlaylistEntry:
    track_id: str | None  # None = a removed/unavailable track (item: null)
    added_at: str
    added_by: str
    local: dict[str, object] | None = None  # a local file entry


@dataclass
class Playlist:
    id: str
    name: str
    description: str
    owner_id: str
    owner_name: str
    public: bool
    collaborative: bool
    entries: list[PlaylistEntry]
    images: list[Image] | None
    snapshot_n: int = 1

    @property
    def snapshot_id(self) -> str:
        return spotify_id(f"snap:{self.id}:{self.snapshot_n}") + "AAAAAAAAAA"


@dataclass
class User:
    id: str
    display_name: str | None
    premium: bool = True
    # Kept internally; the February-2026 dev-mode /me no longer returns them.
    country: str = "GB"
    email: str = "listener@example.test"


@dataclass
class Catalog:
    tracks: list[Track] = field(default_factory=list)
    artists: dict[str, Artist] = field(default_factory=dict)
    albums: dict[str, Album] = field(default_factory=dict)
    deezer_tracks: dict[int, DeezerTrack] = field(default_factory=dict)
    deezer_by_spotify: dict[str, DeezerTrack] = field(default_factory=dict)
    mb_recordings: list[MBRecording] = field(default_factory=list)
    playlists: dict[str, Playlist] = field(default_factory=dict)
    user: User = field(default_factory=lambda: User("fakeuser", "Demo Listener"))

    # ------------------------------------------------------------------ lookups
    def track(self, track_id: str) -> Track | None:
        return self._by_id.get(track_id)

    def track_by_name(self, artist: str, name: str) -> Track | None:
        a, n = artist.casefold(), name.casefold()
        for t in self.tracks:
            if t.name.casefold() == n and self.artists[t.artist_ids[0]].name.casefold() == a:
                return t
        return None

    def tracks_by_isrc(self, isrc: str) -> list[Track]:
        return [t for t in self.tracks if t.isrc and t.isrc.upper() == isrc.upper()]

    def artist_by_name(self, name: str) -> Artist | None:
        low = name.casefold()
        for a in self.artists.values():
            if a.name.casefold() == low:
                return a
        return None

    def deezer_by_isrc(self, isrc: str) -> list[DeezerTrack]:
        return [d for d in self.deezer_tracks.values() if d.isrc.upper() == isrc.upper()]

    def playlist_by_name(self, name: str) -> Playlist:
        for p in self.playlists.values():
            if p.name == name:
                return p
        raise KeyError(name)

    @property
    def _by_id(self) -> dict[str, Track]:
        cached: dict[str, Track] | None = self.__dict__.get("_index")
        if cached is None or len(cached) != len(self.tracks):
            cached = {t.id: t for t in self.tracks}
            self.__dict__["_index"] = cached
        return cached

    # ---------------------------------------------------------------- derived
    def artist_names(self, track: Track) -> list[str]:
        return [self.artists[a].name for a in track.artist_ids]

    def isrcless_tracks(self) -> list[Track]:
        return [t for t in self.tracks if t.isrc is None]

    def tracks_without_deezer(self) -> list[Track]:
        return [t for t in self.tracks if t.id not in self.deezer_by_spotify]


def _images(seed: str, sizes: tuple[int, ...] = (640, 300, 64)) -> list[Image]:
    h = hashlib.sha256(seed.encode()).hexdigest()
    return [Image(f"https://i.scdn.co/image/ab67616d0000{s:04x}{h[:24]}", s, s) for s in sizes]


def build_catalog() -> Catalog:
    cat = Catalog()
    rows: list[tuple[str, str, str, str, int, bool, float, str]] = list(_KNOWN)
    years = ["2016", "2018-04", "2019-10-11", "2021-02-26", "2022", "2023-06-02", "2024-09"]
    for ai, (artist, genre) in enumerate(_INVENTED_ARTISTS):
        for k in range(6):
            title = f"{_ADJ[(ai * 3 + k) % len(_ADJ)]} {_NOUN[(ai * 5 + k * 7) % len(_NOUN)]}"
            album = f"{_NOUN[(ai + 3) % len(_NOUN)]} of {_ADJ[(ai + 9) % len(_ADJ)]}"
            if k >= 3:
                album = f"{album} (Deluxe)"
            secs = _num(f"dur:{artist}:{title}", 150, 330)
            bpm = float(_num(f"bpm:{artist}:{title}", 60, 180))
            rows.append(
                (
                    artist,
                    title,
                    album,
                    years[(ai + k // 3) % len(years)],
                    secs,
                    (ai + k) % 9 == 4,
                    bpm,
                    genre,
                )
            )
    # Artists
    for artist, *_rest in rows:
        if any(a.name == artist for a in cat.artists.values()):
            continue
        genre = next(r[7] for r in rows if r[0] == artist)
        aid = spotify_id("artist:" + artist)
        n = len(cat.artists)
        cat.artists[aid] = Artist(
            id=aid,
            name=artist,
            genres=[genre, *GENRE_TAGS.get(genre, [])[1:2]],
            deezer_id=_num("dzartist:" + artist, 1000, 9_999_999),
            mbid=make_uuid("artist:" + artist),
            listeners=_num("lis:" + artist, 20_000, 6_000_000),
            playcount=_num("pc:" + artist, 500_000, 400_000_000),
            lastfm_images_empty=n % 3 == 1,
        )
    # A featured artist on a few tracks, so multi-artist arrays exist.
    feat = {
        "Get Lucky": "Pharrell Williams",
        "Crazy in Love": "JAY-Z",
        "Under Pressure": "David Bowie",
        "Eple": "Lumen Drift",
    }
    for name in feat.values():
        if not any(a.name == name for a in cat.artists.values()):
            aid = spotify_id("artist:" + name)
            cat.artists[aid] = Artist(
                aid,
                name,
                ["pop"],
                _num("dzartist:" + name, 1000, 999999),
                make_uuid("artist:" + name),
                1_000_000,
                50_000_000,
                False,
            )
    # Albums and tracks
    album_counts: dict[tuple[str, str], int] = {}
    for artist, _title, album, *_ in rows:
        album_counts[(artist, album)] = album_counts.get((artist, album), 0) + 1
    for idx, (artist, title, album, date, secs, explicit, bpm, genre) in enumerate(rows):
        aid = spotify_id("artist:" + artist)
        alb_id = spotify_id(f"album:{artist}:{album}")
        if alb_id not in cat.albums:
            cat.albums[alb_id] = Album(
                id=alb_id,
                name=album,
                artist_ids=[aid],
                release_date=date,
                images=_images(alb_id),
                total_tracks=max(album_counts[(artist, album)], 8),
                deezer_id=_num("dzalbum:" + alb_id, 10_000, 99_999_999),
                album_type="compilation" if album.startswith("Substance") else "album",
            )
        artist_ids = [aid]
        if title in feat:
            artist_ids.append(spotify_id("artist:" + feat[title]))
        tid = spotify_id(f"track:{artist}:{title}")
        year = int(date[:4])
        isrc = None if idx % 10 == 3 else _isrc(tid, year)
        on_lastfm = not (idx >= len(_KNOWN) and idx % 17 == 0)
        track = Track(
            index=idx,
            id=tid,
            name=title,
            artist_ids=artist_ids,
            album_id=alb_id,
            duration_ms=secs * 1000 + _num("ms:" + tid, 0, 999),
            explicit=explicit,
            isrc=isrc,
            track_number=1 + idx % 9,
            genre=genre,
            bpm=bpm,
            on_lastfm=on_lastfm,
            lastfm_listeners=_num("tlis:" + tid, 900, 2_500_000),
            lastfm_playcount=_num("tpc:" + tid, 5_000, 90_000_000),
        )
        cat.tracks.append(track)
        _add_deezer(cat, track, idx, date)
    _add_playlists(cat)
    return cat


def _add_deezer(cat: Catalog, track: Track, idx: int, date: str) -> None:
    if idx % 19 == 7 and track.isrc is not None:
        return  # not on Deezer at all
    isrc = track.isrc
    if isrc is None:
        # Spotify has no ISRC; MusicBrainz knows one, and Deezer has the track under it.
        isrc = _isrc("mb:" + track.id, int(date[:4]))
        artist = cat.artists[track.artist_ids[0]]
        secs = track.duration_ms // 1000
        cat.mb_recordings.extend(
            [
                MBRecording(
                    make_uuid("rec:" + track.id),
                    track.name,
                    artist.name,
                    artist.mbid,
                    track.duration_ms + 400,
                    [isrc],
                    date,
                ),
                MBRecording(
                    make_uuid("rec-live:" + track.id),
                    track.name,
                    artist.name,
                    artist.mbid,
                    (secs + 95) * 1000,
                    [_isrc("mblive:" + track.id, 2010)],
                    "2010-05-01",
                    "live",
                ),
                MBRecording(
                    make_uuid("rec-demo:" + track.id),
                    track.name,
                    artist.name,
                    artist.mbid,
                    None,
                    [],
                    "",
                    "demo",
                ),
            ]
        )
    if idx % 5 == 0:
        bpm: float | None = 0.0
    elif idx % 11 == 0:
        bpm = None
    else:
        bpm = round(track.bpm + _num("bpmf:" + track.id, 0, 9) / 10, 1)
    full_date = date if len(date) == 10 else (date + "-01-01")[:10]
    dz = DeezerTrack(
        id=_num("dz:" + track.id, 100_000, 3_999_999_999),
        title=track.name,
        isrc=isrc,
        duration=round(track.duration_ms / 1000) + (1 if idx % 3 == 0 else 0),
        bpm=bpm,
        gain=None if idx % 23 == 0 else -round(_num("gain:" + track.id, 40, 160) / 10, 1),
        rank=_num("rank:" + track.id, 80_000, 990_000),
        release_date=full_date,
        explicit=track.explicit,
        artist_id=track.artist_ids[0],
        album_id=track.album_id,
        direct_isrc_lookup=idx % 13 != 5,
    )
    cat.deezer_tracks[dz.id] = dz
    cat.deezer_by_spotify[track.id] = dz
    if not dz.direct_isrc_lookup:
        alt = DeezerTrack(
            id=_num("dzalt:" + track.id, 100_000, 3_999_999_999),
            title=track.name,
            isrc=isrc,
            duration=dz.duration + 27,
            bpm=dz.bpm,
            gain=dz.gain,
            rank=dz.rank // 3,
            release_date="2012-01-01",
            explicit=track.explicit,
            artist_id=dz.artist_id,
            album_id=dz.album_id,
            direct_isrc_lookup=False,
            title_version="(Extended Mix)",
        )
        cat.deezer_tracks[alt.id] = alt


PLAYLIST_100 = "Road Trip 100"
PLAYLIST_WITH_LOCAL = "Late Night Chill"
PLAYLIST_NO_IMAGES = "Deep Focus"
PLAYLIST_COLLAB = "Friday Party"
PLAYLIST_FOREIGN = "Today's Top Hits (editorial)"
PLAYLIST_EMPTY = "New Playlist"


def _added_at(n: int) -> str:
    day = 1 + n % 28
    month = 1 + (n // 28) % 12
    return f"2025-{month:02d}-{day:02d}T{n % 24:02d}:{(n * 7) % 60:02d}:00Z"


def _add_playlists(cat: Catalog) -> None:
    me = cat.user.id
    tracks = cat.tracks

    def entries(ids: list[str]) -> list[PlaylistEntry]:
        return [PlaylistEntry(t, _added_at(i), me) for i, t in enumerate(ids)]

    def make(
        name: str,
        desc: str,
        ids: list[str],
        owner: str = me,
        owner_name: str = "Demo Listener",
        public: bool = True,
        collab: bool = False,
        images: bool | None = True,
    ) -> Playlist:
        pid = spotify_id("playlist:" + name)
        imgs = None if images is None else (_images(pid, (640,)) if images else [])
        pl = Playlist(pid, name, desc, owner, owner_name, public, collab, entries(ids), imgs)
        cat.playlists[pid] = pl
        return pl

    make(
        PLAYLIST_100, "Exactly one hundred songs for the long drive.", [t.id for t in tracks[:100]]
    )
    chill = [
        t.id
        for t in tracks
        if t.genre in ("trip-hop", "jazz", "post-rock", "folk", "indie", "psychedelic", "soul")
    ][:23]
    pl = make(PLAYLIST_WITH_LOCAL, "Low light, low tempo. Includes a local file.", chill)
    pl.entries.insert(
        5,
        PlaylistEntry(
            None,
            _added_at(200),
            me,
            local={
                "name": "Kitchen Demo 3",
                "artist": "Me And My Laptop",
                "album": "Voice Memos",
                "duration_ms": 187000,
            },
        ),
    )
    pl.entries.insert(11, PlaylistEntry(None, _added_at(201), me))
    make(PLAYLIST_NO_IMAGES, "", [t.id for t in tracks[60:72]], public=False, images=None)
    make(
        PLAYLIST_COLLAB,
        "Everyone adds one.",
        [
            t.id
            for t in tracks
            if t.genre in ("disco", "pop", "funk", "house", "synthpop", "hip-hop")
        ][:40],
        collab=True,
        public=False,
    )
    make(
        PLAYLIST_FOREIGN,
        "The hottest tracks right now.",
        [t.id for t in tracks[100:130]],
        owner="spotify",
        owner_name="Spotify",
    )
    make(PLAYLIST_EMPTY, "", [], images=False)


CATALOG = build_catalog()
