"""The queue worker's wiring (every domain's actors on one broker) and what the operator
commands (`roost maintenance`, `roost dlq`, `roost thumbnails ingest`) open."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from redis.asyncio import Redis

from roost.core.health import HealthCheck
from roost.core.settings import Settings
from roost.infra import redis as redis_adapter
from roost.roles.common import dead_letter_hooks
from roost.roles.optimizer import register_optimizer_actors
from roost.roles.thumbnails import ThumbnailAdapters, open_thumbnail_adapters, thumbnail_checks

if TYPE_CHECKING:
    from dramatiq import Broker
    from dramatiq.middleware import Middleware
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from roost.infra.dead_letters import SendJob
    from roost.infra.queue import DeadLetterHandler


@dataclass
class WorkerJobs:
    """What the worker process consumes with: every domain's actors on one broker."""

    sessions: async_sessionmaker[AsyncSession]
    broker: Broker
    queue_names: list[str]
    record_dead_letters: DeadLetterHandler
    checks: list[HealthCheck]


async def open_worker_jobs(
    settings: Settings,
    stack: AsyncExitStack,
    run: Callable[[Coroutine[Any, Any, Any]], Any],
    middleware: Sequence[Middleware] = (),
) -> WorkerJobs:
    """The worker's adapters and broker, every domain's actors registered on it, and its dead
    letters recorded with each domain's failure hook. ``run`` runs a job's coroutines on the
    worker's event loop. The broker is the caller's to close, after its consumers stop."""
    from roost.infra import dead_letters, queue
    from roost.thumbnails import tasks

    adapters = await open_thumbnail_adapters(settings, stack)
    record = dead_letters.recorder(adapters.sessions, dead_letter_hooks(), run)
    broker = queue.create_broker(
        settings, extra_middleware=[queue.DeadLetters(record), *middleware]
    )
    processor = tasks.ImageProcessor(
        adapters.sessions, adapters.sources, adapters.outputs, adapters.config, run
    )
    tasks.register_actors(
        broker,
        processor,
        max_retries=settings.job_max_retries,
        time_limit_ms=int(settings.job_time_limit_seconds * 1000),
        outage_wait_seconds=settings.job_outage_wait_seconds,
    )
    optimizer_queue = register_optimizer_actors(broker, settings, adapters.sessions, run)
    return WorkerJobs(
        adapters.sessions,
        broker,
        sorted({adapters.config.queue_name, optimizer_queue}),
        record,
        thumbnail_checks(adapters, broker),
    )


@asynccontextmanager
async def operator_redis(settings: Settings) -> AsyncIterator[Redis]:
    """A Redis client for one command, closed after it."""
    client = redis_adapter.create_redis(settings)
    try:
        yield client
    finally:
        await client.aclose()


@asynccontextmanager
async def operator_jobs(
    settings: Settings,
) -> AsyncIterator[tuple[ThumbnailAdapters, SendJob]]:
    """The thumbnails adapters and a job sender for one command (ingest, dead-letter redrive),
    closed after it."""
    from roost.infra import queue
    from roost.thumbnails.service import broker_sender

    async with AsyncExitStack() as stack:
        adapters = await open_thumbnail_adapters(settings, stack)
        broker = queue.create_broker(settings)
        stack.callback(broker.close)
        yield adapters, broker_sender(broker)
