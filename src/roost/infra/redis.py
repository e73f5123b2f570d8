"""Async Redis: one bounded pool per process, timeouts everywhere, errors mapped to 503."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeVar

import hiredis
import structlog
from prometheus_client import Histogram
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
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
    """Send the commands of concurrent requests together over one dedicated connection.

    A single command costs redis-py ~120 µs of CPU under concurrency (pool checkout, timeout
    context, parse); commands written back to back and read in order cost a fraction of that
    (measured in the foundation issue note). One loop owns the connection: it writes every
    queued command in one packet, reads the replies in order, then takes whatever queued up
    meanwhile, so batches grow by themselves under load and a lone request pays one round
    trip. Commands are independent (no transaction); an error reply fails only its command,
    a connection error fails the batch (→ 503) and the next batch reconnects.
    """

    def __init__(self, client: Redis) -> None:
        self.client = client
        self._queue: list[tuple[tuple[Any, ...], asyncio.Future[Any]]] = []
        self._wakeup = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None
        self._connection: Any = None

    def execute(self, *args: Any) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.append((args, future))
        self._wakeup.set()
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._drain_forever(), name="redis-autopipeline")
        return future

    async def aclose(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        if self._connection is not None:
            await self._connection.disconnect()

    async def _drain_forever(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            batch, self._queue = self._queue, []
            if batch:
                await self._send(batch)

    async def _send(self, batch: list[tuple[tuple[Any, ...], asyncio.Future[Any]]]) -> None:
        try:
            connection = self._connection
            if connection is None:
                connection = self._connection = self.client.connection_pool.make_connection()  # type: ignore[no-untyped-call]
            # redis-py's connect() does the handshake (AUTH, SELECT, client name); the batch
            # itself bypasses its per-command packing and per-reply timeout context, which
            # cost ~40 of the ~55 µs a pipelined command took (profiled in the kv issue):
            # hiredis packs and parses, one deadline covers the whole batch.
            await connection.connect()
            writer, reader = connection._writer, connection._reader
            writer.write(b"".join([hiredis.pack_command(args) for args, _ in batch]))
            async with asyncio.timeout(connection.socket_timeout):
                replies = await _read_replies(reader, len(batch))
            for (args, future), reply in zip(batch, replies, strict=True):
                if isinstance(reply, ResponseError):
                    _settle(future, error=reply)
                    continue
                callback = self.client.response_callbacks.get(str(args[0]).upper())
                _settle(future, result=callback(reply) if callback else reply)
        except Exception as exc:
            if self._connection is not None:
                await self._connection.disconnect()
            error: Exception = exc
            if isinstance(exc, TimeoutError):
                error = RedisTimeoutError("timed out reading a pipelined batch")
            elif isinstance(exc, (hiredis.ProtocolError, asyncio.IncompleteReadError)):
                error = RedisConnectionError(f"broken reply stream: {exc}")
            elif isinstance(exc, RuntimeError):
                # uvloop refuses a write to a transport the peer just reset ("the handler is
                # closed"): a connection failure like any other, found by the Redis-cut drill.
                error = RedisConnectionError(f"connection closed under the batch: {exc}")
            for _, future in batch:
                _settle(future, error=error)


async def _read_replies(reader: asyncio.StreamReader, count: int) -> list[Any]:
    parser = hiredis.Reader(replyError=ResponseError)
    replies: list[Any] = []
    while len(replies) < count:
        chunk = await reader.read(65536)
        if not chunk:
            raise RedisConnectionError("Redis closed the connection")
        parser.feed(chunk)
        while len(replies) < count:
            reply = parser.gets()
            if reply is False:
                break
            replies.append(reply)
    return replies


def _settle(
    future: asyncio.Future[Any], *, result: Any = None, error: BaseException | None = None
) -> None:
    if future.done():  # the request was cancelled meanwhile
        return
    if error is not None:
        future.set_exception(error)
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
        wait_ms = await self.client.eval(
            _GCRA_SCRIPT, 1, key, 1000.0 / limit.rate_per_second, limit.burst
        )
        return float(wait_ms) / 1000.0
