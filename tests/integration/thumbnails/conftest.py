"""Fixtures for the thumbnails pipeline against the machine's real services.

Each test session gets a fresh Postgres database (migrated with every domain's Alembic branch)
so image records never leak between runs; storage is a temporary folder per test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from roost.core.settings import Settings


@pytest.fixture(scope="session")
def thumbnails_database(migrated_database: Callable[..., str]) -> str:
    return migrated_database("roost_thumbs")


@pytest.fixture
def settings_defaults(
    thumbnails_database: str, redis_url: str, tmp_path: Path, unique: str
) -> dict[str, Any]:
    """Each test gets its own broker namespace and storage folder."""
    return {
        "database_url": thumbnails_database,
        "redis_url": redis_url,
        "broker_url": redis_url,
        "storage_url": (tmp_path / "objects").as_uri(),
        "broker_namespace": f"t{unique}",
        "thumbnails_queue": f"thumbs-{unique}",
        "job_min_backoff_ms": 20,
        "job_max_backoff_ms": 200,
        "worker_housekeeping_seconds": 0.2,
        "worker_threads": 2,
        # The in-process worker measures pytest's own memory, which passes the production
        # ceiling late in a full run; the ceiling then SIGTERMs pytest (and make) itself.
        # Its behaviour is tested on a real `roost worker` in tests/e2e.
        "worker_max_memory_mb": 1 << 20,
    }


@pytest.fixture
def platform(serve_asgi: Any) -> Callable[..., Any]:
    """``async with platform(settings) as (api, worker)``: the thumbnails API and an
    in-process worker (real dramatiq threads) sharing one broker and database."""
    from roost.roles import build_thumbnails
    from roost.worker import build_worker

    @asynccontextmanager
    async def running(settings: Settings, *, worker: bool = True) -> AsyncIterator[tuple[Any, Any]]:
        async with serve_asgi(build_thumbnails(settings)) as api:
            if not worker:
                yield api, None
                return
            async with serve_asgi(build_worker(settings)) as worker_client:
                yield api, worker_client

    return running
