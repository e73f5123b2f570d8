"""Debug endpoints: mounted only when ``ROOST_DEBUG=true`` (refused in production settings)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from roost import __version__

SECRET_FIELDS = frozenset({"jwt_secret", "api_keys", "jwt_public_key"})


def debug_router() -> APIRouter:
    router = APIRouter(prefix="/debug", include_in_schema=False)

    @router.get("/sleep")
    async def sleep(seconds: Annotated[float, Query(ge=0, le=30)] = 1.0) -> dict[str, float]:
        """A slow request on demand: for shutdown and timeout drills."""
        await asyncio.sleep(seconds)
        return {"slept": seconds}

    @router.get("/config")
    async def config(request: Request) -> dict[str, Any]:
        """Effective settings with secrets and credentials in URLs masked."""
        settings = request.app.state.settings
        shown = settings.model_dump(mode="json", exclude=SECRET_FIELDS)
        for field in ("database_url", "redis_url", "broker_url"):
            if shown.get(field) and "@" in shown[field]:
                scheme, _, rest = shown[field].partition("://")
                shown[field] = f"{scheme}://***@{rest.split('@', 1)[1]}"
        return {"version": __version__, "settings": shown}

    return router
