// The DJ web app: login, views, the notice line, and the now-playing bar.

import { ApiError, EXPIRED, api, refresh, sentence, session } from "./api.js";
import { clear, h, icon } from "./dom.js";
import { chatView } from "./views/chat.js";
import { mixView } from "./views/mix.js";
import { playerView } from "./views/player.js";
import { playlistsView } from "./views/playlists.js";

const LOGIN_ERRORS = {
  access_denied: "Spotify login was cancelled.",
  missing_parameters: "Spotify did not send the login back complete. Please try again.",
  missing_cookie: "The login took place in another browser window or its cookie was blocked. Please try again.",
  invalid_cookie: "The login could not be checked. Please try again.",
  tampered_cookie: "The login could not be checked. Please try again.",
  state_mismatch: "The login did not match the one this page started. Please try again.",
  expired_auth: "The login took too long and expired. Please try again.",
  token_exchange_failed: "Spotify refused the login. Please try again.",
  invalid_token_response: "Spotify answered the login with something unexpected. Please try again.",
  callback_failed: "The login failed on the server. Please try again.",
};
const REFRESH_MARGIN_MS = 60_000;

const notice = document.getElementById("notice");
const main = document.getElementById("main");
const userBox = document.getElementById("user");
const nav = document.getElementById("nav");

const app = {
  state: { playlists: [], selected: null, me: null, trackDates: [], pendingSeed: null },
  fail(err, context) {
    const text = err instanceof ApiError || (err && err.message) ? err.message : String(err);
    show(err instanceof ApiError && err.status === 401 ? text : `${context}: ${sentence(text)}`, "error");
  },
  say(text) {
    show(text, "info");
  },
  expired() {
    session.clear(EXPIRED);
  },
  chatAbout(p) {
    views.chat.about(p);
    go("chat");
  },
  startMix(p) {
    views.mix.startFrom(p);
    go("mix");
  },
  trackChanged() {
    views.mix.trackChanged();
  },
  queueLow() {
    views.mix.queueLow();
  },
};

function dismiss() {
  clear(notice);
  notice.hidden = true;
}

function show(text, kind) {
  clear(notice, h("p", { class: kind }, text), h("button", { class: "icon", "aria-label": "Dismiss message", onclick: dismiss }, icon("close")));
  notice.hidden = false;
}

const views = {
  playlists: playlistsView(app),
  chat: chatView(app),
  mix: mixView(app),
};
const player = playerView(app);
const loginView = h(
  "section",
  { id: "view-login", class: "view login" },
  h("h2", {}, "Your AI DJ"),
  h("p", {}, "Log in with Spotify to see your playlists, get them analysed, talk to the DJ and run a live mix that follows your mood."),
  h("button", { class: "primary", id: "login", onclick: login }, "Log in with Spotify"),
);

main.append(loginView, ...Object.values(views).map((v) => v.el));
document.body.append(player.el);

function go(name) {
  if (!session.get() || !started) return render();
  if (!views[name]) name = "playlists";
  if (location.hash !== `#${name}`) history.replaceState(null, "", `#${name}`);
  for (const [key, view] of Object.entries(views)) view.el.hidden = key !== name;
  for (const link of nav.querySelectorAll("a")) {
    if (link.hash === `#${name}`) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  views[name].show();
}

async function login() {
  const button = document.getElementById("login");
  button.disabled = true;
  try {
    const r = await fetch("/api/spotify/auth-url");
    const body = await r.json().catch(() => ({}));
    if (!r.ok || !body.url) throw new Error(body.error || "The login could not be started");
    location.assign(body.url);
  } catch (err) {
    button.disabled = false;
    app.fail(err, "Could not start the Spotify login");
  }
}

function logout() {
  session.clear();
}

let refreshTimer = 0;
function scheduleRefresh() {
  clearTimeout(refreshTimer);
  const current = session.get();
  if (!current) return;
  const wait = Math.max(5_000, current.expiresAt - Date.now() - REFRESH_MARGIN_MS);
  refreshTimer = setTimeout(async () => {
    if (!(await refresh())) app.expired();
  }, Math.min(wait, 2 ** 31 - 1));
}

async function loadMe() {
  try {
    app.state.me = await api("/api/spotify/me");
    clear(userBox, h("span", {}, app.state.me.display_name || app.state.me.id), " ", h("button", { id: "logout", onclick: logout }, "Log out"));
  } catch (err) {
    app.fail(err, "Could not read your Spotify profile");
  }
}

let started = false;
function render() {
  const loggedIn = Boolean(session.get());
  document.body.classList.toggle("logged-in", loggedIn);
  nav.hidden = !loggedIn;
  loginView.hidden = loggedIn;
  player.el.hidden = !loggedIn;
  if (!loggedIn) {
    for (const view of Object.values(views)) view.el.hidden = true;
    clear(userBox);
    return;
  }
  if (!started) {
    started = true;
    clear(userBox, h("button", { id: "logout", onclick: logout }, "Log out"));
    loadMe();
    player.start();
    scheduleRefresh();
  }
  go(location.hash.slice(1) || "playlists");
}

session.onChange((change) => {
  if (change.kind === "logout") {
    started = false;
    clearTimeout(refreshTimer);
    player.stop();
    for (const view of Object.values(views)) view.reset();
    app.state = { playlists: [], selected: null, me: null, trackDates: [], pendingSeed: null };
    if (change.reason) show(change.reason, "error");
    else show("You are logged out.", "info");
    history.replaceState(null, "", "/");
    render();
  } else if (change.kind === "refresh") {
    scheduleRefresh();
  } else {
    render();
  }
});

// Back from Spotify: the token (or an error code) arrives in the query string; take it out.
function readCallback() {
  const params = new URLSearchParams(location.search);
  if (!params.has("spotify_token") && !params.has("error") && !params.has("auth_success")) return;
  const token = params.get("spotify_token");
  const error = params.get("error");
  history.replaceState(null, "", location.pathname + location.hash);
  if (token) {
    session.set(token, params.get("expires_in"));
  } else if (error) {
    show(LOGIN_ERRORS[error] || sentence(`Spotify login failed (${error})`), "error");
  }
}

addEventListener("hashchange", () => go(location.hash.slice(1)));
addEventListener("storage", (e) => {
  if (e.key === "dj.auth" && !e.newValue) session.clear();
});
readCallback();
render();
