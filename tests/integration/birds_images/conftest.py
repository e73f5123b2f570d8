"""Fixtures for the bird image service: the real app (in-process), real Redis, a temporary
object store, and a fake Unsplash on loopback that counts what it is asked."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.integration.birds_images.servers import FakeProvider, serve_in_thread

from roost.core.settings import Settings, load_settings

ImagesClient = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def provider() -> Iterator[FakeProvider]:
    fake = FakeProvider()
    with serve_in_thread(fake.app(), lifespan="off") as url:
        fake.url = url
        yield fake


@pytest.fixture
def object_store(tmp_path: Path) -> Path:
    """The folder behind ROOST_STORAGE_URL; operator photos go in its ``birds/`` folder."""
    (tmp_path / "objects" / "birds").mkdir(parents=True)
    return tmp_path / "objects"


@pytest.fixture
def images_settings(
    redis_url: str, object_store: Path, provider: FakeProvider
) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "redis_url": redis_url,
            "storage_url": object_store.as_uri(),
            "unsplash_access_key": "test-access-key",
            "unsplash_api_url": provider.url,
            "unsplash_timeout_seconds": 0.3,
            "unsplash_pause_seconds": 60,
            "access_log": False,
        }
        values.update(overrides)
        return load_settings(**values)

    return make


@pytest.fixture
def bird_images(serve_asgi: Any, images_settings: Callable[..., Settings]) -> ImagesClient:
    """``async with bird_images(**settings) as client``: the bird-images role, running."""
    from roost.roles import build_bird_images

    @asynccontextmanager
    async def running(**overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
        async with serve_asgi(build_bird_images(images_settings(**overrides))) as client:
            yield client

    return running
