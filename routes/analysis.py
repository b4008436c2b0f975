"""`GET /api/spotify/playlists/{id}/analysis`: the chat tool's playlist analysis over HTTP.

Not in the TypeScript worker (there the analysis was reachable only as Claude's
`analyze_playlist` tool); added so the pipeline can be used and tested directly. The
answer is the tool's `AnalysisResult`. Spotify's refusals pass through (401, 403, 404, 429);
any other refusal (a 4xx: an id Spotify rejects, say) is the client's 400; Spotify failing
is a 502 (5xx, dropped connection, an answer that is not a playlist), 504 (no answer in
time) or 503 (the request's subrequests ran out). Deezer, Last.fm and Spotify's audio
features never fail the request.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from dj.analysis import AnalysisDeps, AnalysisResult, SpotifyReadError, analyze_playlist
from runtime import Context, HTTPError, Router

router = Router(tags=["analysis"])


class PlaylistPath(BaseModel):
    id: str = Field(
        min_length=1, max_length=64, pattern=r"^[A-Za-z0-9]+$", description="Spotify playlist id"
    )


class ErrorBody(BaseModel):
    error: str


_PASSTHROUGH = {
    401: "Spotify rejected the access token",
    403: "Spotify does not allow reading this playlist",
    404: "Playlist not found",
    429: "Spotify rate limit reached, try again later",
}


@router.get(
    "/playlists/{id}/analysis",
    path_params=PlaylistPath,
    auth="bearer",
    responses={
        200: AnalysisResult,
        401: ErrorBody,
        403: ErrorBody,
        404: ErrorBody,
        400: ErrorBody,
        429: ErrorBody,
        502: ErrorBody,
        503: ErrorBody,
        504: ErrorBody,
    },
    summary="Analyse a playlist (metadata, Deezer BPM/rank/gain, Last.fm tags, audio features)",
    description=(
        "Up to the first 100 tracks: duration, explicit share, release years; BPM (with a "
        "10-BPM tempo histogram), rank and gain from Deezer; crowd tags, listeners and similar "
        "tracks from Last.fm; energy, danceability and valence from Spotify's audio features "
        "where the app still has them. Enrichment is cached and best effort: a failing "
        "Deezer or Last.fm leaves its section null; without audio features (Spotify answers "
        "403 to apps created after 2024-11-27) `audio_features` is null and "
        "`audio_features_unavailable` says why."
    ),
    operation_id="analyzePlaylist",
)
async def playlist_analysis(c: Context) -> AnalysisResult:
    assert c.token is not None
    try:
        return await analyze_playlist(c.params.id, c.token, AnalysisDeps.from_context(c))
    except SpotifyReadError as exc:
        status = read_failure_status(exc)
        message = _PASSTHROUGH.get(status) or _MESSAGES.get(status, "Spotify request failed")
        raise HTTPError(status, message) from None


_MESSAGES = {
    400: "Spotify refused the request (check the playlist id)",
    503: "No subrequests left for this request",
    504: "Spotify did not answer in time",
}


def read_failure_status(exc: SpotifyReadError) -> int:
    """The honest status for a failed playlist read (see the module docstring)."""
    if exc.error == "http_status" and exc.status is not None:
        if exc.status in _PASSTHROUGH:
            return exc.status
        return 400 if exc.status < 500 else 502
    return {"timeout": 504, "budget_exhausted": 503}.get(exc.error or "", 502)
