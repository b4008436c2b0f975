"""Static assets through the `ASSETS` binding, with the single-page-app fallback."""

from __future__ import annotations

from .context import Context
from .errors import HTTPError
from .http import Response


async def fetch_asset(c: Context, path: str | None = None) -> Response:
    """Ask the assets binding for the request's path (or `path`); its response as it is."""
    binding = c.env.get("ASSETS")
    if binding is None:
        raise HTTPError(404, "Not found", path=c.req.path)
    fetcher = getattr(c.platform, "fetch_binding", None)
    if fetcher is None:  # an in-process test double of the binding
        return await binding.fetch(c.req, path)
    return await fetcher(binding, c.req, path)


async def spa_fallback(c: Context) -> Response:
    """GET: the asset, or index.html for a page request that misses; anything else 404 JSON.

    Mirrors the TS worker's `GET *` route: with `run_worker_first = ["/api/*"]` Cloudflare's
    asset router answers most asset requests itself; this covers the rest.
    """
    if c.req.method not in ("GET", "HEAD"):
        raise HTTPError(404, "Not found", path=c.req.path)
    try:
        response = await fetch_asset(c)
    except HTTPError:
        raise
    except Exception as exc:
        c.log.warn("assets binding failed", error=str(exc))
        return Response.text("Not found", 404)
    if response.status == 404 and "text/html" in (c.req.headers.get("accept") or ""):
        page = await fetch_asset(c, "/index.html")
        if page.status == 200:
            page.headers.set("Content-Type", "text/html; charset=utf-8")
            return page
    return response
