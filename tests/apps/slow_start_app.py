"""A test app whose top level is slow by construction: a busy loop of a known size runs at
import, as a heavy import-time computation would. For the startup-budget checks."""

from __future__ import annotations

from runtime import App, Context

# 5 million loop iterations: hundreds of ms of CPU in CPython, more in Pyodide.
IMPORT_LOOPS = 5_000_000


def _spin(loops: int) -> int:
    total = 0
    for i in range(loops):
        total += i % 7
    return total


SPUN = _spin(IMPORT_LOOPS)

app = App(title="Slow start test app", version="0.0.1")


@app.get("/api/health", operation_id="health")
async def health(c: Context) -> dict:
    return {"status": "healthy", "spun": SPUN}
