"""Fixtures for the optimizer against the machine's real Postgres and Redis.

Each test session gets a fresh Postgres database migrated with the optimizer's Alembic branch
and seeded with the demo model. Redis is a database index of its own, so the maintenance flag
and rate-limit counters of these tests never meet another suite's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from tests.support.parallel import redis_db

from roost.core.settings import Settings

OPTIMIZER_REDIS_DB = redis_db(13)


@pytest.fixture(scope="session")
def optimizer_database(migrated_database: Callable[..., str]) -> str:
    from roost.optimizer.demo import seed_demo_model

    url = migrated_database("roost_optimizer", "optimizer")
    seed_demo_model(url)
    return url


@pytest.fixture(scope="session")
def optimizer_redis_url(redis_url: str) -> str:
    return redis_url.rsplit("/", 1)[0] + f"/{OPTIMIZER_REDIS_DB}"


@pytest.fixture
def settings_defaults(
    optimizer_database: str, optimizer_redis_url: str, unique: str
) -> dict[str, Any]:
    """The rate limit is out of the way unless a test sets it."""
    return {
        "database_url": optimizer_database,
        "redis_url": optimizer_redis_url,
        "broker_url": optimizer_redis_url,
        "broker_namespace": f"t{unique}",
        "optimizer_queue": f"opt-{unique}",
        "optimizer_rate_per_second": 1000.0,
        "optimizer_rate_burst": 1000,
        # Polling only at startup: redis-py can swallow the cancellation of a poll that is
        # mid-command at shutdown, and core.background.periodically then loops forever.
        # The maintenance test polls fast on purpose.
        "maintenance_poll_seconds": 30.0,
        "job_min_backoff_ms": 20,
        "job_max_backoff_ms": 200,
    }


@pytest.fixture
def optimizer_client(make_settings: Callable[..., Settings], serve_asgi: Any) -> Callable[..., Any]:
    """``async with optimizer_client(**settings) as client``: the optimizer role in-process."""
    from roost.roles import build_optimizer

    def running(**overrides: Any) -> Any:
        return serve_asgi(build_optimizer(make_settings(**overrides)))

    return running
