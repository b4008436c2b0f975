// djbuild's local Worker host: runs a built `dist/` Python Worker on Pyodide under Node.
//
//   node --experimental-wasm-jspi host.mjs --dist DIR --node-modules DIR
//        [--port N] [--host 127.0.0.1] [--persist-to DIR | --in-memory]
//        [--env-file FILE] [--sdk DIR] [--plan free|paid] [--cpu-ms N] [--subrequests N]
//        [--startup-budget-ms N] [--wait-until-ms N] [--memory-every N] [--workerd-clock]
//        [--control-stdin]
//
// The worker module runs on the real Pyodide and the real `workers` SDK; KV bindings are
// Miniflare's simulator; static assets follow Cloudflare's asset router; HTTP is node:http.
// On start-up it prints two lines:
//   djbuild-host ready http://HOST:PORT startup_ms=N import_ms=N
//   djbuild-host startup {"import_cpu_ms": N, "budget_ms": N, "over": bool, "top": [...], ...}
// and then one access-log line per request: METHOD PATH STATUS WALLms cpu=CPUms [id=...] [note].
// Limits follow workerd's (see docs/host-fidelity.md): the startup budget, per-request CPU
// time, subrequests and simultaneous connections, waitUntil's 30 s, the isolate's memory.
// Errors a user can act on go to stderr as "djbuild-host: error: ..." with a non-zero exit.
// With --control-stdin the host takes commands, one JSON object a line, on its standard input
// (never from HTTP traffic): {"id": N, "reload": ["module", ...]} imports the worker again in
// place after its files in dist/ changed (Node, Pyodide and KV stay up) and answers
//   djbuild-host reloaded {"id": N, "ok": true, "report": {...startup report...}, ...}
// or {"id": N, "ok": false, "error": "..."} when the new code does not import.

import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { loadFromSnapshot } from '../node/pyodide_snapshot.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const PY_ROOT = '/session/metadata';
const PY_MODULES = '/session/python_modules';
const PY_RUNTIME_SDK = '/session/runtime_sdk';
const PY_HOST = '/session/djbuild_host';

// ---------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------

function fail(message, code = 1) {
  process.stderr.write(`djbuild-host: error: ${message}\n`);
  process.exit(code);
}

function note(message) {
  process.stderr.write(`djbuild-host: ${message}\n`);
}

function parseArgs(argv) {
  const opts = {
    dist: null,
    port: 8787,
    host: '127.0.0.1',
    persistTo: null,
    inMemory: false,
    envFile: null,
    nodeModules: process.env.DJBUILD_NODE_MODULES ?? null,
    sdk: null,
    plan: 'paid',
    cpuMs: null,
    subrequests: null,
    startupBudgetMs: '1000',
    waitUntilMs: '30000',
    memoryEvery: '100',
    workerdClock: false,
    controlStdin: false,
  };
  const withValue = {
    '--dist': 'dist',
    '--port': 'port',
    '--host': 'host',
    '--persist-to': 'persistTo',
    '--env-file': 'envFile',
    '--node-modules': 'nodeModules',
    '--sdk': 'sdk',
    '--plan': 'plan',
    '--cpu-ms': 'cpuMs',
    '--subrequests': 'subrequests',
    '--startup-budget-ms': 'startupBudgetMs',
    '--wait-until-ms': 'waitUntilMs',
    '--memory-every': 'memoryEvery',
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--in-memory') {
      opts.inMemory = true;
    } else if (arg === '--workerd-clock') {
      opts.workerdClock = true;
    } else if (arg === '--control-stdin') {
      opts.controlStdin = true;
    } else if (arg in withValue) {
      if (i + 1 >= argv.length) fail(`${arg} needs a value`, 2);
      opts[withValue[arg]] = argv[++i];
    } else {
      fail(`unknown argument ${JSON.stringify(arg)}`, 2);
    }
  }
  if (!opts.dist) fail('--dist DIR is required', 2);
  if (!opts.nodeModules) fail('--node-modules DIR (or $DJBUILD_NODE_MODULES) is required', 2);
  const port = Number(opts.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`bad --port ${opts.port}`, 2);
  opts.port = port;
  if (opts.inMemory && opts.persistTo) fail('--persist-to and --in-memory exclude each other', 2);
  if (!(opts.plan in PLANS)) fail(`bad --plan ${opts.plan} (free or paid)`, 2);
  for (const key of ['cpuMs', 'subrequests', 'startupBudgetMs', 'waitUntilMs', 'memoryEvery']) {
    if (opts[key] === null) continue;
    const value = Number(opts[key]);
    if (!Number.isFinite(value) || value < 0) fail(`bad value ${opts[key]} for ${key}`, 2);
    opts[key] = value;
  }
  return opts;
}

// wrangler's `.dev.vars` / dotenv format: KEY=value, optional `export `, # comments,
// single quotes literal, double quotes with \n escapes and possibly several lines.
export function parseDotenv(text) {
  const out = {};
  const re = /^\s*(?:export\s+)?([\w.-]+)\s*=\s*('(?:[^']*)'|"(?:\\.|[^"\\])*"|[^\n#]*?)\s*(?:#.*)?$/gm;
  let match;
  while ((match = re.exec(text)) !== null) {
    let value = match[2];
    if (value.startsWith("'")) {
      value = value.slice(1, -1);
    } else if (value.startsWith('"')) {
      value = value
        .slice(1, -1)
        .replace(/\\n/g, '\n')
        .replace(/\\r/g, '\r')
        .replace(/\\(["\\])/g, '$1');
    }
    out[match[1]] = value;
  }
  return out;
}

// ---------------------------------------------------------------------------
// Limits, as Cloudflare sets them per plan (platform facts, 2026)
// ---------------------------------------------------------------------------

export const PLANS = {
  free: { cpuMs: 10, subrequests: 50 },
  paid: { cpuMs: 30000, subrequests: 10000 },
};
const MAX_CONNECTIONS = 6; // simultaneous open outgoing connections per request
const MEMORY_LIMIT_MB = 128; // per isolate, shared with Pyodide itself

// The plan gives the defaults; `[limits] cpu_ms` in the wrangler config overrides the CPU time;
// explicit options override both.
export function resolveLimits(opts, config) {
  const plan = PLANS[opts.plan] ?? PLANS.paid;
  const configured = Number(config?.limits?.cpu_ms);
  return {
    plan: opts.plan,
    cpuMs: opts.cpuMs ?? (Number.isFinite(configured) && configured > 0 ? configured : plan.cpuMs),
    subrequests: opts.subrequests ?? plan.subrequests,
    connections: MAX_CONNECTIONS,
    startupBudgetMs: opts.startupBudgetMs,
    waitUntilMs: opts.waitUntilMs,
    memoryEvery: opts.memoryEvery,
  };
}

// CPU time in ms of the thread that runs the isolate (Node's main thread): background work
// such as wasm tier-up compilation and GC helper threads is not the isolate's and is left out.
// Node before 23.9 has no per-thread figure; then the whole process is counted.
const threadCpu = typeof process.threadCpuUsage === 'function' ? () => process.threadCpuUsage() : null;
function cpuNowMs() {
  const used = threadCpu ? threadCpu() : process.cpuUsage();
  return (used.user + used.system) / 1000;
}

// The clocks the worker sees. With --workerd-clock they stand still while Python runs and move
// to the real time only when a request starts and when its Python code resumes after an await
// (that is, after I/O), as workerd's do. The host's own timings use the real clocks.
const realDateNow = Date.now.bind(Date);
const realPerfNow = performance.now.bind(performance);
const workerClock = { frozen: false, date: realDateNow(), perf: realPerfNow() };

function installWorkerdClock() {
  workerClock.frozen = true;
  Date.now = () => (workerClock.frozen ? workerClock.date : realDateNow());
  performance.now = () => (workerClock.frozen ? workerClock.perf : realPerfNow());
}

function advanceWorkerClock() {
  workerClock.date = realDateNow();
  workerClock.perf = realPerfNow();
}

// ---------------------------------------------------------------------------
// Per-request meter: CPU time, subrequests, connections, termination
// ---------------------------------------------------------------------------

let currentMeter = null; // the meter whose Python step is running now, if any

function newMeter(label, limits) {
  return {
    label,
    cpuMs: 0,
    cpuLimitMs: limits.cpuMs,
    subrequests: 0,
    subrequestLimit: limits.subrequests,
    open: 0,
    maxOpen: 0,
    waiters: [],
    killed: false,
    killReason: '',
    onKill: null,
  };
}

function killMeter(meter, reason) {
  if (meter.killed) return;
  meter.killed = true;
  meter.killReason = reason;
  meter.onKill?.(reason);
}

// Called by the bootstrap around each step of a request's Python work.
const STEP_HOOKS = {
  step_begin(meter) {
    if (meter.killed) return -1;
    currentMeter = meter;
    if (workerClock.frozen) advanceWorkerClock();
    return cpuNowMs();
  },
  step_end(meter, started) {
    currentMeter = null;
    meter.cpuMs += cpuNowMs() - started;
    if (!meter.killed && meter.cpuLimitMs > 0 && meter.cpuMs > meter.cpuLimitMs) {
      killMeter(meter, 'cpu');
      process.stderr.write(
        `djbuild-host: ${meter.label} exceeded its CPU time limit: ${meter.cpuMs.toFixed(1)} ms > ` +
          `${meter.cpuLimitMs} ms (error 1102: Worker exceeded resource limits)\n`,
      );
    }
    return meter.killed;
  },
};

function acquireConnection(meter) {
  if (meter.open < MAX_CONNECTIONS) {
    meter.open += 1;
    meter.maxOpen = Math.max(meter.maxOpen, meter.open);
    return null;
  }
  return new Promise((resolve) => meter.waiters.push(resolve));
}

function releaseConnection(meter) {
  const next = meter.waiters.shift();
  if (next) next(); // the slot passes to the oldest waiting fetch
  else meter.open -= 1;
}

const NULL_BODY_STATUS = new Set([101, 103, 204, 205, 304]);

// A response whose connection slot is given back once its body was read, failed or cancelled.
function releaseWhenBodyDone(response, release) {
  let released = false;
  const done = () => {
    if (!released) {
      released = true;
      release();
    }
  };
  const reader = response.body.getReader();
  const body = new ReadableStream({
    async pull(controller) {
      try {
        const { value, done: finished } = await reader.read();
        if (finished) {
          done();
          controller.close();
        } else {
          controller.enqueue(value);
        }
      } catch (err) {
        done();
        controller.error(err);
      }
    },
    cancel(reason) {
      done();
      return reader.cancel(reason);
    },
  });
  const wrapped = new Response(body, {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
  Object.defineProperties(wrapped, {
    url: { value: response.url },
    redirected: { value: response.redirected },
  });
  return wrapped;
}

// The worker's global fetch: counts subrequests and holds at most six connections open per
// request, independently of whatever budget the app keeps itself.
function installMeteredFetch() {
  const realFetch = globalThis.fetch;
  globalThis.fetch = async function fetch(input, init) {
    const meter = currentMeter; // read before the first await: the calling step's request
    if (meter === null) return realFetch(input, init);
    meter.subrequests += 1;
    if (meter.subrequestLimit > 0 && meter.subrequests > meter.subrequestLimit) {
      if (meter.subrequests === meter.subrequestLimit + 1) {
        process.stderr.write(
          `djbuild-host: ${meter.label} made more than ${meter.subrequestLimit} subrequests; ` +
            'fetch fails with "Too many subrequests."\n',
        );
      }
      throw new Error('Too many subrequests.');
    }
    const waiting = acquireConnection(meter);
    if (waiting) await waiting;
    let response;
    try {
      response = await realFetch(input, init);
    } catch (err) {
      releaseConnection(meter);
      throw err;
    }
    if (!response.body || NULL_BODY_STATUS.has(response.status)) {
      releaseConnection(meter);
      return response;
    }
    return releaseWhenBodyDone(response, () => releaseConnection(meter));
  };
}

// Wasm memory of an isolate, in MB.
function isolateMemoryMb(pyodide) {
  const mod = pyodide?._module;
  const bytes = mod?.HEAPU8?.buffer?.byteLength ?? mod?.wasmMemory?.buffer?.byteLength ?? 0;
  return bytes / (1024 * 1024);
}

// ---------------------------------------------------------------------------
// Compatibility flags, as workerd computes the ones the Python runtime reads
// ---------------------------------------------------------------------------

// [enable flag, disable flag, date on which it becomes the default]
const DATED_FLAGS = [
  ['python_no_global_handlers', 'disable_python_no_global_handlers', '2025-08-14'],
  ['python_workers_force_new_vendor_path', null, '2025-08-11'],
  ['python_request_headers_preserve_commas', 'disable_python_request_headers_preserve_commas', '2026-02-17'],
  ['enable_python_external_sdk', 'disable_python_external_sdk', '2026-04-21'],
  ['python_process_pth_files', 'disable_python_process_pth_files', '2026-05-26'],
];
// [flag, disable flag, implied when `python_workers` is on and the date is on or after]
const IMPLIED_BY_PYTHON_WORKERS = [
  ['python_workflows', 'disable_python_workflows', '2025-09-20'],
  ['python_workers_20250116', 'no_python_workers_20250116', '2025-09-29'],
  ['python_check_rng_state', 'disable_python_check_rng_state', '2025-12-16'],
  ['python_workflows_implicit_dependencies', 'no_python_workflows_implicit_dependencies', '2026-02-25'],
];

export function compatFlags(date, flags) {
  const given = new Set(flags);
  const out = {};
  for (const flag of given) out[flag] = true;
  for (const [on, off, since] of DATED_FLAGS) {
    out[on] = given.has(on) || (date >= since && !(off && given.has(off)));
  }
  const python = given.has('python_workers');
  for (const [on, off, since] of IMPLIED_BY_PYTHON_WORKERS) {
    out[on] = given.has(on) || (python && date >= since && !given.has(off));
  }
  out.python_workers = python;
  return out;
}

// ---------------------------------------------------------------------------
// Static assets, like Cloudflare's asset router
// ---------------------------------------------------------------------------

const CONTENT_TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.htm': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'application/javascript; charset=utf-8',
  '.mjs': 'application/javascript; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.webmanifest': 'application/manifest+json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/markdown; charset=utf-8',
  '.csv': 'text/csv; charset=utf-8',
  '.xml': 'application/xml; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.avif': 'image/avif',
  '.ico': 'image/x-icon',
  '.wasm': 'application/wasm',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.otf': 'font/otf',
  '.pdf': 'application/pdf',
  '.mp3': 'audio/mpeg',
  '.mp4': 'video/mp4',
  '.webm': 'video/webm',
  '.wav': 'audio/wav',
  '.zip': 'application/zip',
};

function globToRegExp(pattern) {
  const escaped = pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*');
  return new RegExp(`^${escaped}$`);
}

class Assets {
  constructor(config, configDir) {
    const dir = path.resolve(configDir, config.directory ?? '.');
    if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
      fail(`[assets] directory ${dir} does not exist; rebuild dist/ or fix wrangler.toml`);
    }
    this.rootPath = dir;
    this.root = fs.realpathSync(dir);
    this.stamp = null;
    this.files = new Map();
    this.binding = config.binding ?? null;
    this.notFound = config.not_found_handling ?? 'none';
    const rwf = config.run_worker_first ?? false;
    this.workerFirstAll = rwf === true;
    const patterns = Array.isArray(rwf) ? rwf : [];
    this.include = patterns.filter((p) => !p.startsWith('!')).map(globToRegExp);
    this.exclude = patterns.filter((p) => p.startsWith('!')).map((p) => globToRegExp(p.slice(1)));
  }

  workerFirst(pathname) {
    if (this.workerFirstAll) return true;
    if (this.exclude.some((re) => re.test(pathname))) return false;
    return this.include.some((re) => re.test(pathname));
  }

  // The asset files, as Cloudflare knows them: a manifest of URL path -> file, made when the
  // host starts (Cloudflare's is made at upload) and again whenever the folder was replaced or
  // changed at its top (djbuild dev swaps in a new dist/ on every rebuild). A request's lookup
  // is then a Map lookup and one stat of the folder, not a realpath of every candidate.
  manifest() {
    let stamp;
    try {
      const st = fs.statSync(this.rootPath);
      stamp = `${st.dev}:${st.ino}:${st.mtimeMs}`;
    } catch {
      stamp = 'missing';
    }
    if (stamp !== this.stamp) {
      this.stamp = stamp;
      this.files = this.scan();
    }
    return this.files;
  }

  scan() {
    const files = new Map();
    let root;
    try {
      root = fs.realpathSync(this.rootPath);
    } catch {
      return files;
    }
    this.root = root;
    const walk = (dir, prefix) => {
      let entries;
      try {
        entries = fs.readdirSync(dir, { withFileTypes: true });
      } catch {
        return;
      }
      for (const entry of entries) {
        const full = path.join(dir, entry.name);
        const url = `${prefix}/${entry.name}`;
        if (entry.isDirectory()) {
          walk(full, url);
        } else if (entry.isFile()) {
          files.set(url, full);
        } else if (entry.isSymbolicLink()) {
          // a link counts only when it names a file inside the folder
          try {
            const real = fs.realpathSync(full);
            if (real.startsWith(root + path.sep) && fs.statSync(real).isFile()) files.set(url, real);
          } catch {}
        }
      }
    };
    walk(root, '');
    return files;
  }

  // The file a URL path names, or null. Never anything outside the assets folder.
  resolve(rawPath) {
    let decoded;
    try {
      decoded = decodeURIComponent(rawPath);
    } catch {
      return null;
    }
    if (!decoded.startsWith('/') || decoded.includes('\\') || decoded.includes('\0')) return null;
    if (decoded.split('/').some((seg) => seg === '..' || seg === '.')) return null;
    const clean = decoded.replace(/\/{2,}/g, '/');
    const files = this.manifest();
    const candidates = clean.endsWith('/')
      ? [`${clean}index.html`]
      : [clean, `${clean}.html`, `${clean}/index.html`];
    for (const candidate of candidates) {
      const file = files.get(candidate);
      if (file !== undefined) return file;
    }
    return null;
  }

  // The file's response, or null when it is gone since the manifest was made (which is then
  // made again on the next lookup).
  async respond(file, request, status = 200) {
    const stat = await this.unlessGone(fs.promises.stat(file));
    if (stat === null) return null;
    const etag = `"${stat.size.toString(16)}-${Math.floor(stat.mtimeMs).toString(16)}"`;
    const headers = new Headers({
      'content-type': CONTENT_TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream',
      etag,
      'cache-control': 'public, max-age=0, must-revalidate',
    });
    if (status === 200 && request.headers.get('if-none-match') === etag) {
      return new Response(null, { status: 304, headers });
    }
    headers.set('content-length', String(stat.size));
    if (request.method === 'HEAD') return new Response(null, { status, headers });
    const data = await this.unlessGone(fs.promises.readFile(file));
    if (data === null) return null;
    return new Response(data, { status, headers });
  }

  // What `reading` (a stat or a read of a file the manifest named) gives, or null when the
  // file has gone: the manifest is then made again on the next lookup.
  async unlessGone(reading) {
    try {
      return await reading;
    } catch {
      this.stamp = null;
      return null;
    }
  }

  // What Cloudflare serves for a miss when not_found_handling applies, or null.
  fallback(request) {
    if (this.notFound === 'single-page-application') {
      const index = this.resolve('/index.html');
      return index ? this.respond(index, request) : null;
    }
    if (this.notFound === '404-page') {
      const page = this.resolve('/404.html');
      return page ? this.respond(page, request, 404) : null;
    }
    return null;
  }

  // Router step for a request from the outside: a Response, or null to run the worker.
  async route(request, rawPath) {
    const pathname = rawPath.split('?')[0];
    if (this.workerFirst(new URL(request.url).pathname) || this.workerFirst(pathname)) return null;
    if (request.method !== 'GET' && request.method !== 'HEAD') return null;
    const file = this.resolve(pathname);
    const found = file ? await this.respond(file, request) : null;
    if (found) return found;
    if (request.headers.get('sec-fetch-mode') === 'navigate') return this.fallback(request);
    return null;
  }

  // The ASSETS binding: only assets, never the worker.
  makeBinding() {
    const assets = this;
    class Fetcher {
      async fetch(input, init) {
        const request = new Request(input, init);
        if (request.method !== 'GET' && request.method !== 'HEAD') {
          return new Response('Method Not Allowed', { status: 405 });
        }
        const file = assets.resolve(new URL(request.url).pathname);
        const found = file ? await assets.respond(file, request) : null;
        if (found) return found;
        return (await assets.fallback(request)) ?? new Response('Not Found', { status: 404 });
      }
    }
    return new Fetcher();
  }
}

// ---------------------------------------------------------------------------
// Bindings: KV through Miniflare
// ---------------------------------------------------------------------------

// The SDK wraps a binding (keyword args -> options object) when its constructor is named
// KvNamespace, so Miniflare's namespace is put behind a class of that name.
class KvNamespace {
  constructor(ns) {
    this._ns = ns;
  }
  get(...args) {
    return this._ns.get(...args);
  }
  getWithMetadata(...args) {
    return this._ns.getWithMetadata(...args);
  }
  put(...args) {
    return this._ns.put(...args);
  }
  delete(...args) {
    return this._ns.delete(...args);
  }
  list(...args) {
    return this._ns.list(...args);
  }
}

async function startKv(nodeModules, namespaces, persist) {
  const { Miniflare } = await import(
    pathToFileURL(path.join(nodeModules, 'miniflare', 'dist', 'src', 'index.js')).href
  );
  const kvNamespaces = {};
  for (const ns of namespaces) kvNamespaces[ns.binding] = ns.id ?? ns.preview_id ?? ns.binding;
  const mf = new Miniflare({
    modules: true,
    script: 'export default { fetch() { return new Response(null, { status: 404 }); } }',
    kvNamespaces,
    kvPersist: persist ?? false,
  });
  const bindings = {};
  for (const name of Object.keys(kvNamespaces)) {
    bindings[name] = new KvNamespace(await mf.getKVNamespace(name));
  }
  return { mf, bindings };
}

// ---------------------------------------------------------------------------
// Stand-ins for workerd's internal modules
// ---------------------------------------------------------------------------

const pendingWaitUntil = new Set();

// `cancel` ends the task when it is still running at the waitUntil deadline.
function trackWaitUntil(promise, owner = null, cancel = null) {
  const entry = { cancel };
  const tracked = Promise.resolve(promise)
    .catch((err) => {
      if (entry.cancelled) return;
      process.stderr.write(`djbuild-host: waitUntil task failed: ${err?.message ?? err}\n`);
    })
    .finally(() => {
      pendingWaitUntil.delete(tracked);
      owner?.pending.delete(entry);
    });
  entry.promise = tracked;
  pendingWaitUntil.add(tracked);
  owner?.pending.add(entry);
}

class ExecutionContext {
  get [Symbol.toStringTag]() {
    return 'ExecutionContext';
  }
  constructor(meter = null) {
    this.props = {};
    this.meter = meter;
    this.pending = new Set();
  }
  waitUntil(promise, cancel = null) {
    trackWaitUntil(promise, this, cancel);
  }
  passThroughOnException() {}

  // workerd lets waitUntil work run for 30 s after the response; then it is cancelled.
  limitAfterResponse(ms, label) {
    if (this.pending.size === 0) return;
    setTimeout(() => {
      if (this.pending.size === 0) return;
      const count = this.pending.size;
      for (const entry of this.pending) {
        entry.cancelled = true;
        try {
          entry.cancel?.();
        } catch {}
      }
      if (this.meter) killMeter(this.meter, 'waitUntil');
      process.stderr.write(
        `djbuild-host: waitUntil work of ${label} cancelled: ${count} task(s) still running ` +
          `${ms} ms after the response\n`,
      );
    }, ms).unref();
  }
}

const patchedContexts = new WeakSet();

// Like workerd: a Python awaitable handed to waitUntil is a borrowed proxy that dies when the
// call returns, so keep a copy alive until it settles.
function patchWaitUntil(ctx) {
  if (Object.prototype.toString.call(ctx) !== '[object ExecutionContext]') return;
  if (patchedContexts.has(ctx)) return;
  const original = ctx.waitUntil.bind(ctx);
  ctx.waitUntil = (awaitable) => {
    const owned = typeof awaitable?.copy === 'function' ? awaitable.copy() : awaitable;
    let settled = false;
    // A Python task can be cancelled; other awaitables are dropped (and the request's meter
    // stops any Python step of theirs that would still run).
    const cancel = () => {
      if (!settled && typeof owned?.cancel === 'function') owned.cancel();
    };
    original(
      (async () => {
        try {
          await owned;
        } finally {
          settled = true;
          if (typeof owned?.destroy === 'function') owned.destroy();
        }
      })(),
      cancel,
    );
  };
  patchedContexts.add(ctx);
}

function makeEntrypointHelper(env) {
  const cloudflareWorkersModule = {
    env,
    waitUntil: trackWaitUntil,
    WorkerEntrypoint: class WorkerEntrypoint {},
  };
  function* patch_env_helper(patch) {
    const entries = patch instanceof Map ? [...patch.entries()] : Object.entries(patch ?? {});
    const saved = entries.map(([key]) => [key, Object.getOwnPropertyDescriptor(env, key)]);
    for (const [key, value] of entries) env[key] = value;
    try {
      yield;
    } finally {
      for (const [key, descriptor] of saved) {
        if (descriptor) Object.defineProperty(env, key, descriptor);
        else delete env[key];
      }
    }
  }
  return {
    doAnImport: async (name) => {
      if (name === 'cloudflare:workers') return cloudflareWorkersModule;
      if (name === 'cloudflare:sockets') {
        return {
          connect() {
            throw new Error('cloudflare:sockets is not available in the local host');
          },
        };
      }
      return import(name);
    },
    cloudflareWorkersModule,
    cloudflareSocketsModule: {
      connect() {
        throw new Error('cloudflare:sockets is not available in the local host');
      },
    },
    workerEntrypoint: cloudflareWorkersModule.WorkerEntrypoint,
    patchWaitUntil,
    patch_env_helper,
  };
}

// ---------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'upgrade',
  'proxy-connection',
  'te',
  'trailer',
  'http2-settings',
]);

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const dist = path.resolve(opts.dist);
  if (!fs.existsSync(dist)) fail(`dist folder ${dist} does not exist: build the project first`);
  const configPath = path.join(dist, 'wrangler.toml');
  if (!fs.existsSync(configPath)) {
    fail(`${configPath} is missing: dist/ is not a complete build; build the project again`);
  }
  const { parse: parseToml } = await import(
    pathToFileURL(path.join(opts.nodeModules, 'smol-toml', 'dist', 'index.js')).href
  );
  let config;
  try {
    config = parseToml(fs.readFileSync(configPath, 'utf8'));
  } catch (err) {
    fail(`cannot parse ${configPath}: ${err.message}`);
  }
  if (typeof config.main !== 'string' || !config.main.endsWith('.py')) {
    fail(`${configPath}: "main" must name the worker's .py entry module`);
  }
  const mainPath = path.resolve(dist, config.main);
  if (!fs.existsSync(mainPath)) {
    fail(`${mainPath} (main in ${configPath}) is missing: dist/ is stale; build the project again`);
  }
  const date = String(config.compatibility_date ?? '');
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date)) fail(`${configPath}: compatibility_date is missing`);
  const flagList = Array.isArray(config.compatibility_flags) ? config.compatibility_flags : [];
  if (!flagList.includes('python_workers')) {
    fail(`${configPath}: compatibility_flags must contain "python_workers"`);
  }
  const flags = compatFlags(date, flagList);
  if (date < '2026-09-08' && !flags.python_workers_314) {
    note(
      `warning: compatibility_date ${date} runs Python 3.13 on Cloudflare; this host runs 3.14`,
    );
  }

  // Environment: vars, then secrets from .dev.vars, then bindings.
  const env = {};
  for (const [key, value] of Object.entries(config.vars ?? {})) env[key] = value;
  const envFile = opts.envFile ?? path.join(dist, '.dev.vars');
  if (opts.envFile && !fs.existsSync(envFile)) fail(`--env-file ${envFile} does not exist`);
  if (fs.existsSync(envFile)) Object.assign(env, parseDotenv(fs.readFileSync(envFile, 'utf8')));

  const assets = config.assets ? new Assets(config.assets, dist) : null;
  if (assets?.binding) env[assets.binding] = assets.makeBinding();

  // Listen first, so a taken port is reported at once; requests wait until the worker is up.
  let markReady;
  const ready = new Promise((resolve) => {
    markReady = resolve;
  });
  let runtime = null;
  const server = http.createServer({ noDelay: true, keepAliveTimeout: 5000 }, (req, res) => {
    ready.then(() => handle(runtime, req, res)).catch((err) => {
      process.stderr.write(`djbuild-host: internal error: ${err?.stack ?? err}\n`);
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('Internal Server Error');
    });
  });
  await new Promise((resolve) => {
    server.once('error', (err) => {
      if (err.code === 'EADDRINUSE') {
        fail(`port ${opts.port} on ${opts.host} is already in use; pick another with --port`, 3);
      }
      fail(`cannot listen on ${opts.host}:${opts.port}: ${err.message}`, 3);
    });
    server.listen(opts.port, opts.host, resolve);
  });
  server.on('error', (err) => note(`server error: ${err.message}`));
  server.on('clientError', (err, socket) => {
    // Node's own answers when no listener is installed.
    const fallback = () => {
      if (!socket.writable || err.code === 'ECONNRESET') return socket.destroy();
      const status =
        err.code === 'HPE_HEADER_OVERFLOW'
          ? '431 Request Header Fields Too Large'
          : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
            ? '408 Request Timeout'
            : '400 Bad Request';
      socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\n\r\n`);
    };
    if (err.code !== 'HPE_INVALID_METHOD' || !err.rawPacket) return fallback();
    ready
      .then(() => answerUnknownMethod(runtime, socket, err.rawPacket))
      .then((answered) => answered || fallback(), fallback);
  });
  const port = server.address().port;

  // KV (Miniflare) starts while Pyodide loads.
  const namespaces = Array.isArray(config.kv_namespaces) ? config.kv_namespaces : [];
  const persistRoot = opts.inMemory
    ? null
    : path.resolve(opts.persistTo ?? path.join(dist, '.wrangler', 'state'));
  const kvPromise =
    namespaces.length > 0
      ? startKv(opts.nodeModules, namespaces, persistRoot && path.join(persistRoot, 'v3', 'kv'))
      : Promise.resolve({ mf: null, bindings: {} });

  const { loadPyodide } = await import(
    pathToFileURL(path.join(opts.nodeModules, 'pyodide', 'pyodide.mjs')).href
  );
  const limits = resolveLimits(opts, config);
  installMeteredFetch();
  if (opts.workerdClock) installWorkerdClock();
  const kv = await kvPromise;
  Object.assign(env, kv.bindings);
  const moduleName = path
    .relative(path.dirname(mainPath), mainPath)
    .slice(0, -3)
    .split(path.sep)
    .join('.');
  const boot = { opts, dist, mainPath, moduleName, flags, env, loadPyodide };
  let isolate;
  try {
    isolate = await bootIsolate(boot);
  } catch (err) {
    process.stderr.write(`${err?.message ?? err}\n`);
    fail(`the worker failed to import (${config.main}); fix the error above and rebuild`, 4);
  }
  runtime = {
    isolate,
    boot,
    rebooting: null,
    requests: 0,
    limits,
    env,
    assets,
    requestSignal: !!flags.enable_request_signal,
    reloading: null,
    origin: `http://${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${port}`,
  };

  let stopping = false;
  const shutdown = async (signal) => {
    if (stopping) process.exit(1); // a second signal: stop now
    stopping = true;
    server.close();
    server.closeAllConnections?.();
    const deadline = new Promise((resolve) => setTimeout(resolve, 3000).unref());
    await Promise.race([Promise.allSettled([...pendingWaitUntil]), deadline]);
    try {
      await kv.mf?.dispose();
    } catch {}
    process.exit(signal === 'SIGINT' ? 130 : 0);
  };
  // Miniflare installs exit hooks that end the process at once on a signal; replace them
  // with a shutdown that lets waitUntil work finish and then disposes Miniflare itself.
  for (const sig of ['SIGTERM', 'SIGINT']) {
    process.removeAllListeners(sig);
    process.on(sig, () => shutdown(sig));
  }
  process.on('unhandledRejection', (err) => {
    if (isFatal(err) && runtime.isolate) {
      // A fatal error inside a task step of the event loop: no request's promise sees it.
      discardIsolate(runtime, err);
      return;
    }
    process.stderr.write(`djbuild-host: unhandled rejection: ${err?.stack ?? err}\n`);
  });

  if (opts.controlStdin) listenForCommands(runtime);
  markReady();
  process.stdout.write(
    `djbuild-host ready ${runtime.origin} startup_ms=${realPerfNow().toFixed(0)} ` +
      `import_ms=${Number(isolate.importMs).toFixed(1)}\n`,
  );
  reportStartup(isolate, limits);
}

// ---------------------------------------------------------------------------
// In-place reload (djbuild dev): the worker's files changed, Node/Pyodide/KV stay up
// ---------------------------------------------------------------------------

// Commands on stdin, one JSON object a line; answers on stdout as "djbuild-host reloaded {...}".
function listenForCommands(runtime) {
  let buffered = '';
  let queue = Promise.resolve();
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (chunk) => {
    buffered += chunk;
    let newline;
    while ((newline = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, newline).trim();
      buffered = buffered.slice(newline + 1);
      if (!line) continue;
      queue = queue.then(() => runCommand(runtime, line));
    }
  });
  process.stdin.on('error', () => {});
}

async function runCommand(runtime, line) {
  let command;
  try {
    command = JSON.parse(line);
  } catch {
    note(`ignored a control line that is not JSON: ${line.slice(0, 80)}`);
    return;
  }
  if (!Array.isArray(command?.reload)) {
    note(`ignored an unknown control command: ${line.slice(0, 80)}`);
    return;
  }
  const answer = await reloadInPlace(runtime, command.reload.map(String));
  process.stdout.write(`djbuild-host reloaded ${JSON.stringify({ id: command.id ?? null, ...answer })}\n`);
}

// Drop `purge` (and the entry) from sys.modules and import the entry again. New requests wait
// until it is done; on failure the isolate keeps serving the code it had (the caller restarts).
async function reloadInPlace(runtime, purge) {
  let finish;
  const reloading = new Promise((resolve) => {
    finish = resolve;
  });
  while (runtime.reloading) await runtime.reloading;
  runtime.reloading = reloading;
  try {
    const isolate = await currentIsolate(runtime);
    const started = realPerfNow();
    let result;
    try {
      result = await isolate.hostPy.reload_main.callPromising(isolate.moduleName, purge, cpuNowMs, 10);
    } catch (err) {
      return { ok: false, error: String(err?.message ?? err) };
    }
    let entryCls;
    try {
      entryCls = isolate.hostPy.entry_class(result.get(0), 'Default');
    } catch (err) {
      result.destroy();
      return { ok: false, error: String(err?.message ?? err) };
    }
    const reloadMs = result.get(1);
    const reloadCpuMs = result.get(2);
    const modules = result.get(3).toJs();
    const estimateCpuMs = result.get(4);
    const topModules = result.get(5).toJs();
    result.destroy();
    isolate.entryCls?.destroy?.();
    isolate.entryCls = entryCls;
    // The figures describe a cold start of the new code: the cold start's module tree with the
    // modules that ran again replaced by their new times.
    isolate.importMs = Math.max(0, isolate.importMs + (estimateCpuMs - isolate.importCpuMs));
    isolate.importCpuMs = estimateCpuMs;
    isolate.topModules = topModules;
    const report = startupReport(isolate, runtime.limits);
    note(
      `reloaded in place: ${modules.length} module(s) imported again in ${reloadMs.toFixed(0)} ms ` +
        `(CPU ${reloadCpuMs.toFixed(0)} ms); estimated cold start CPU ${report.import_cpu_ms} ms`,
    );
    if (report.over) warnOverBudget(report, isolate);
    return {
      ok: true,
      reload_ms: Number(reloadMs.toFixed(1)),
      reload_cpu_ms: Number(reloadCpuMs.toFixed(1)),
      modules,
      total_ms: Number((realPerfNow() - started).toFixed(1)),
      report,
    };
  } finally {
    runtime.reloading = null;
    finish();
  }
}

function startupReport(isolate, limits) {
  const cpu = Math.round(isolate.importCpuMs);
  const budget = limits.startupBudgetMs;
  return {
    import_ms: Number(isolate.importMs.toFixed(1)),
    import_cpu_ms: cpu,
    budget_ms: budget,
    over: budget > 0 && cpu > budget,
    memory_mb: Number(isolateMemoryMb(isolate.pyodide).toFixed(1)),
    top: isolate.topModules,
    limits: {
      plan: limits.plan,
      cpu_ms: limits.cpuMs,
      subrequests: limits.subrequests,
      connections: limits.connections,
      wait_until_ms: limits.waitUntilMs,
    },
  };
}

function warnOverBudget(report, isolate) {
  const lines = isolate.topModules.map(
    ([name, cumulative, self]) =>
      `    ${name.padEnd(40)} self ${String(self).padStart(8)} ms  cumulative ${cumulative} ms`,
  );
  note(
    `warning: Python Worker startup exceeded CPU limit ${report.import_cpu_ms}<=${report.budget_ms}: ` +
      `Cloudflare refuses this upload (error 10021). Top modules by import CPU time:\n${lines.join('\n')}`,
  );
}

// The startup line, and workerd's verdict on the top level's CPU time.
function reportStartup(isolate, limits) {
  const report = startupReport(isolate, limits);
  process.stdout.write(`djbuild-host startup ${JSON.stringify(report)}\n`);
  if (report.over) warnOverBudget(report, isolate);
  noteMemory(report.memory_mb, 'at startup');
}

function noteMemory(mb, when) {
  note(`isolate memory ${mb.toFixed(1)} MB ${when}`);
  if (mb > MEMORY_LIMIT_MB) {
    note(
      `warning: isolate memory ${mb.toFixed(1)} MB is over the ${MEMORY_LIMIT_MB} MB Workers ` +
        'allow per isolate (Pyodide included); Cloudflare would end this isolate',
    );
  }
}

// Pyodide as it stands right after its own start-up, before any of the worker's files exist:
// restored from a memory snapshot of that state (workerd starts Python Workers from such a
// baseline snapshot too), made once per npm install beside the packages. Restoring takes about
// a tenth of the CPU time of starting afresh (the start compiles Python's start-up modules from
// source; ../node/pyodide_snapshot.mjs). The worker's import is timed after this, exactly as
// before. DJBUILD_HOST_SNAPSHOT=0 starts afresh always.
async function loadBasePyodide(nodeModules, loadPyodide) {
  const options = {
    indexURL: path.join(nodeModules, 'pyodide') + path.sep,
    stdout: (line) => process.stdout.write(`${line}\n`),
    stderr: (line) => process.stderr.write(`${line}\n`),
  };
  if (process.env.DJBUILD_HOST_SNAPSHOT === '0') return loadPyodide(options);
  const snapshotFile = path.join(path.dirname(nodeModules), 'pyodide-host-base.snapshot');
  return loadFromSnapshot(loadPyodide, options, snapshotFile, note);
}

// A fresh isolate: Pyodide loaded, the worker's files mounted, its entry module imported.
async function bootIsolate(boot) {
  const { opts, dist, mainPath, moduleName, flags, env, loadPyodide } = boot;
  const pyodide = await loadBasePyodide(opts.nodeModules, loadPyodide);
  const FS = pyodide.FS;
  const NODEFS = FS.filesystems.NODEFS;
  FS.mkdirTree(PY_ROOT);
  FS.mount(NODEFS, { root: path.dirname(mainPath) }, PY_ROOT);
  const vendored = path.join(dist, 'python_modules');
  const hasVendored = fs.existsSync(vendored);
  if (hasVendored) {
    FS.mkdirTree(PY_MODULES);
    FS.mount(NODEFS, { root: vendored }, PY_MODULES);
  }
  FS.mkdirTree(PY_HOST);
  FS.writeFile(
    `${PY_HOST}/_djbuild_host.py`,
    fs.readFileSync(path.join(HERE, 'bootstrap.py'), 'utf8'),
  );

  // The `workers` SDK: from compatibility date 2026-04-21 (enable_python_external_sdk) workerd
  // no longer ships it and the bundle must vendor it in python_modules/; before that date the
  // runtime provides it behind any vendored copy. Mirror both cases.
  const vendoredSdk =
    hasVendored &&
    ['__init__.py', '__init__.pyc'].some((name) => fs.existsSync(path.join(vendored, 'workers', name)));
  const sitePackages = pyodide.runPython(
    'import sysconfig; sysconfig.get_paths()["purelib"]',
  );
  if (flags.enable_python_external_sdk) {
    if (!vendoredSdk) {
      FS.mkdirTree(`${sitePackages}/workers`);
      FS.writeFile(
        `${sitePackages}/workers/__init__.py`,
        [
          'err = ModuleNotFoundError("No module named \'workers\'", name="workers")',
          'err.add_note("From compatibility date 2026-04-21 the Workers runtime does not ship the "',
          '  "`workers` SDK: vendor workers-runtime-sdk into dist/python_modules/.")',
          'raise err',
        ].join('\n'),
      );
    }
  } else if (opts.sdk) {
    FS.mkdirTree(PY_RUNTIME_SDK);
    FS.mount(NODEFS, { root: path.resolve(opts.sdk) }, PY_RUNTIME_SDK);
  }

  pyodide.registerJsModule('_pyodide_entrypoint_helper', makeEntrypointHelper(env));
  pyodide.registerJsModule('_cloudflare_compat_flags', flags);

  pyodide.runPython(`import sys; sys.path.append(${JSON.stringify(PY_HOST)})`);
  const hostPy = pyodide.pyimport('_djbuild_host');
  hostPy.setup_paths(PY_ROOT, hasVendored ? PY_MODULES : undefined, !!flags.python_process_pth_files);
  if (!flags.enable_python_external_sdk && opts.sdk) {
    pyodide.runPython(`import sys; sys.path.append(${JSON.stringify(PY_RUNTIME_SDK)})`);
  }
  hostPy.install_hooks(STEP_HOOKS);

  const imported = await hostPy.import_main.callPromising(moduleName, cpuNowMs, 10);
  const module = imported.get(0);
  const importMs = imported.get(1);
  const importCpuMs = imported.get(2);
  const topModules = imported.get(3).toJs();
  imported.destroy();
  const entryCls = hostPy.entry_class(module, 'Default');
  // Rejected when the isolate dies: requests still waiting on it fail at once.
  let kill;
  const dead = new Promise((_, reject) => {
    kill = reject;
  });
  dead.catch(() => {});
  return {
    dead,
    kill,
    pyodide,
    hostPy,
    moduleName,
    entryCls,
    handleFetch: hostPy.handle_fetch,
    importMs,
    importCpuMs,
    topModules,
  };
}

// A fatal Pyodide error (a stack overflow in C code, say) leaves the isolate unusable; workerd
// throws such an isolate away and the next request gets a fresh one. So does this host.
function isFatal(err) {
  return !!err?.pyodide_fatal_error || /fatally failed|promising task/.test(String(err?.message));
}

function discardIsolate(runtime, err) {
  if (runtime.isolate === null) return;
  runtime.isolate.kill(err);
  runtime.isolate = null;
  note(
    `the isolate suffered a fatal error (${String(err?.message ?? err).split('\n')[0]}); ` +
      'it is discarded and the next request gets a fresh one',
  );
  startFreshIsolate(runtime);
}

function startFreshIsolate(runtime) {
  runtime.rebooting = bootIsolate(runtime.boot).then(
    (fresh) => {
      runtime.isolate = fresh;
      runtime.rebooting = null;
      note(`fresh isolate ready (import ${fresh.importMs.toFixed(0)} ms)`);
      return fresh;
    },
    (bootErr) => {
      runtime.rebooting = null;
      note(`error: a fresh isolate failed to start: ${bootErr?.message ?? bootErr}`);
      throw bootErr;
    },
  );
  runtime.rebooting.catch(() => {});
}

async function currentIsolate(runtime) {
  if (runtime.isolate) return runtime.isolate;
  if (!runtime.rebooting) startFreshIsolate(runtime);
  return runtime.rebooting;
}

// Query parameters whose values are credentials (an OAuth callback's code and state, tokens,
// keys): the access log shows that they were there, never what they held.
const SECRET_PARAM = /^(code|state|token|access_token|refresh_token|id_token|key|api_key|apikey|secret|client_secret|code_verifier|password|spotify_token)$/i;

function loggablePath(rawPath) {
  const q = rawPath.indexOf('?');
  if (q < 0) return rawPath;
  const params = rawPath
    .slice(q + 1)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      const name = eq < 0 ? pair : pair.slice(0, eq);
      let decoded = name;
      try {
        decoded = decodeURIComponent(name);
      } catch {}
      return eq >= 0 && SECRET_PARAM.test(decoded) ? `${name}=[redacted]` : pair;
    });
  return `${rawPath.slice(0, q)}?${params.join('&')}`;
}

function logRequest(method, rawPath, status, started, response, note = '', meter = null) {
  const ms = (realPerfNow() - started).toFixed(1);
  const cpu = meter ? ` cpu=${meter.cpuMs.toFixed(1)}ms` : '';
  const rid = response?.headers?.get?.('x-request-id');
  process.stdout.write(
    `${method} ${loggablePath(rawPath)} ${status} ${ms}ms${cpu}${rid ? ` id=${rid}` : ''}${note ? ` ${note}` : ''}\n`,
  );
}

// What Cloudflare answers when a Worker is stopped for its CPU time (error 1102).
function limitExceededResponse() {
  const page =
    '<!doctype html><title>Worker exceeded resource limits | Cloudflare</title>\n' +
    '<h1>Error 1102</h1><p>Worker exceeded resource limits</p>\n';
  return new Response(page, { status: 503, headers: { 'content-type': 'text/html; charset=utf-8' } });
}

// Methods the fetch spec forbids in `new Request` (CONNECT, TRACE, TRACK) still reach the
// worker, as on workerd: a Request made with GET, seen through a proxy that reports the method.
const FORBIDDEN_METHODS = new Set(['CONNECT', 'TRACE', 'TRACK']);

function withMethod(request, method) {
  return new Proxy(request, {
    get(target, prop) {
      if (prop === 'method') return method;
      const value = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

// Run the worker's fetch handler for `request` under a new meter; returns
// { response, meter, ctx } or throws.
async function runWorker(runtime, request, label) {
  while (runtime.reloading) await runtime.reloading; // requests wait for an in-place reload
  const isolate = await currentIsolate(runtime);
  const meter = newMeter(label, runtime.limits);
  const ctx = new ExecutionContext(meter);
  if (workerClock.frozen) advanceWorkerClock();
  let response;
  try {
    response = await Promise.race([
      isolate.handleFetch.callPromising(isolate.entryCls, ctx, runtime.env, request, meter),
      isolate.dead,
    ]);
  } catch (err) {
    if (isFatal(err)) discardIsolate(runtime, err);
    err.meter = meter;
    err.ctx = ctx;
    throw err;
  }
  if (meter.killed) {
    response?.destroy?.();
    const err = new Error(`request stopped: ${meter.killReason}`);
    err.meter = meter;
    throw err;
  }
  if (!(response instanceof Response)) {
    const got = response?.type ?? typeof response;
    response?.destroy?.();
    const err = new TypeError(`fetch() returned ${got}, not a Response`);
    err.meter = meter;
    throw err;
  }
  runtime.requests += 1;
  const every = runtime.limits.memoryEvery;
  if (every > 0 && runtime.requests % every === 0 && runtime.isolate) {
    noteMemory(isolateMemoryMb(runtime.isolate.pyodide), `after ${runtime.requests} requests`);
  }
  return { response, meter, ctx };
}

// A method Node's HTTP parser refuses (not in its list): the host answers as the worker's
// router would, a JSON 405 with the Allow header the worker gives for that path (it asks the
// worker with OPTIONS).
async function answerUnknownMethod(runtime, socket, packet) {
  const line = packet.toString('latin1').split('\r\n', 1)[0];
  const match = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) (\S+) HTTP\/1\.[01]$/.exec(line);
  if (!match) return false;
  const [, method, target] = match;
  let allow = null;
  try {
    const probe = new Request(new URL(target, runtime.origin), { method: 'OPTIONS' });
    const { response } = await runWorker(runtime, probe, `OPTIONS ${target}`);
    allow = response.headers.get('allow');
    response.body?.cancel().catch(() => {});
  } catch (err) {
    note(`OPTIONS ${target} for an unknown method failed: ${err?.message ?? err}`);
  }
  const body = JSON.stringify(
    allow ? { error: 'Method not allowed', allow: allow.split(/,\s*/) } : { error: 'Method not allowed' },
  );
  const head = [
    'HTTP/1.1 405 Method Not Allowed',
    'content-type: application/json',
    `content-length: ${Buffer.byteLength(body)}`,
    ...(allow ? [`allow: ${allow}`] : []),
    'connection: close',
  ];
  socket.end(`${head.join('\r\n')}\r\n\r\n${body}`);
  process.stdout.write(`${method} ${loggablePath(target)} 405 0.0ms host: method unknown to the parser\n`);
  return true;
}

async function handle(runtime, req, res) {
  const started = realPerfNow();
  const rawPath = req.url ?? '/';
  const headers = new Headers();
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i];
    if (HOP_BY_HOP.has(name.toLowerCase())) continue;
    try {
      headers.append(name, req.rawHeaders[i + 1]);
    } catch {}
  }
  if (!headers.has('cf-connecting-ip')) headers.set('cf-connecting-ip', req.socket.remoteAddress ?? '');
  const controller = new AbortController();
  const method = req.method ?? 'GET';
  const forbidden = FORBIDDEN_METHODS.has(method.toUpperCase());
  const init = {
    method: forbidden ? 'GET' : method,
    headers,
    signal: runtime.requestSignal ? controller.signal : undefined,
  };
  if (method !== 'GET' && method !== 'HEAD' && !forbidden) {
    init.body = Readable.toWeb(req);
    init.duplex = 'half';
    // A body the worker left unread (a 413 answered from Content-Length, say) would stay in
    // the socket, and the next request on this keep-alive connection would wait behind it
    // for good. Once the response is sent, the rest is read and dropped, as Node's own server
    // does with a body nobody consumes; the client finishes its upload and reads the answer.
    res.once('finish', () => {
      if (req.complete || req.destroyed) return;
      req.removeAllListeners('data'); // the web stream's: nothing reads it any more
      req.on('data', () => {});
      req.resume();
    });
  }
  let request;
  try {
    request = new Request(new URL(rawPath, runtime.origin), init);
    if (forbidden) request = withMethod(request, method);
  } catch (err) {
    res.writeHead(400, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: 'Bad request' }));
    logRequest(method, rawPath, 400, started, null);
    return;
  }

  let reader = null;
  let finished = false;
  res.on('close', () => {
    if (finished || res.writableFinished) return;
    if (runtime.requestSignal) controller.abort(new Error('client disconnected'));
    reader?.cancel(new Error('client disconnected')).catch(() => {});
  });

  let response = runtime.assets ? await runtime.assets.route(request, rawPath) : null;
  let meter = null;
  let ctx = null;
  if (response === null) {
    try {
      ({ response, meter, ctx } = await runWorker(runtime, request, `${method} ${loggablePath(rawPath)}`));
    } catch (err) {
      meter = err?.meter ?? null;
      finished = true;
      // waitUntil work registered before the failure still gets its deadline
      err?.ctx?.limitAfterResponse(runtime.limits.waitUntilMs, `${method} ${loggablePath(rawPath)}`);
      if (meter?.killReason === 'cpu') {
        response = limitExceededResponse();
        if (!res.destroyed) {
          res.writeHead(503, { 'content-type': response.headers.get('content-type') });
          res.end(await response.text());
        }
        logRequest(method, rawPath, 503, started, null, 'exceeded CPU time limit (1102)', meter);
        return;
      }
      process.stderr.write(`djbuild-host: worker raised on ${method} ${rawPath}:\n${err?.message ?? err}\n`);
      if (!res.destroyed) {
        res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
        res.end('Internal Server Error');
      }
      logRequest(method, rawPath, 500, started, null, isFatal(err) ? 'fatal error, isolate discarded' : 'worker error', meter);
      return;
    }
  }

  const outHeaders = {};
  for (const [name, value] of response.headers) {
    if (name === 'set-cookie' || HOP_BY_HOP.has(name)) continue;
    outHeaders[name] = value;
  }
  const cookies = response.headers.getSetCookie?.() ?? [];
  if (cookies.length) outHeaders['set-cookie'] = cookies;
  if (res.destroyed) {
    response.body?.cancel(new Error('client disconnected')).catch(() => {});
    logRequest(method, rawPath, response.status, started, response, 'client gone', meter);
    ctx?.limitAfterResponse(runtime.limits.waitUntilMs, `${method} ${loggablePath(rawPath)}`);
    return;
  }
  res.writeHead(response.status, response.statusText || undefined, outHeaders);
  // Send the status line and headers now: a streamed body's first chunk may be far off.
  if (response.body && method !== 'HEAD') res.flushHeaders();
  let note = '';
  if (response.body && method !== 'HEAD') {
    reader = response.body.getReader();
    // The request stopped for its CPU time while streaming: the stream ends there.
    if (meter) meter.onKill = (reason) => reader?.cancel(new Error(`request stopped: ${reason}`)).catch(() => {});
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        if (res.destroyed) break;
        if (!res.write(value)) {
          await new Promise((resolve) => {
            res.once('drain', resolve);
            res.once('close', resolve);
          });
        }
      }
    } catch (err) {
      note = `body error: ${err?.message ?? err}`;
      process.stderr.write(`djbuild-host: response body of ${method} ${rawPath} failed: ${err?.message ?? err}\n`);
      res.destroy();
    }
    if (meter?.killed && !note) {
      note = `stopped: ${meter.killReason === 'cpu' ? 'exceeded CPU time limit (1102)' : meter.killReason}`;
      res.destroy();
    }
    if (res.destroyed && !note) note = 'client disconnected';
  } else {
    response.body?.cancel().catch(() => {});
  }
  finished = true;
  res.end();
  logRequest(method, rawPath, response.status, started, response, note, meter);
  ctx?.limitAfterResponse(runtime.limits.waitUntilMs, `${method} ${loggablePath(rawPath)}`);
}

main().catch((err) => fail(err?.stack ?? String(err)));
