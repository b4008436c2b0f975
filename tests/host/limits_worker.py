"""The worker the host-limits tests run: `dist/src/entry.py`, with routes that hit each limit."""

import asyncio
import json
import time
from urllib.parse import unquote

import js
from workers import Response, WorkerEntrypoint

ALLOW = "GET, HEAD, POST"
_held = []  # memory the /api/alloc route keeps alive


def spin(loops):
    """CPU work of a known size: no I/O, no await."""
    total = 0
    for i in range(loops):
        total += i % 7
    return total


async def fetch_one(url):
    try:
        resp = await js.fetch(url)
        await resp.text()
        return str(resp.status)
    except Exception as exc:
        return str(exc)


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        url = request.url
        path = "/" + url.split("://", 1)[1].split("/", 1)[1].split("?", 1)[0]
        query = url.split("?", 1)[1] if "?" in url else ""
        params = {k: unquote(v) for k, v in (p.split("=", 1) for p in query.split("&") if "=" in p)}
        method = request.method

        if method == "OPTIONS":
            return Response(None, status=204, headers={"Allow": ALLOW})
        if method not in ("GET", "HEAD", "POST"):
            return Response.json(
                {"error": "Method not allowed", "allow": ALLOW.split(", "), "seen": method},
                status=405,
                headers={"Allow": ALLOW},
            )
        if path == "/api/ok":
            return Response.json({"ok": True})
        if path == "/api/spin":
            return Response.json({"total": spin(int(params["loops"]))})
        if path == "/api/fetch-sequential":
            results = [await fetch_one(params["url"]) for _ in range(int(params["n"]))]
            return Response.json({"results": results})
        if path == "/api/fetch-parallel":
            n = int(params["n"])
            results = await asyncio.gather(*(fetch_one(params["url"]) for _ in range(n)))
            return Response.json({"results": list(results)})
        if path == "/api/linger":
            key = params["key"]

            async def later():
                await asyncio.sleep(float(params["seconds"]))
                await self.env.CACHE.put(key, "finished")

            self.ctx.waitUntil(asyncio.ensure_future(later()))
            return Response.json({"scheduled": key})
        if path == "/api/alloc":
            _held.append(bytearray(int(params["mb"]) * 1024 * 1024))
            return Response.json({"held_mb": sum(len(b) for b in _held) // (1024 * 1024)})
        if path == "/api/kv/get":
            return Response.json({"value": await self.env.CACHE.get(params["key"])})
        if path == "/api/deep-json":
            depth = int(params["depth"])
            json.loads("[" * depth + "]" * depth)
            return Response.json({"parsed": depth})
        if path == "/api/clock":
            wall0, perf0 = time.time(), time.perf_counter()
            spin(int(params["loops"]))
            wall1, perf1 = time.time(), time.perf_counter()
            await asyncio.sleep(float(params["sleep"]))
            wall2, perf2 = time.time(), time.perf_counter()
            return Response.json(
                {
                    "during_cpu_ms": [(wall1 - wall0) * 1000, (perf1 - perf0) * 1000],
                    "across_io_ms": [(wall2 - wall1) * 1000, (perf2 - perf1) * 1000],
                }
            )
        if path == "/api/timeout":
            try:
                async with asyncio.timeout(float(params["seconds"])):
                    await asyncio.sleep(60)
            except TimeoutError:
                return Response.json({"timed_out": True})
            return Response.json({"timed_out": False})
        return Response.json({"path": path}, status=404)
