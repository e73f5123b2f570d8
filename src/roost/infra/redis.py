"""Async Redis: one bounded pool per process, timeouts everywhere, errors mapped to 503."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import TypeVar

import structlog
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from roost.core.errors import DependencyUnavailable
from roost.core.metrics import REDIS_MEMORY, REDIS_OPERATION_DURATION
from roost.core.settings import Settings

log = structlog.get_logger("roost.redis")

T = TypeVar("T")
MAINTENANCE_KEY = "roost:maintenance"
REDIS_UNAVAILABLE = (RedisConnectionError, RedisTimeoutError, OSError)


def create_redis(settings: Settings, url: str | None = None) -> Redis:
    target = url or settings.redis_url
    if target is None:
        raise ValueError("ROOST_REDIS_URL is not set (roost up fills it in for embedded runs)")
    pool = BlockingConnectionPool.from_url(
        target,
        max_connections=settings.redis_max_connections,
        # Waiting for a free pooled connection is bounded too.
        timeout=settings.redis_socket_timeout,
        socket_timeout=settings.redis_socket_timeout,
        socket_connect_timeout=settings.redis_connect_timeout,
        socket_keepalive=True,
        # One quick retry survives a stale pooled connection after a Redis restart; more would
        # turn an outage into slow requests instead of fast 503s.
        retry=Retry(ExponentialBackoff(cap=0.05, base=0.01), 1),
        retry_on_error=[RedisConnectionError],
        decode_responses=False,
    )
    return Redis(connection_pool=pool)


async def timed(operation: str, awaitable: Awaitable[T]) -> T:
    """Await one Redis call, record its duration, and turn an outage into a 503."""
    histogram = REDIS_OPERATION_DURATION.labels(operation)
    started = time.perf_counter()
    try:
        return await awaitable
    except REDIS_UNAVAILABLE as exc:
        log.warning("redis_unavailable", operation=operation, error=type(exc).__name__)
        raise DependencyUnavailable("redis") from exc
    finally:
        histogram.observe(time.perf_counter() - started)


async def ping(client: Redis) -> None:
    await client.ping()


async def read_maintenance_flag(client: Redis) -> bool:
    return await client.get(MAINTENANCE_KEY) == b"1"


async def write_maintenance_flag(client: Redis, enabled: bool) -> None:
    await client.set(MAINTENANCE_KEY, b"1" if enabled else b"0")


@asynccontextmanager
async def memory_reporter(client: Redis, every_seconds: float = 15.0) -> AsyncIterator[None]:
    """Keep ``redis_memory_usage_bytes`` fresh while the block runs."""

    async def report_forever() -> None:
        while True:
            with contextlib.suppress(*REDIS_UNAVAILABLE):
                info = await client.info("memory")
                REDIS_MEMORY.set(float(info.get("used_memory", 0)))
            await asyncio.sleep(every_seconds)

    task = asyncio.create_task(report_forever(), name="redis-memory-reporter")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
