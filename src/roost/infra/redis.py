"""Async Redis: one bounded pool per process, timeouts everywhere, errors mapped to 503."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeVar

import structlog
from prometheus_client import Histogram
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from roost.core.background import periodically
from roost.core.errors import DependencyUnavailable
from roost.core.metrics import REDIS_MEMORY, REDIS_OPERATION_DURATION
from roost.core.ratelimit import RateLimit
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


_DURATION_BY_OPERATION: dict[str, Histogram] = {}


class AutoPipeline:
    """Coalesce the commands issued in one event-loop iteration into one pipeline round trip.

    Under concurrency a single command costs redis-py ~120 µs of CPU; in a pipeline of 64 it
    costs ~18 µs (measured, see the foundation issue note). Requests served in the same loop
    iteration therefore share one round trip, the way ioredis' auto-pipelining does. A single
    request alone pays one extra loop turn. Commands are independent (no transaction).
    """

    def __init__(self, client: Redis) -> None:
        self.client = client
        self._pending: list[tuple[tuple[Any, ...], asyncio.Future[Any]]] = []
        self._flush_scheduled = False
        self._in_flight: set[asyncio.Task[None]] = set()

    def execute(self, *args: Any) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._pending.append((args, future))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            loop.call_soon(self._flush)
        return future

    def _flush(self) -> None:
        self._flush_scheduled = False
        batch, self._pending = self._pending, []
        task = asyncio.ensure_future(self._send(batch))
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)

    async def _send(self, batch: list[tuple[tuple[Any, ...], asyncio.Future[Any]]]) -> None:
        pipe = self.client.pipeline(transaction=False)
        for args, _ in batch:
            pipe.execute_command(*args)
        try:
            results = await pipe.execute(raise_on_error=False)
        except Exception as exc:
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), result in zip(batch, results, strict=True):
            if future.done():  # the request was cancelled meanwhile
                continue
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(result)


async def timed(operation: str, awaitable: Awaitable[T]) -> T:
    """Await one Redis call, record its duration, and turn an outage into a 503."""
    histogram = _DURATION_BY_OPERATION.get(operation)
    if histogram is None:
        histogram = _DURATION_BY_OPERATION[operation] = REDIS_OPERATION_DURATION.labels(operation)
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


def memory_reporter(
    client: Redis, every_seconds: float = 15.0
) -> AbstractAsyncContextManager[None]:
    """Keep ``redis_memory_usage_bytes`` fresh while the block runs."""

    async def report() -> None:
        with contextlib.suppress(*REDIS_UNAVAILABLE):
            info = await client.info("memory")
            REDIS_MEMORY.set(float(info.get("used_memory", 0)))

    return periodically(report, every_seconds, "redis-memory-reporter")


# GCRA: one key per client holds the "theoretical arrival time" of its next request.
# KEYS[1] the client's key; ARGV[1] emission interval in ms (1000 / rate); ARGV[2] burst.
# Returns 0 when allowed, else the milliseconds until the next request would be allowed.
_GCRA_SCRIPT = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000 + math.floor(tonumber(now_parts[2]) / 1000)
local interval = tonumber(ARGV[1])
local tolerance = interval * tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local next_tat = tat + interval
if next_tat - now > tolerance then
  return next_tat - now - tolerance
end
redis.call('SET', KEYS[1], next_tat, 'PX', math.ceil(next_tat - now) + 1000)
return 0
"""


class RedisRateLimitStore:
    """The rate-limit store of :mod:`roost.core.ratelimit`, atomic in one Lua script."""

    def __init__(self, client: Redis) -> None:
        self.client = client

    async def acquire(self, key: str, limit: RateLimit) -> float:
        wait_ms = await self.client.eval(  # type: ignore[misc]
            _GCRA_SCRIPT, 1, key, 1000.0 / limit.rate_per_second, limit.burst
        )
        return float(wait_ms) / 1000.0
