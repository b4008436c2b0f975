// The API client: the Spotify token (kept in localStorage), JSON calls, errors as sentences,
// one token refresh on a 401 (through the HttpOnly refresh cookie), logout when that fails.

const KEY = "dj.auth";
const listeners = new Set();
let refreshing = null;

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.name = "ApiError";
    this.status = status;
  }
}

export function sentence(text) {
  let s = String(text || "").trim();
  if (!s) return "Something went wrong.";
  s = s.charAt(0).toUpperCase() + s.slice(1);
  return /[.!?…]$/.test(s) ? s : `${s}.`;
}

export const session = {
  get() {
    try {
      const value = JSON.parse(localStorage.getItem(KEY) || "null");
      return value && typeof value.token === "string" ? value : null;
    } catch {
      return null;
    }
  },
  set(token, expiresIn, kind = "login") {
    const seconds = Number(expiresIn) > 0 ? Number(expiresIn) : 3600;
    localStorage.setItem(KEY, JSON.stringify({ token, expiresAt: Date.now() + seconds * 1000 }));
    emit({ kind });
  },
  // reason: a sentence to show (a forced logout), or undefined (the user logged out).
  clear(reason) {
    const had = localStorage.getItem(KEY) !== null;
    localStorage.removeItem(KEY);
    if (had || reason) emit({ kind: "logout", reason });
  },
  onChange(fn) {
    listeners.add(fn);
    return () => listeners.delete(fn);
  },
};

function emit(change) {
  for (const fn of listeners) fn(change);
}

export const EXPIRED = "Your Spotify login has expired. Please log in again.";

// A new access token from the refresh cookie; concurrent callers share one request.
export function refresh() {
  if (!refreshing) {
    refreshing = (async () => {
      try {
        const r = await fetch("/api/spotify/refresh", { method: "POST" });
        if (!r.ok) return false;
        const body = await r.json();
        if (!body || typeof body.access_token !== "string") return false;
        session.set(body.access_token, body.expires_in, "refresh");
        return true;
      } catch {
        return false;
      } finally {
        setTimeout(() => {
          refreshing = null;
        }, 0);
      }
    })();
  }
  return refreshing;
}

export async function errorMessage(response) {
  let body = null;
  try {
    body = await response.clone().json();
  } catch {
    try {
      const text = (await response.text()).trim();
      if (text && text.length < 200) return sentence(text);
    } catch {
      /* no body */
    }
  }
  const err = body && body.error;
  if (typeof err === "string") return sentence(err);
  if (err && typeof err === "object") {
    const issue = Array.isArray(err.issues) && err.issues[0];
    if (issue && issue.message) {
      const where = Array.isArray(issue.path) && issue.path.length ? `${issue.path.join(".")}: ` : "";
      return sentence(`${where}${issue.message}`);
    }
    if (typeof err.message === "string") return sentence(err.message);
  }
  return sentence(`The server answered ${response.status} ${response.statusText || ""}`.trim());
}

// fetch with the Bearer token; a 401 refreshes the token once and retries, then logs out.
export async function send(path, { method = "GET", body, signal, headers = {} } = {}) {
  for (let attempt = 0; ; attempt++) {
    const current = session.get();
    if (!current) throw new ApiError(401, "Please log in with Spotify first.");
    const init = { method, signal, headers: { ...headers, Authorization: `Bearer ${current.token}` } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch (exc) {
      if (exc && exc.name === "AbortError") throw exc;
      throw new ApiError(0, "The DJ server cannot be reached. Check your connection and try again.");
    }
    if (response.status !== 401) return response;
    if (attempt === 0 && (await refresh())) continue;
    session.clear(EXPIRED);
    throw new ApiError(401, EXPIRED);
  }
}

export async function api(path, options = {}) {
  const response = await send(path, options);
  if (!response.ok) throw new ApiError(response.status, await errorMessage(response));
  if (response.status === 204) return null;
  return response.json();
}
