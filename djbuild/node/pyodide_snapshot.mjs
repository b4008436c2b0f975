// Pyodide from a memory snapshot of its own start-up, for the build's bytecode compiler
// (compile_bytecode.mjs) and the local host's isolates (host/host.mjs).
//
// A fresh start compiles Python's start-up modules (asyncio, json, re, ... from a zip of
// sources) inside WebAssembly: seconds of CPU. Restoring a snapshot of that state takes a
// fraction of a second. The snapshot is made once, in a process of its own options, and written
// atomically; every Pyodide returned here is a restored one. A snapshot that does not load
// (another Pyodide build) is made again; when none can be made, Pyodide starts afresh.
// `_makeSnapshot` / `_loadSnapshot` are loadPyodide options of the pinned Pyodide.

import fs from 'node:fs';

export async function loadFromSnapshot(loadPyodide, options, snapshotFile, say) {
  for (let attempt = 0; attempt < 2; attempt += 1) {
    let snapshot = null;
    try {
      snapshot = fs.readFileSync(snapshotFile);
    } catch {
      // not made yet
    }
    if (snapshot) {
      try {
        return await loadPyodide({ ...options, _loadSnapshot: snapshot });
      } catch (err) {
        say(`the Pyodide snapshot ${snapshotFile} did not load (${err?.message ?? err}); making it again`);
      }
    }
    if (attempt > 0) break;
    try {
      const maker = await loadPyodide({ ...options, _makeSnapshot: true });
      const part = `${snapshotFile}.${process.pid}.part`;
      fs.writeFileSync(part, maker.makeMemorySnapshot());
      fs.renameSync(part, snapshotFile);
    } catch (err) {
      say(`could not make a Pyodide snapshot (${err?.message ?? err}); starting without one`);
      break;
    }
  }
  return loadPyodide(options);
}
