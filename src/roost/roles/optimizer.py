"""The optimizer role, its job sender, its actor in the worker and its demo data."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from contextlib import AsyncExitStack
from functools import partial
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI

from roost.core.app import RoleRuntime, create_app
from roost.core.health import HealthCheck
from roost.core.settings import Settings
from roost.roles.common import broker_check, open_redis_if_configured

if TYPE_CHECKING:
    from dramatiq import Broker
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from roost.optimizer.config import OptimizerConfig


def build_optimizer(settings: Settings) -> FastAPI:
    from roost.infra import db
    from roost.optimizer import api
    from roost.optimizer.config import OptimizerDeps

    config = optimizer_config(settings)

    async def setup(app: FastAPI, settings: Settings, stack: AsyncExitStack) -> RoleRuntime:
        engine = db.create_engine(settings)
        stack.push_async_callback(engine.dispose)
        checks = [HealthCheck("postgres", partial(db.ping, engine))]
        enqueue = None
        if settings.broker_url is not None:  # only large requests and sweeps need the queue
            enqueue, broker_check = optimizer_sender(settings, stack)
            checks.append(broker_check)
        # Rate limits fail open: without Redis the optimizer is degraded, not down.
        redis = await open_redis_if_configured(app, settings, stack, critical=False)
        app.state.optimizer = OptimizerDeps(
            db.session_factory(engine),
            config,
            enqueue,
            asyncio.Semaphore(settings.optimizer_max_concurrent),
        )
        return RoleRuntime(checks=[*checks, *redis.checks], maintenance_flag=redis.maintenance_flag)

    return create_app(role="optimizer", settings=settings, routers=[api.router], setup=setup)


def optimizer_config(settings: Settings) -> OptimizerConfig:
    """The optimizer's own config (it never reads Settings): auth is required in production
    unless ROOST_OPTIMIZER_REQUIRE_AUTH says otherwise."""
    from roost.core.ratelimit import RateLimit
    from roost.optimizer.config import OptimizerConfig

    require_auth = settings.optimizer_require_auth
    return OptimizerConfig(
        require_auth=settings.is_production if require_auth is None else require_auth,
        rate_limit=RateLimit(
            "optimize", settings.optimizer_rate_per_second, settings.optimizer_rate_burst
        ),
        async_channel_threshold=settings.optimizer_async_channel_threshold,
        max_channels=settings.optimizer_max_channels,
        max_sweep_totals=settings.optimizer_max_sweep_totals,
        default_model=settings.optimizer_default_model,
        max_nodes=settings.optimizer_max_nodes,
    )


def optimizer_sender(
    settings: Settings, stack: AsyncExitStack
) -> tuple[Callable[[str], Awaitable[None]], HealthCheck]:
    """Enqueue optimization jobs by actor name (the API process loads no actor code)."""
    from roost.infra import queue
    from roost.optimizer.tasks import RUN_OPTIMIZATION_ACTOR

    broker = queue.create_broker(settings)
    stack.callback(broker.close)

    async def enqueue(result_id: str) -> None:
        await asyncio.to_thread(
            queue.send, broker, settings.optimizer_queue, RUN_OPTIMIZATION_ACTOR, [result_id]
        )

    return enqueue, broker_check(broker, critical=False)


def register_optimizer_actors(
    broker: Broker,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    run: Callable[[Coroutine[Any, Any, Any]], Any],
) -> str:
    """Bind the optimizer's actor to the worker's broker; returns the queue to consume."""
    from roost.optimizer import tasks

    jobs = tasks.OptimizationJobs(sessions, optimizer_config(settings), run)
    tasks.register_actors(
        broker,
        jobs,
        queue_name=settings.optimizer_queue,
        max_retries=settings.job_max_retries,
        time_limit_ms=int(settings.job_time_limit_seconds * 1000),
        outage_wait_seconds=settings.job_outage_wait_seconds,
    )
    return settings.optimizer_queue


def seed_optimizer_demo(settings: Settings, database_url: str) -> None:
    """The demo model, so a fresh development platform can optimise (never in production
    unless ROOST_OPTIMIZER_SEED_DEMO=true)."""
    wanted = settings.optimizer_seed_demo
    if not (not settings.is_production if wanted is None else wanted):
        return
    from roost.optimizer.demo import seed_demo_model

    seed_demo_model(database_url)
