"""Fixtures for the frontend role: the real app in-process, its upstreams real servers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx
import pytest

from roost.core.settings import Settings, load_settings

FrontendClient = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]
UNREACHABLE = "http://127.0.0.1:1"  # nothing listens on port 1


def frontend_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "birds_api_url": UNREACHABLE,
        "bird_images_url": UNREACHABLE,
        "frontend_proxy_timeout_seconds": 0.5,
        "access_log": False,
    }
    values.update(overrides)
    return load_settings(**values)


@pytest.fixture
def frontend(serve_asgi: Any) -> FrontendClient:
    """``async with frontend(birds_api_url=…, bird_images_url=…) as client``."""
    from roost.roles import build_frontend

    @asynccontextmanager
    async def running(**overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
        async with serve_asgi(build_frontend(frontend_settings(**overrides))) as client:
            yield client

    return running
