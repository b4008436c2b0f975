"""Track enrichment from Deezer (BPM, rank, gain), MusicBrainz (ISRCs) and Last.fm (tags,
popularity, similar tracks, artist info), cached in AUDIO_FEATURES_CACHE.

- ``common``       outcomes (ok / not_found / failed), the per-service pacer, lenient parsing
- ``deezer``       Deezer client and the cached ``BPMEnrichment``
- ``musicbrainz``  ISRC lookup for tracks Spotify has none for
- ``lastfm``       Last.fm client and the cached ``LastFmSignals`` / ``ArtistInfo``
- ``cache``        the key families and envelopes of reference §3
- ``playlist``     the minimal Spotify playlist reader the analysis needs
- ``enricher``     the cache-first, budgeted Deezer and Last.fm phases

``dj.analysis`` assembles them into ``analyze_playlist``.
"""
