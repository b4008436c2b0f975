// Now playing, from the player stream (delta protocol v2): track, progress, device, and the
// controls (previous, play/pause, next, seek, volume).

import { ApiError, api, errorMessage, refresh, send } from "../api.js";
import { formatTime, h, icon, tile } from "../dom.js";
import { readEvents } from "../sse.js";

export function playerView(app) {
  const art = h("span", { class: "art" });
  const title = h("strong", { class: "np-title" }, "Nothing is playing");
  const artist = h("small", { class: "np-artist" }, "");
  const device = h("small", { class: "np-device" }, "");
  const position = h("span", { class: "time", "aria-hidden": "true" }, "0:00");
  const duration = h("span", { class: "time", "aria-hidden": "true" }, "0:00");
  const seek = h("input", { id: "seek", type: "range", min: 0, max: 1, step: 1000, value: 0, disabled: true, "aria-label": "Seek" });
  const volume = h("input", { id: "volume", type: "range", min: 0, max: 100, step: 1, value: 50, disabled: true, "aria-label": "Volume" });
  const prev = h("button", { class: "icon", "aria-label": "Previous track", onclick: () => command("previous") }, icon("prev"));
  const toggle = h("button", { class: "icon play", "aria-label": "Play", onclick: () => command(state.isPlaying ? "pause" : "play") }, icon("play"));
  const next = h("button", { class: "icon", "aria-label": "Next track", onclick: () => command("next") }, icon("next"));
  const live = h("span", { class: "sr-only", role: "status", "aria-live": "polite" });
  const el = h(
    "footer",
    { id: "player", class: "player", "aria-label": "Now playing" },
    h("div", { class: "np" }, art, h("span", { class: "grow" }, title, artist, device)),
    h("div", { class: "controls" }, prev, toggle, next),
    h("div", { class: "progressbar" }, position, seek, duration),
    h("label", { class: "vol" }, icon("volume"), volume),
    live,
  );

  const state = { track: null, isPlaying: false, progress: 0, at: performance.now(), device: null, seeking: false };
  let controller = null;
  let timer = 0;
  let retry = 0;
  let retryTimer = 0;

  function progressNow() {
    if (!state.track) return 0;
    const p = state.isPlaying ? state.progress + (performance.now() - state.at) : state.progress;
    return Math.min(p, state.track.duration || p);
  }

  function paint() {
    const t = state.track;
    if (!state.seeking) seek.value = String(Math.round(progressNow()));
    position.textContent = formatTime(progressNow());
    if (!t) return;
    duration.textContent = formatTime(t.duration);
  }

  function setTrack(t) {
    const changed = state.track && t && state.track.id !== t.id;
    state.track = t;
    art.replaceChildren(t ? tile(t.albumName || t.name) : "");
    title.textContent = t ? t.name : "Nothing is playing";
    artist.textContent = t ? `${t.artist}${t.albumName ? ` · ${t.albumName}` : ""}` : "";
    seek.max = String(t ? Math.max(1, t.duration) : 1);
    seek.disabled = !t;
    seek.setAttribute("aria-valuetext", t ? `${formatTime(progressNow())} of ${formatTime(t.duration)}` : "nothing playing");
    if (t) live.textContent = `Now playing ${t.name} by ${t.artist}`;
    if (changed) app.trackChanged();
    paint();
  }

  function setPlaying(playing) {
    state.progress = progressNow();
    state.at = performance.now();
    state.isPlaying = playing;
    toggle.replaceChildren(icon(playing ? "pause" : "play"));
    toggle.setAttribute("aria-label", playing ? "Pause" : "Play");
    el.classList.toggle("playing", playing);
  }

  function setDevice(d) {
    state.device = d;
    device.textContent = d && d.name ? `on ${d.name}` : "";
    const can = Boolean(d && d.supportsVolume && d.volumePercent !== null && d.volumePercent !== undefined);
    volume.disabled = !can;
    if (can && document.activeElement !== volume) volume.value = String(d.volumePercent);
  }

  function onEvent({ type, data }) {
    retry = 0;
    if (type === "init") {
      setDevice(data.device);
      state.progress = data.progress || 0;
      state.at = performance.now();
      setPlaying(Boolean(data.isPlaying));
      setTrack(data.track);
    } else if (type === "track") {
      state.progress = 0;
      state.at = performance.now();
      setTrack(data);
    } else if (type === "state") setPlaying(Boolean(data.isPlaying));
    else if (type === "tick") {
      state.progress = data.p;
      state.at = performance.now();
      paint();
    } else if (type === "device") setDevice(data);
    else if (type === "volume") setDevice({ ...(state.device || {}), volumePercent: data.percent, supportsVolume: true });
    else if (type === "idle") {
      setPlaying(false);
      setTrack(null);
      setDevice(null);
    } else if (type === "queue_low") app.queueLow();
    else if (type === "auth_expired") {
      refresh().then((ok) => (ok ? connect() : app.expired()));
      return false;
    } else if (type === "reconnect") {
      setTimeout(connect, 0);
      return false;
    }
    return true;
  }

  async function connect() {
    disconnect();
    const mine = new AbortController();
    controller = mine;
    try {
      const response = await send("/api/player/stream", { signal: mine.signal });
      if (!response.ok) throw new ApiError(response.status, await errorMessage(response));
      await readEvents(response, onEvent, mine.signal);
    } catch (err) {
      if (mine.signal.aborted || (err && err.name === "AbortError")) return;
      if (err instanceof ApiError && err.status === 401) return; // logged out already
      if (retry === 0) app.fail(err, "The player stream stopped");
    }
    if (controller !== mine || mine.signal.aborted) return;
    // The stream ended without saying why: try again, more slowly each time.
    retry += 1;
    retryTimer = setTimeout(connect, Math.min(30000, 1000 * 2 ** Math.min(retry, 5)));
  }

  function disconnect() {
    clearTimeout(retryTimer);
    if (controller) controller.abort();
    controller = null;
  }

  async function command(name) {
    try {
      await api(`/api/player/${name}`, { method: "POST" });
      if (name === "pause") setPlaying(false);
      if (name === "play") setPlaying(true);
    } catch (err) {
      app.fail(err, `Could not ${name === "previous" ? "go back" : name}`);
    }
  }

  seek.addEventListener("input", () => {
    state.seeking = true;
    position.textContent = formatTime(Number(seek.value));
  });
  seek.addEventListener("change", async () => {
    const ms = Math.round(Number(seek.value));
    state.seeking = false;
    try {
      await api("/api/player/seek", { method: "POST", body: { position_ms: ms } });
      state.progress = ms;
      state.at = performance.now();
      paint();
    } catch (err) {
      app.fail(err, "Could not seek");
    }
  });
  volume.addEventListener("change", async () => {
    try {
      await api("/api/player/volume", { method: "PUT", body: { volume_percent: Number(volume.value) } });
      app.say(`Volume ${volume.value}%.`);
    } catch (err) {
      app.fail(err, "Could not change the volume");
    }
  });

  return {
    el,
    start() {
      clearInterval(timer);
      timer = setInterval(paint, 500);
      retry = 0;
      connect();
    },
    stop() {
      clearInterval(timer);
      disconnect();
      setPlaying(false);
      setTrack(null);
      setDevice(null);
    },
  };
}
