"""The composition root: which adapters each role gets, wired in one place.

A domain never builds its own Redis pool or engine; it reads them from ``app.state``, set here.
Builders import their domain lazily so that ``roost serve kv`` loads nothing of the others.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AsyncExitStack
from functools import partial

from fastapi import FastAPI
from redis.asyncio import Redis

from roost.core.app import RoleRuntime, create_app
from roost.core.health import HealthCheck
from roost.core.logging import configure_logging
from roost.core.settings import ROLE_PORTS, Settings, load_settings
from roost.core.tracing import tracing_enabled
from roost.infra import redis as redis_adapter


async def open_redis(app: FastAPI, settings: Settings, stack: AsyncExitStack) -> Redis:
    client = redis_adapter.create_redis(settings)
    stack.push_async_callback(client.aclose)
    await stack.enter_async_context(redis_adapter.memory_reporter(client))
    app.state.redis = client
    app.state.rate_limit_store = redis_adapter.RedisRateLimitStore(client)
    return client


def redis_check(client: Redis) -> HealthCheck:
    return HealthCheck("redis", partial(redis_adapter.ping, client))


def build_kv(settings: Settings) -> FastAPI:
    from roost.kv import api
    from roost.kv.service import KVConfig

    async def setup(app: FastAPI, settings: Settings, stack: AsyncExitStack) -> RoleRuntime:
        client = await open_redis(app, settings, stack)
        app.state.kv_commands = redis_adapter.AutoPipeline(client)
        stack.push_async_callback(app.state.kv_commands.aclose)
        app.state.kv_config = KVConfig(
            namespace=settings.kv_namespace,
            max_value_bytes=settings.kv_max_value_bytes,
            max_ttl_seconds=settings.kv_max_ttl_seconds,
        )
        return RoleRuntime(
            checks=[redis_check(client)],
            maintenance_flag=partial(redis_adapter.read_maintenance_flag, client),
        )

    app = create_app(role="kv", settings=settings, routers=[api.router, api.v1], setup=setup)
    api.install_error_handlers(app)
    return app


ROLE_BUILDERS: dict[str, Callable[[Settings], FastAPI]] = {
    "kv": build_kv,
}


def api_roles() -> list[str]:
    return list(ROLE_BUILDERS)


def default_port(role: str) -> int:
    return ROLE_PORTS[role]


def build_app(role: str, settings: Settings) -> FastAPI:
    try:
        builder = ROLE_BUILDERS[role]
    except KeyError:
        raise ValueError(f"unknown role {role!r}; roles: {', '.join(ROLE_BUILDERS)}") from None
    return builder(settings)


def app_from_env() -> FastAPI:
    """uvicorn factory: each worker process builds its app from the environment."""
    settings = load_settings()
    configure_logging(settings.log_level, json=settings.log_json, tracing=tracing_enabled(settings))
    if settings.role is None:
        raise ValueError("ROOST_ROLE is not set")
    return build_app(settings.role, settings)
