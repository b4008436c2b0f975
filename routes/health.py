"""Liveness: answers without touching any binding or upstream."""

from pydantic import BaseModel

from runtime import Context, Router

router = Router(tags=["health"])


class Health(BaseModel):
    status: str


@router.get("/health", responses={200: Health}, summary="Liveness check", operation_id="getHealth")
async def health(c: Context) -> Health:
    return Health(status="healthy")
