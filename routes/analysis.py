"""`GET /api/spotify/playlists/{id}/analysis`: the chat tool's playlist analysis over HTTP.

Not in the TypeScript worker (there the analysis was reachable only as Claude's
`analyze_playlist` tool); added so the pipeline can be used and tested directly. The
answer is the tool's `AnalysisResult`. Spotify's refusals pass through (401, 403, 404);
any other Spotify failure is a 502. Deezer and Last.fm never fail the request.
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
        429: ErrorBody,
        502: ErrorBody,
    },
    summary="Analyse a playlist (metadata, Deezer BPM/rank/gain, Last.fm tags)",
    description=(
        "Up to the first 100 tracks: duration, explicit share, release years; BPM, rank and "
        "gain from Deezer; crowd tags, listeners and similar tracks from Last.fm. Enrichment "
        "is cached and best effort: a failing Deezer or Last.fm leaves its section null."
    ),
    operation_id="analyzePlaylist",
)
async def playlist_analysis(c: Context) -> AnalysisResult:
    assert c.token is not None
    try:
        return await analyze_playlist(c.params.id, c.token, AnalysisDeps.from_context(c))
    except SpotifyReadError as exc:
        status = exc.status if exc.status in _PASSTHROUGH else 502
        message = _PASSTHROUGH.get(status, "Spotify request failed")
        raise HTTPError(status, message) from None
