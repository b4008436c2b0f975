// Compiles Python sources to bytecode with the Pyodide the Worker runs (djbuild/bytecode.py).
//
//   node compile_bytecode.mjs NODE_MODULES_DIR WORK_DIR
//
// WORK_DIR holds jobs.json, a list of [source file name, file name to report in tracebacks],
// and the sources. Each source S is compiled to S + "c" beside it (unchecked-hash pyc, column
// positions left out), then the interpreter's cache tag is printed as the last stdout line.

import path from 'node:path';

const [nodeModules, work] = process.argv.slice(2);
const { loadPyodide } = await import(path.join(nodeModules, 'pyodide', 'pyodide.mjs'));
const pyodide = await loadPyodide({
  indexURL: path.join(nodeModules, 'pyodide') + path.sep,
  env: { PYTHONNODEBUGRANGES: '1', HOME: '/' },
  stdout: (line) => process.stderr.write(`${line}\n`),
  stderr: (line) => process.stderr.write(`${line}\n`),
});
pyodide.FS.mkdirTree('/work');
pyodide.FS.mount(pyodide.FS.filesystems.NODEFS, { root: work }, '/work');
const tag = pyodide.runPython(`
import json, py_compile, sys
for source, shown in json.load(open("/work/jobs.json")):
    py_compile.compile(
        "/work/" + source,
        cfile="/work/" + source + "c",
        dfile=shown,
        doraise=True,
        invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
    )
sys.implementation.cache_tag
`);
process.stdout.write(`${tag}\n`);
