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
// Pyodide starts from a memory snapshot of its start-up kept in SNAPSHOT_FILE
// (pyodide_snapshot.mjs): a fraction of a second instead of seconds.
// Exit codes: 0 done, 3 Pyodide did not start (why on stderr).

import path from 'node:path';
import readline from 'node:readline';

import { loadFromSnapshot } from './pyodide_snapshot.mjs';

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
  return loadFromSnapshot(loadPyodide, options, snapshotFile, (line) => say(`djbuild: ${line}`));
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
