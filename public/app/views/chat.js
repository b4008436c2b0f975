// Chat with the DJ: the answer streams in as it is written, tools show their progress.

import { ApiError, errorMessage, send, sentence } from "../api.js";
import { clear, h } from "../dom.js";
import { readEvents } from "../sse.js";

const MODES = [
  ["analyze", "Analyse"],
  ["create", "Create playlists"],
  ["dj", "DJ"],
  ["edit", "Edit playlists"],
];

export function toolLabel(name) {
  return String(name || "tool").replace(/_/g, " ");
}

export function chatView(app) {
  const log = h("ol", { class: "chat-log", "aria-label": "Conversation", "aria-live": "polite" });
  const input = h("textarea", { id: "chat-input", rows: 2, maxlength: 2000, required: true, placeholder: "Ask the DJ…" });
  const mode = h("select", { id: "chat-mode" }, MODES.map(([v, t]) => h("option", { value: v }, t)));
  const context = h("input", { type: "checkbox", id: "chat-context" });
  const contextLabel = h("label", { for: "chat-context" }, "About the selected playlist");
  const status = h("p", { class: "status", role: "status" });
  const sendButton = h("button", { type: "submit" }, "Send");
  const stopButton = h("button", { type: "button", hidden: true, onclick: () => controller?.abort() }, "Stop");
  const form = h(
    "form",
    { class: "chat-form", onsubmit: (e) => (e.preventDefault(), ask()) },
    h("label", { for: "chat-input", class: "sr-only" }, "Message to the DJ"),
    input,
    h("div", { class: "row" }, h("label", { for: "chat-mode" }, "Mode "), mode, h("span", { class: "check" }, context, contextLabel), sendButton, stopButton),
  );
  const el = h("section", { id: "view-chat", class: "view", "aria-labelledby": "chat-title" }, h("h2", { id: "chat-title" }, "Chat with the DJ"), log, status, form);
  const history = [];
  let controller = null;

  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) {
      e.preventDefault();
      form.requestSubmit();
    }
  });

  function updateContext() {
    const p = app.state.selected;
    context.disabled = !p;
    if (!p) context.checked = false;
    contextLabel.textContent = p ? `About "${p.name}"` : "About the selected playlist (none selected)";
  }

  async function ask() {
    const text = input.value.trim();
    if (!text || controller) return;
    input.value = "";
    const playlist = context.checked ? app.state.selected : null;
    const message = playlist ? `[Playlist ID: ${playlist.id}] ${text}` : text;
    log.append(h("li", { class: "msg user" }, h("p", {}, text)));
    const answer = h("p", { class: "answer" });
    const tools = h("ul", { class: "tools", "aria-label": "Tool progress" });
    const item = h("li", { class: "msg dj busy" }, tools, answer);
    log.append(item);
    item.scrollIntoView({ block: "end" });
    controller = new AbortController();
    sendButton.disabled = true;
    stopButton.hidden = false;
    status.textContent = "The DJ is thinking…";
    let content = "";
    const running = new Map();
    try {
      const response = await send("/api/chat-stream/message", {
        method: "POST",
        body: { message, conversationHistory: history.slice(-20), mode: mode.value },
        signal: controller.signal,
      });
      if (!response.ok) throw new ApiError(response.status, await errorMessage(response));
      await readEvents(
        response,
        ({ type, data }) => {
          if (type === "content" && typeof data === "string") {
            content += data;
            answer.textContent = content;
          } else if (type === "thinking" && typeof data === "string") {
            status.textContent = data;
          } else if (type === "tool_start") {
            const row = h("li", { class: "tool running" }, `${toolLabel(data?.tool)}…`);
            running.set(data?.tool, row);
            tools.append(row);
          } else if (type === "tool_end") {
            const row = running.get(data?.tool) || tools.appendChild(h("li", { class: "tool" }));
            running.delete(data?.tool);
            row.className = "tool done";
            row.textContent = `${toolLabel(data?.tool)}: ${data?.result ?? "done"}`;
          } else if (type === "error") {
            item.append(h("p", { class: "error" }, sentence(typeof data === "string" ? data : "The DJ could not answer")));
          }
          return true; // `done` comes last and the server then ends the stream

        },
        controller.signal,
      );
      if (content) {
        history.push({ role: "user", content: text }, { role: "assistant", content: content.slice(0, 8000) });
      }
    } catch (err) {
      if (!(err && err.name === "AbortError")) app.fail(err, "The DJ could not answer");
    } finally {
      for (const row of running.values()) row.className = "tool stopped";
      if (!content && !item.querySelector(".error")) answer.textContent = "(no answer)";
      item.classList.remove("busy");
      status.textContent = "";
      controller = null;
      sendButton.disabled = false;
      stopButton.hidden = true;
    }
  }

  return {
    el,
    show() {
      updateContext();
      input.focus();
    },
    about(p) {
      app.state.selected = p;
      updateContext();
      context.checked = true;
    },
    reset() {
      controller?.abort();
      history.length = 0;
      clear(log);
    },
  };
}
