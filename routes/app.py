"""The DJ API, assembled in one visible place: middleware first, then every router."""

from __future__ import annotations

from runtime import App
from runtime.assets import spa_fallback
from runtime.docs import docs_router
from runtime.middleware import cors, request_id, security_headers

from . import analysis, chat, health, mix, player, player_stream, playlists, spotify_auth, steer

app = App(
    title="DJ API",
    version="1.0.0",
    description="AI DJ backend: chat with Claude, Spotify, enrichment and live mix sessions.",
    servers=[
        {"url": "https://dj.current.space", "description": "Production"},
        {"url": "http://localhost:8787", "description": "Local development"},
    ],
)

app.use(request_id())
app.use(security_headers())  # X-XSS-Protection: 0 (the deprecated auditor off)
app.use(cors(default_origin="https://dj.current.space"))

app.route("/", health.router, include_in_schema=False)  # GET /health, as the TS worker had it
app.route("/api", health.router)  # GET /api/health, reachable with run_worker_first
app.route("/api", docs_router())
app.route("/api/spotify", spotify_auth.router)  # OAuth, /me, /search (routes/spotify_auth.py)
app.route("/api/spotify", playlists.router)  # playlists (routes/playlists.py)
app.route("/api/spotify", analysis.router)  # GET /playlists/{id}/analysis (routes/analysis.py)
app.route("/api/player", player.router)  # playback proxy (routes/player.py)
app.route("/api/player", player_stream.router)  # GET /stream, SSE (routes/player_stream.py)
app.route("/api/chat-stream", chat.router)  # chat with Claude over SSE (routes/chat.py)
app.route("/api/mix", mix.router)  # mix sessions (routes/mix.py)
app.route("/api/mix/vibe", steer.router)  # POST /steer-stream, SSE (routes/steer.py)

app.not_found(spa_fallback)
