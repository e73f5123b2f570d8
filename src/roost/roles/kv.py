"""The kv role: Redis is its store, so it is required (not ready without it)."""

from __future__ import annotations

from contextlib import AsyncExitStack
from functools import partial

from fastapi import FastAPI

from roost.core.app import RoleRuntime, create_app
from roost.core.settings import Settings
from roost.infra import redis as redis_adapter
from roost.roles.common import open_redis, redis_check


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

    return create_app(role="kv", settings=settings, routers=[api.router, api.v1], setup=setup)
