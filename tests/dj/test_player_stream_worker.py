"""The Worker `tests/e2e/test_player_stream_e2e.py` builds (no tests in this module).

It serves the real `GET /api/player/stream` router, mounted as in `routes/app.py`, plus two
test-only routes that read and write `mix:{userId}` in the Worker's KV, so a test can seed a
mix session before a stream and check what the stream's track transition saved.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from dj.models.mix import MixSession
from routes import player_stream
from runtime import App, Context, HTTPError, Router, kv
from runtime.middleware import request_id


class UserPath(BaseModel):
    user: str


seed = Router(tags=["test"])


def _store(c: Context) -> Any:
    store = kv.mix_sessions(c.env, MixSession)
    if store is None:
        raise HTTPError(500, "MIX_SESSIONS is not bound")
    return store


@seed.put("/mix/{user}", path_params=UserPath, body=MixSession)
async def put_session(c: Context) -> dict[str, Any]:
    saved = await _store(c).save(c.params.user, c.body)
    return {"session": saved.model_dump(mode="json")}


@seed.get("/mix/{user}", path_params=UserPath)
async def get_session(c: Context) -> dict[str, Any]:
    found = await _store(c).load(c.params.user)
    return {"session": found.model_dump(mode="json") if found is not None else None}


app = App(title="Player stream test worker", version="0.0.1")
app.use(request_id())
app.route("/api/player", player_stream.router)
app.route("/api/test", seed)
