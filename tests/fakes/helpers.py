from __future__ import annotations

import json
from typing import Any

from fakes.spotify import DEV_TOKEN


def bearer(token: str = DEV_TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def parse_sse(raw: str) -> list[tuple[str, Any]]:
    """Split an SSE body into (event name, parsed data) pairs."""
    events = []
    for block in raw.split("\n\n"):
        if not block.strip():
            continue
        name, data = "message", []
        for line in block.split("\n"):
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data.append(line[6:])
        events.append((name, json.loads("\n".join(data))))
    return events
