"""The mix service layer: sessions in KV, Spotify and Claude calls, auto-fill, steering.

The rules themselves are pure functions elsewhere (`dj.mix_rules`, `dj.autofill`,
`dj.steering`, `dj.scoring`); this package does the I/O around them for `routes/mix.py` and
`routes/steer.py`:

* `sessions`: the user id from the Bearer token (Spotify `/me`, asked once per request) and
  `MixService`, the one way a request reads and writes `mix:{userId}`;
* `deadline`: a timeout helper whose timer is always cleared;
* `ai`: JSON answers from Claude through `dj.anthropic`;
* `spotify_calls`: the few Spotify calls the mix needs beyond `dj.spotify.SpotifyClient`;
* `suggestions`: the suggestion engine (Claude + Spotify search + scoring, with a Spotify
  search fallback);
* `autofill`: keeps the queue at five tracks and mirrors additions to Spotify's queue;
* `seed`: the starting vibe of a new session;
* `steer`: vibe steering, plain and streamed.
"""
