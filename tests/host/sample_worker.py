"""The worker the host tests run: `dist/src/entry.py`, routing a few paths by hand."""

import asyncio
import json

from js import TextEncoder, TransformStream
from pyodide.ffi import create_proxy
from workers import Response, WorkerEntrypoint

print("sample worker imported")


async def _stream(writer, count, pause):
    encoder = TextEncoder.new()
    try:
        for i in range(count):
            await writer.write(encoder.encode(f"data: event {i}\n\n"))
            await asyncio.sleep(pause)
        await writer.close()
    except Exception as exc:
        print(f"stream write failed: {type(exc).__name__}")
        return "failed"
    return "done"


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        url = request.url
        path = "/" + url.split("://", 1)[1].split("/", 1)[1].split("?", 1)[0]
        query = url.split("?", 1)[1] if "?" in url else ""
        params = dict(p.split("=", 1) for p in query.split("&") if "=" in p)

        if path == "/api/hello":
            return Response.json(
                {"hello": "world", "greeting": self.env.GREETING, "secret": self.env.API_TOKEN},
                headers={"X-Request-Id": "req-hello"},
            )
        if path == "/api/refuse" and request.method == "POST":
            return Response.json({"error": "too large"}, status=413)  # the body stays unread
        if path == "/api/echo" and request.method == "POST":
            body = await request.json()
            return Response.json({"echo": body})
        if path == "/api/kv/put":
            await self.env.CACHE.put(params["key"], params["value"])
            return Response.json({"ok": True})
        if path == "/api/kv/get":
            value = await self.env.CACHE.get(params["key"])
            return Response.json({"value": value})
        if path == "/api/kv/short-ttl":
            try:
                await self.env.CACHE.put("short", "x", expirationTtl=30)
            except Exception as exc:
                return Response.json({"error": str(exc)}, status=400)
            return Response.json({"error": None})
        if path == "/api/stream":
            count = int(params.get("n", "5"))
            pause = float(params.get("pause", "0.2"))
            stream = TransformStream.new()
            writer = stream.writable.getWriter()
            key = params.get("key", "")

            async def produce():
                outcome = await _stream(writer, count, pause)
                if key:
                    await self.env.CACHE.put(key, outcome)

            self.ctx.waitUntil(asyncio.ensure_future(produce()))
            return Response(
                stream.readable,
                headers={"content-type": "text/event-stream", "cache-control": "no-cache"},
            )
        if path == "/api/later":
            key = params["key"]

            async def later():
                await asyncio.sleep(0.3)
                await self.env.CACHE.put(key, "written-after-response")

            self.ctx.waitUntil(asyncio.ensure_future(later()))
            return Response.json({"scheduled": key})
        if path == "/api/signal":
            # Answers only once the client has gone: needs enable_request_signal.
            key = params["key"]
            aborted = asyncio.get_running_loop().create_future()
            listener = create_proxy(lambda *_: aborted.done() or aborted.set_result(True))
            request.js_object.signal.addEventListener("abort", listener)
            try:
                await asyncio.wait_for(aborted, 10)
            finally:
                listener.destroy()
            await self.env.CACHE.put(key, "aborted")
            return Response("too late")
        if path == "/api/boom":
            raise ValueError("boom on purpose")
        if path == "/api/assets-binding":
            resp = await self.env.ASSETS.fetch("http://assets.local/hello.txt")
            return Response(await resp.text(), headers={"x-from": "binding"})
        if path == "/api/flags":
            import _cloudflare_compat_flags as flags

            return Response(json.dumps({"external_sdk": bool(flags.enable_python_external_sdk)}))
        return Response.json({"worker": True, "path": path}, status=404)
