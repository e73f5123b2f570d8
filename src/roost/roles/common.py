"""What several roles' wiring shares: Redis (required or optional), the broker check, the
dead-letter failure hooks, peers' URLs, the upload body limit."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from redis.asyncio import Redis

from roost.core.health import HealthCheck
from roost.core.maintenance import FlagReader
from roost.core.settings import ROLE_PORTS, Settings
from roost.infra import redis as redis_adapter

if TYPE_CHECKING:
    from dramatiq import Broker

    from roost.infra.dead_letters import FailureHooks


async def open_redis(app: FastAPI, settings: Settings, stack: AsyncExitStack) -> Redis:
    """The role's Redis client, closed with the stack; rate limits count in it."""
    client = redis_adapter.create_redis(settings)
    stack.push_async_callback(client.aclose)
    await stack.enter_async_context(redis_adapter.memory_reporter(client))
    app.state.redis = client
    app.state.rate_limit_store = redis_adapter.RedisRateLimitStore(client)
    return client


def redis_check(client: Redis, *, critical: bool = True) -> HealthCheck:
    return HealthCheck("redis", partial(redis_adapter.ping, client), critical=critical)


@dataclass(frozen=True)
class OptionalRedis:
    """Redis for a role that runs without it: nothing of it when ``ROOST_REDIS_URL`` is unset
    (no rate-limit store, no maintenance flag, no check)."""

    client: Redis | None = None
    checks: list[HealthCheck] = field(default_factory=list)
    maintenance_flag: FlagReader | None = None


async def open_redis_if_configured(
    app: FastAPI, settings: Settings, stack: AsyncExitStack, *, critical: bool
) -> OptionalRedis:
    """Rate limits, the maintenance flag and its health check when Redis is configured;
    ``critical=False`` reports a Redis outage as degraded instead of not ready."""
    if settings.redis_url is None:
        return OptionalRedis()
    client = await open_redis(app, settings, stack)
    return OptionalRedis(
        client,
        [redis_check(client, critical=critical)],
        partial(redis_adapter.read_maintenance_flag, client),
    )


def broker_check(broker: Broker, *, critical: bool = True) -> HealthCheck:
    from roost.infra import queue

    async def ping() -> None:
        await asyncio.to_thread(queue.ping, broker)

    return HealthCheck("broker", ping, critical=critical)


def allowing_uploads(settings: Settings, multipart_overhead: int) -> Settings:
    """The role's settings with a body limit that fits one image upload: uploads are larger
    than the app-wide limit, which every other route keeps."""
    upload_limit = settings.thumbnail_max_upload_bytes + multipart_overhead
    return settings.model_copy(
        update={"max_body_bytes": max(settings.max_body_bytes, upload_limit)}
    )


def peer_url(role: str) -> str:
    """Another role on this host at its default port (``roost up`` passes explicit URLs)."""
    return f"http://127.0.0.1:{ROLE_PORTS[role]}"


async def no_maintenance_store(*_: object) -> Any:
    """The maintenance flag's reader and writer when there is no Redis to keep it in."""
    from roost.core.errors import DependencyUnavailable

    raise DependencyUnavailable("redis")


def dead_letter_hooks() -> FailureHooks:
    """Each domain's failure hook, by actor, for the one dead-letter store (infra knows no
    domain): what a dead-lettered job, and its redrive, do to the domain's own record."""
    from roost.optimizer import dead_letters as optimizer_dead_letters
    from roost.thumbnails import dead_letters as thumbnails_dead_letters
    from roost.thumbnails.jobs import PROCESS_IMAGE_ACTOR

    return {
        PROCESS_IMAGE_ACTOR: thumbnails_dead_letters.FAILURE_HOOK,
        optimizer_dead_letters.RUN_OPTIMIZATION_ACTOR: optimizer_dead_letters.FAILURE_HOOK,
    }
