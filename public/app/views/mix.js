// The live mix: start it from a playlist, its queue (reorder, remove), suggestions, steering
// by text (streamed, with its stages) and by preset, and the vibe settings.

import { ApiError, api, errorMessage, send, sentence } from "../api.js";
import { clear, h, icon, tile } from "../dom.js";
import { readEvents } from "../sse.js";

const PRESETS = ["More energy", "Chill out", "80s vibes", "Party mode", "Late night", "Something fresh"];
const DIRECTIONS = [
  ["building", "Building"],
  ["steady", "Steady"],
  ["winding_down", "Winding down"],
];
const STAGES = { analyzing: "Reading the request", adjusting: "Adjusting the vibe", building: "Building the queue", playing: "Starting playback" };

export function mixView(app) {
  const body = h("div", { class: "mix" });
  const el = h("section", { id: "view-mix", class: "view", "aria-labelledby": "mix-title" }, h("h2", { id: "mix-title" }, "Mix"), body);
  let mix = null; // the session
  let loaded = false;
  let busy = false;

  async function load() {
    clear(body, h("p", { class: "muted" }, "Loading your mix…"));
    try {
      mix = (await api("/api/mix/current")).session;
      loaded = true;
      render();
    } catch (err) {
      clear(body);
      app.fail(err, "Could not load your mix");
    }
  }

  async function act(label, fn) {
    if (busy) return;
    busy = true;
    el.setAttribute("aria-busy", "true");
    try {
      await fn();
    } catch (err) {
      app.fail(err, label);
    } finally {
      busy = false;
      el.removeAttribute("aria-busy");
    }
  }

  function renderStart(seed) {
    const select = h(
      "select",
      { id: "mix-seed" },
      h("option", { value: "" }, "Surprise me (your top and recent tracks)"),
      app.state.playlists.map((p) => h("option", { value: p.id, selected: seed ? p.id === seed.id : false }, p.name)),
    );
    clear(
      body,
      h("p", {}, "No mix is running. Start one from a playlist and the DJ keeps a queue of five tracks going."),
      h(
        "form",
        { class: "row", onsubmit: (e) => (e.preventDefault(), start(select.value)) },
        h("label", { for: "mix-seed" }, "Start from "),
        select,
        h("button", { type: "submit" }, "Start mix"),
      ),
    );
  }

  function start(seedId) {
    return act("Could not start the mix", async () => {
      clear(body, h("p", { role: "status" }, "Starting your mix… the DJ is picking the first tracks."));
      try {
        const payload = seedId ? { seedPlaylistId: seedId } : {};
        mix = (await api("/api/mix/start", { method: "POST", body: payload })).session;
      } finally {
        render();
      }
    });
  }

  function render() {
    if (!mix) return renderStart(app.state.pendingSeed);
    app.state.pendingSeed = null;
    const v = mix.vibe;
    clear(
      body,
      h(
        "div",
        { class: "grid" },
        h("section", { class: "card", "aria-labelledby": "vibe-title" }, h("h3", { id: "vibe-title" }, "Vibe"), vibeFacts(v), steerBox(), vibeForm(v)),
        h("section", { class: "card", "aria-labelledby": "queue-title" }, h("h3", { id: "queue-title" }, `Queue (${mix.queue.length})`), queueList(), autoFill()),
        h("section", { class: "card", "aria-labelledby": "sugg-title" }, h("h3", { id: "sugg-title" }, "Suggestions"), suggestionsBox()),
        h("section", { class: "card", "aria-labelledby": "hist-title" }, h("h3", { id: "hist-title" }, "Played"), historyList()),
      ),
      h("p", {}, h("button", { class: "danger", onclick: end }, "End mix")),
    );
  }

  function vibeFacts(v) {
    return h(
      "dl",
      { class: "facts", "aria-label": "Current vibe" },
      h("dt", {}, "Energy"),
      h("dd", { "data-testid": "energy" }, `${v.energyLevel}/10, ${String(v.energyDirection).replace("_", " ")}`),
      h("dt", {}, "Tempo"),
      h("dd", {}, `${Math.round(v.bpmRange.min)}–${Math.round(v.bpmRange.max)} BPM`),
      h("dt", {}, "Era"),
      h("dd", {}, `${v.era.start}–${v.era.end}`),
      h("dt", {}, "Genres"),
      h("dd", {}, v.genres.join(", ") || "any"),
      v.mood.length ? [h("dt", {}, "Mood"), h("dd", {}, v.mood.join(", "))] : null,
    );
  }

  function steerBox() {
    const input = h("input", { id: "steer-input", type: "text", maxlength: 500, required: true, placeholder: "e.g. darker and slower" });
    const progress = h("ol", { class: "progress", role: "status", "aria-live": "polite", "aria-label": "Steering progress" });
    const form = h(
      "form",
      { class: "row", onsubmit: (e) => (e.preventDefault(), steer(input.value.trim(), progress)) },
      h("label", { for: "steer-input" }, "Steer the vibe "),
      input,
      h("button", { type: "submit" }, "Steer"),
    );
    const presets = h(
      "div",
      { class: "presets", role: "group", "aria-label": "Vibe presets" },
      PRESETS.map((name) => h("button", { type: "button", onclick: () => preset(name, progress) }, name)),
    );
    return [form, presets, progress];
  }

  function steer(direction, progress) {
    if (!direction) return;
    return act("Could not steer the mix", async () => {
      clear(progress);
      const line = (text, cls = "") => progress.append(h("li", { class: cls }, text));
      const response = await send("/api/mix/vibe/steer-stream", { method: "POST", body: { direction } });
      if (!response.ok) throw new ApiError(response.status, await errorMessage(response));
      let failed = null;
      await readEvents(response, ({ type, data }) => {
        if (type === "ack") line(data.message);
        else if (type === "progress") line(`${STAGES[data.stage] || data.stage}: ${data.message}`);
        else if (type === "thinking") line("The DJ is thinking it over…", "muted");
        else if (type === "vibe_update") {
          line(data.changes?.length ? `Vibe: ${data.changes.join("; ")}` : "The vibe stays as it is.");
          mix = { ...mix, vibe: data.vibe };
        } else if (type === "queue_update") line(`Queued ${data.track.name} by ${data.track.artist}`, "muted");
        else if (type === "error") failed = sentence(data?.message || "Steering failed");
        else if (type === "done") {
          mix = { ...mix, vibe: data.vibe, queue: data.queue };
          line(data.message, "done");
        }
        return true;
      });
      const lines = [...progress.children].map((li) => [li.textContent, li.className]);
      render();
      const again = body.querySelector(".progress");
      lines.forEach(([text, cls]) => again.append(h("li", { class: cls }, text)));
      if (failed) throw new ApiError(500, failed);
    });
  }

  function preset(name, progress) {
    return act(`Could not apply "${name}"`, async () => {
      clear(progress, h("li", {}, `Applying "${name}"…`));
      const r = await api("/api/mix/vibe/steer", { method: "POST", body: { direction: name.toLowerCase() } });
      mix = { ...mix, vibe: r.vibe, queue: r.queue };
      render();
      const again = body.querySelector(".progress");
      again.append(h("li", { class: "done" }, r.changes.length ? `${name}: ${r.changes.join("; ")}` : `${name}: the vibe already fits.`));
    });
  }

  function vibeForm(v) {
    const energy = h("input", { id: "vibe-energy", type: "range", min: 1, max: 10, step: 1, value: Math.round(v.energyLevel) });
    const energyOut = h("output", { for: "vibe-energy" }, String(Math.round(v.energyLevel)));
    energy.addEventListener("input", () => (energyOut.textContent = energy.value));
    const direction = h("select", { id: "vibe-direction" }, DIRECTIONS.map(([val, text]) => h("option", { value: val, selected: val === v.energyDirection }, text)));
    const bpmMin = h("input", { id: "vibe-bpm-min", type: "number", min: 20, max: 220, value: Math.round(v.bpmRange.min), required: true });
    const bpmMax = h("input", { id: "vibe-bpm-max", type: "number", min: 20, max: 220, value: Math.round(v.bpmRange.max), required: true });
    return h(
      "details",
      {},
      h("summary", {}, "Vibe settings"),
      h(
        "form",
        {
          class: "settings",
          onsubmit: (e) => {
            e.preventDefault();
            const min = Number(bpmMin.value);
            const max = Number(bpmMax.value);
            if (min > max) return app.fail(new ApiError(400, "The lowest BPM must not be above the highest."), "Could not change the vibe");
            act("Could not change the vibe", async () => {
              const r = await api("/api/mix/vibe", {
                method: "PUT",
                body: { energyLevel: Number(energy.value), energyDirection: direction.value, bpmRange: { min, max } },
              });
              mix = { ...mix, vibe: r.vibe, queue: r.queue };
              render();
              app.say("Vibe settings saved; the queue was refilled to match.");
            });
          },
        },
        h("label", { for: "vibe-energy" }, "Energy "),
        energy,
        energyOut,
        h("label", { for: "vibe-direction" }, "Direction "),
        direction,
        h("label", { for: "vibe-bpm-min" }, "Lowest BPM "),
        bpmMin,
        h("label", { for: "vibe-bpm-max" }, "Highest BPM "),
        bpmMax,
        h("button", { type: "submit" }, "Apply settings"),
      ),
    );
  }

  function queueList() {
    if (!mix.queue.length) return h("p", { class: "muted" }, "The queue is empty.");
    const last = mix.queue.length - 1;
    return h(
      "ol",
      { class: "queue", "aria-label": "Mix queue" },
      mix.queue.map((t, i) =>
        h(
          "li",
          {},
          tile(t.name),
          h("span", { class: "grow" }, h("strong", {}, t.name), h("small", {}, `${t.artist}${t.reason ? ` · ${t.reason}` : ""}`)),
          h("span", { class: "buttons" },
            h("button", { class: "icon", "aria-label": `Move ${t.name} up`, disabled: i === 0, onclick: () => reorder(i, i - 1) }, icon("up")),
            h("button", { class: "icon", "aria-label": `Move ${t.name} down`, disabled: i === last, onclick: () => reorder(i, i + 1) }, icon("down")),
            h("button", { class: "icon", "aria-label": `Remove ${t.name}`, onclick: () => remove(i, t.name) }, icon("close")),
          ),
        ),
      ),
    );
  }

  function reorder(from, to) {
    return act("Could not move the track", async () => {
      const r = await api("/api/mix/queue/reorder", { method: "PUT", body: { from, to } });
      mix = { ...mix, queue: r.queue };
      render();
      body.querySelectorAll(".queue li")[to]?.querySelector("button:not([disabled])")?.focus();
    });
  }

  function remove(position, name) {
    return act(`Could not remove "${name}"`, async () => {
      const r = await api(`/api/mix/queue/${position}`, { method: "DELETE" });
      mix = { ...mix, queue: r.queue };
      render();
      app.say(`Removed "${name}" from the queue.`);
    });
  }

  function autoFill() {
    const box = h("input", { type: "checkbox", id: "mix-autofill", checked: Boolean(mix.preferences?.autoFill) });
    box.addEventListener("change", () =>
      act("Could not change auto-fill", async () => {
        const r = await api("/api/mix/preferences", { method: "PATCH", body: { autoFill: box.checked } });
        mix = r.session;
        render();
      }),
    );
    return h("p", { class: "check" }, box, h("label", { for: "mix-autofill" }, "Keep the queue filled automatically"));
  }

  function suggestionsBox() {
    const list = h("ul", { class: "suggestions", "aria-label": "Suggested tracks" });
    const button = h("button", {
      onclick: () =>
        act("Could not get suggestions", async () => {
          clear(list, h("li", { class: "muted", role: "status" }, "Finding tracks that fit…"));
          const r = await api("/api/mix/suggestions?count=5");
          clear(
            list,
            r.suggestions.length
              ? r.suggestions.map((s) =>
                  h(
                    "li",
                    {},
                    tile(s.name),
                    h("span", { class: "grow" }, h("strong", {}, s.name), h("small", {}, `${s.artist}${s.bpm ? ` · ${Math.round(s.bpm)} BPM` : ""} · ${s.reason}`)),
                    h("button", { "aria-label": `Add ${s.name} by ${s.artist} to the queue`, onclick: (e) => add(s, e.currentTarget) }, "Add"),
                  ),
                )
              : h("li", { class: "muted" }, "No suggestions right now."),
          );
        }),
    }, "Suggest tracks");
    return [button, list];
  }

  function add(s, button) {
    return act(`Could not add "${s.name}"`, async () => {
      const r = await api("/api/mix/queue/add", { method: "POST", body: { trackUri: s.trackUri } });
      mix = { ...mix, queue: r.queue };
      const list = body.querySelector(".suggestions");
      button.closest("li")?.remove();
      const kept = list ? [...list.children] : [];
      render();
      const fresh = body.querySelector(".suggestions");
      if (fresh) kept.forEach((li) => fresh.append(li));
      app.say(`Added "${s.name}" to the queue.`);
    });
  }

  function historyList() {
    if (!mix.history.length) return h("p", { class: "muted" }, "Nothing played in this mix yet.");
    return h("ol", { class: "history" }, mix.history.slice(0, 8).map((t) => h("li", {}, h("strong", {}, t.name), " ", h("small", {}, t.artist))));
  }

  function end() {
    return act("Could not end the mix", async () => {
      const r = await api("/api/mix/end", { method: "DELETE" });
      mix = null;
      render();
      app.say(`Mix ended after ${Math.round(r.sessionDuration / 60)} min with ${r.tracksPlayed} tracks played.`);
    });
  }

  // The player moved on: the server updates the session in the background, so read it again.
  let refreshTimer = 0;
  function trackChanged() {
    if (!loaded || !mix) return;
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(async () => {
      if (busy) return;
      try {
        const fresh = (await api("/api/mix/current")).session;
        if (!busy) {
          mix = fresh;
          if (!el.hidden) render();
        }
      } catch {
        /* the next change tries again */
      }
    }, 2500);
  }

  async function queueLow() {
    if (!mix || busy || !mix.preferences?.autoFill) return;
    try {
      mix = (await api("/api/mix/preferences", { method: "PATCH", body: { autoFill: true } })).session;
      if (!el.hidden) render();
    } catch {
      /* best effort */
    }
  }

  return {
    el,
    show() {
      if (!loaded) load();
      else render();
    },
    startFrom(p) {
      app.state.pendingSeed = p;
      if (loaded && !mix) render();
    },
    trackChanged,
    queueLow,
    reset() {
      loaded = false;
      mix = null;
      clear(body);
    },
  };
}
