// The user's playlists, one playlist's tracks, and its analysis (with charts).

import { api } from "../api.js";
import { barChart, decades, histogram, rangeChart } from "../charts.js";
import { clear, formatTime, h, tile } from "../dom.js";

export function playlistsView(app) {
  const list = h("ul", { class: "playlists", "aria-label": "Your playlists" });
  const detail = h("section", { class: "detail", "aria-live": "polite" });
  const el = h(
    "section",
    { id: "view-playlists", class: "view split", "aria-labelledby": "playlists-title" },
    h("div", {}, h("h2", { id: "playlists-title" }, "Playlists"), list),
    detail,
  );
  let loaded = false;
  let tracksReady = Promise.resolve();

  async function load() {
    clear(list, h("li", { class: "muted" }, "Loading your playlists…"));
    try {
      const page = await api("/api/spotify/playlists?limit=50");
      app.state.playlists = page.items || [];
      loaded = true;
      render();
    } catch (err) {
      clear(list);
      app.fail(err, "Could not load your playlists");
    }
  }

  function render() {
    const items = app.state.playlists;
    if (!items.length) {
      clear(list, h("li", { class: "muted" }, "You have no playlists yet."));
      return;
    }
    clear(
      list,
      items.map((p) =>
        h(
          "li",
          {},
          h(
            "button",
            {
              class: "playlist",
              "aria-pressed": String(app.state.selected?.id === p.id),
              onclick: () => select(p),
            },
            tile(p.name),
            h("span", { class: "grow" }, h("strong", {}, p.name), h("small", {}, `${p.tracks?.total ?? 0} tracks · ${p.owner?.display_name || p.owner?.id || ""}`)),
          ),
        ),
      ),
    );
  }

  async function select(p) {
    app.state.selected = p;
    render();
    const tracks = h("ol", { class: "tracks", "aria-label": `Tracks of ${p.name}` }, h("li", { class: "muted" }, "Loading tracks…"));
    const analysis = h("div", { class: "analysis" });
    clear(
      detail,
      h("h2", {}, p.name),
      p.description ? h("p", { class: "muted" }, p.description) : null,
      h(
        "div",
        { class: "actions" },
        h("button", { onclick: () => analyse(p, analysis) }, "Analyse playlist"),
        h("button", { onclick: () => app.chatAbout(p) }, "Chat about it"),
        h("button", { onclick: () => app.startMix(p) }, "Start a mix from it"),
      ),
      analysis,
      h("h3", {}, "Tracks"),
      tracks,
    );
    tracksReady = loadTracks(p, tracks);
    await tracksReady;
  }

  async function loadTracks(p, tracks) {
    try {
      const body = await api(`/api/spotify/playlists/${encodeURIComponent(p.id)}/tracks?limit=100`);
      const entries = (body.items || []).filter((e) => e && e.track);
      app.state.trackDates = entries.map((e) => e.track.album?.release_date);
      clear(
        tracks,
        entries.length
          ? entries.map((e) =>
              h(
                "li",
                {},
                h("span", { class: "grow" }, h("strong", {}, e.track.name), h("small", {}, (e.track.artists || []).map((a) => a.name).join(", "))),
                h("small", { class: "time" }, formatTime(e.track.duration_ms)),
              ),
            )
          : h("li", { class: "muted" }, "This playlist is empty."),
      );
    } catch (err) {
      app.state.trackDates = [];
      clear(tracks, h("li", { class: "muted" }, "Tracks are not available."));
      app.fail(err, `Could not load the tracks of "${p.name}"`);
    }
  }

  async function analyse(p, box) {
    clear(box, h("p", { role: "status" }, "Analysing… (BPM from Deezer, tags from Last.fm)"));
    try {
      const result = await api(`/api/spotify/playlists/${encodeURIComponent(p.id)}/analysis`);
      await tracksReady;
      renderAnalysis(box, result, app.state.trackDates || []);
    } catch (err) {
      clear(box);
      app.fail(err, `Could not analyse "${p.name}"`);
    }
  }

  return {
    el,
    show() {
      if (!loaded) load();
    },
    reset() {
      loaded = false;
      clear(list);
      clear(detail);
    },
  };
}

function figure(caption, chart) {
  return h("figure", { class: "card" }, h("figcaption", {}, caption), chart);
}

export function renderAnalysis(box, a, dates) {
  const meta = a.metadata_analysis || {};
  const deezer = a.deezer_analysis;
  const lastfm = a.lastfm_analysis;
  const charts = [];
  const bpm = deezer?.bpm;
  if (bpm) {
    charts.push(
      figure(
        `Tempo (BPM, ${bpm.sample_size} tracks, average ${bpm.avg})`,
        bpm.distribution?.length
          ? histogram("Tempo distribution", bpm.distribution, { name: (b) => `${b.min}–${b.max} BPM` })
          : rangeChart("Tempo", { ...bpm.range, avg: bpm.avg }, { from: 40, to: 220 }),
      ),
    );
  }
  if (a.audio_features) {
    charts.push(audioFeatures(a.audio_features));
  } else if (a.audio_features_unavailable) {
    charts.push(
      h("p", { class: "card note" }, `Energy, danceability and valence are not shown. ${a.audio_features_unavailable}`),
    );
  }
  if (deezer?.gain) {
    charts.push(
      figure(
        "Loudness (Deezer gain, dB)",
        rangeChart("Loudness", { ...deezer.gain.range, avg: deezer.gain.avg }, { from: -24, to: 0, unit: " dB" }),
      ),
    );
  }
  const byDecade = decades(dates);
  if (byDecade.length) charts.push(figure("Decades", barChart("Tracks per decade", byDecade)));
  const tags = (lastfm?.crowd_tags || []).slice(0, 8).map((t) => ({ label: t.tag, value: t.count }));
  if (tags.length) charts.push(figure("Top genres and tags (Last.fm)", barChart("Top tags", tags)));
  const years = meta.release_year_range;
  clear(
    box,
    h(
      "dl",
      { class: "facts" },
      fact("Tracks", a.total_tracks),
      fact("Artists", meta.total_artists),
      fact("Average length", meta.avg_duration_ms ? formatTime(meta.avg_duration_ms) : "—"),
      fact("Explicit", `${meta.explicit_percentage ?? 0}%`),
      fact("Years", years ? `${years.oldest}–${years.newest}` : "—"),
      fact("Genres", (meta.top_genres || []).slice(0, 5).join(", ") || "—"),
    ),
    h("div", { class: "charts" }, charts),
  );
}

const FEATURES = [
  ["energy", "Energy"],
  ["danceability", "Danceability"],
  ["valence", "Valence"],
];

// Averages as bars on a 0–100% scale, then each feature's spread in five buckets.
function audioFeatures(f) {
  const percent = (v) => `${Math.round(v * 100)}%`;
  const averages = FEATURES.map(([key, label]) => ({ label, value: f[key].avg }));
  return figure(
    `Energy, danceability and valence (Spotify, ${f.sample_size} tracks)`,
    [
      barChart("Audio feature averages", averages, { max: 1, format: percent }),
      h(
        "div",
        { class: "minis" },
        FEATURES.map(([key, label]) =>
          h(
            "div",
            { class: "mini" },
            h("small", { "aria-hidden": "true" }, label),
            histogram(`${label} distribution`, f[key].distribution, {
              width: 120,
              height: 84,
              ends: true,
              name: (b) => `${label.toLowerCase()} ${b.min}–${b.max}`,
            }),
          ),
        ),
      ),
    ],
  );
}

function fact(name, value) {
  return [h("dt", {}, name), h("dd", {}, value ?? "—")];
}
