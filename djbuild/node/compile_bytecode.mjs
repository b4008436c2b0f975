// Compiles Python sources to bytecode with the Pyodide the Worker runs (djbuild/bytecode.py).
//
//   node compile_bytecode.mjs NODE_MODULES_DIR SNAPSHOT_FILE WORK_DIR
//
// Pyodide boots as soon as the process starts, before the build knows its sources: the jobs
// come on stdin, one JSON list of [source file name, file name to report in tracebacks] per
// line, as the build finds them. Each source S in WORK_DIR is compiled to S + "c" beside it
// (unchecked-hash pyc, column positions left out); a source that fails is reported on stdout
// as `error ["S", "the Python error"]` and the others go on. When stdin ends, the
// interpreter's cache tag is printed as the last stdout line; when it ends with no job at all
// (the build needed nothing compiled), the process leaves at once, booted or not.
//
// Booting Pyodide from scratch compiles its start-up modules (asyncio, json, re, ... from a
// zip of sources) inside WebAssembly: seconds of CPU. So the first boot saves a memory
// snapshot of the fresh interpreter to SNAPSHOT_FILE and later boots restore it (a fraction
// of a second). A snapshot that does not load (another Pyodide build) is made again.
// Exit codes: 0 done, 3 Pyodide did not start (why on stderr).

import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';

const [nodeModules, snapshotFile, work] = process.argv.slice(2);
const say = (line) => process.stderr.write(`${line}\n`);

const queue = [];
let ended = false;
let wake = null;
const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
let jobsSeen = false;
lines.on('line', (line) => {
  if (!line.trim()) return;
  jobsSeen = true;
  queue.push(...JSON.parse(line));
  wake?.();
});
lines.on('close', () => {
  ended = true;
  if (!jobsSeen) process.exit(0);
  wake?.();
});

async function boot() {
  const { loadPyodide } = await import(path.join(nodeModules, 'pyodide', 'pyodide.mjs'));
  const options = {
    indexURL: path.join(nodeModules, 'pyodide') + path.sep,
    env: { PYTHONNODEBUGRANGES: '1', HOME: '/' },
    stdout: say,
    stderr: say,
  };
  let snapshot = null;
  try {
    snapshot = fs.readFileSync(snapshotFile);
  } catch {
    // no snapshot yet: made below
  }
  if (snapshot) {
    try {
      return await loadPyodide({ ...options, _loadSnapshot: snapshot });
    } catch (err) {
      say(`djbuild: the Pyodide snapshot did not load (${err?.message ?? err}); making it again`);
    }
  }
  const pyodide = await loadPyodide({ ...options, _makeSnapshot: true });
  try {
    const part = `${snapshotFile}.${process.pid}.part`;
    fs.writeFileSync(part, pyodide.makeMemorySnapshot());
    fs.renameSync(part, snapshotFile);
  } catch (err) {
    say(`djbuild: could not save the Pyodide snapshot (${err?.message ?? err})`);
  }
  return pyodide;
}

let pyodide;
try {
  pyodide = await boot();
} catch (err) {
  say(`djbuild: Pyodide did not start: ${err?.message ?? err}`);
  process.exit(3);
}

pyodide.FS.mkdirTree('/jobs');
pyodide.FS.mount(pyodide.FS.filesystems.NODEFS, { root: work }, '/jobs');
const compileOne = pyodide.runPython(`
import py_compile

def compile_one(source, shown):
    py_compile.compile(
        "/jobs/" + source,
        cfile="/jobs/" + source + "c",
        dfile=shown,
        doraise=True,
        invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
    )

compile_one
`);

for (;;) {
  while (queue.length > 0) {
    const [source, shown] = queue.shift();
    try {
      compileOne(source, shown);
    } catch (err) {
      process.stdout.write(`error ${JSON.stringify([source, String(err?.message ?? err)])}\n`);
    }
  }
  if (ended) break;
  await new Promise((resolve) => {
    wake = resolve;
  });
  wake = null;
}
process.stdout.write(`${pyodide.runPython('import sys; sys.implementation.cache_tag')}\n`);
