"""The thumbnails role, and the adapters it shares with the worker and the operator commands:
Postgres, the two object-store prefixes (sources, thumbnails), the broker."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from fastapi import FastAPI

from roost.core.app import RoleRuntime, create_app
from roost.core.health import HealthCheck
from roost.core.settings import Settings
from roost.roles.common import (
    allowing_uploads,
    broker_check,
    dead_letter_hooks,
    open_redis_if_configured,
)

if TYPE_CHECKING:
    from dramatiq import Broker
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

    from roost.infra.storage import ObjectStore
    from roost.thumbnails.config import ThumbnailsConfig


@dataclass
class ThumbnailAdapters:
    """The thumbnails role's and the worker's adapters, opened on the running event loop."""

    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    sources: ObjectStore
    outputs: ObjectStore
    config: ThumbnailsConfig


def thumbnails_config(settings: Settings) -> ThumbnailsConfig:
    from roost.thumbnails.config import ThumbnailsConfig
    from roost.thumbnails.imaging import ImagingLimits
    from roost.thumbnails.presets import Presets

    return ThumbnailsConfig(
        presets=Presets.from_names(settings.thumbnail_sizes, settings.thumbnail_default_sizes),
        limits=ImagingLimits(
            max_bytes=settings.thumbnail_max_upload_bytes, max_pixels=settings.thumbnail_max_pixels
        ),
        output_format=settings.thumbnail_format,
        quality=settings.thumbnail_quality,
        queue_name=settings.thumbnails_queue,
        cache_seconds=settings.thumbnail_cache_seconds,
    )


def thumbnail_stores(settings: Settings) -> tuple[ObjectStore, ObjectStore]:
    """Sources and thumbnails: separate prefixes (or buckets) of the object store."""
    from roost.infra.storage import child_url, open_store

    def url_of(explicit: str | None, name: str) -> str:
        if explicit:
            return explicit
        if settings.storage_url is None:
            raise ValueError("ROOST_STORAGE_URL is not set (roost up fills it in)")
        return child_url(settings.storage_url, name)

    endpoint = settings.s3_endpoint_url
    return (
        open_store(url_of(settings.thumbnails_source_url, "sources"), s3_endpoint_url=endpoint),
        open_store(url_of(settings.thumbnails_output_url, "thumbnails"), s3_endpoint_url=endpoint),
    )


async def open_thumbnail_adapters(settings: Settings, stack: AsyncExitStack) -> ThumbnailAdapters:
    from roost.infra import db

    config = thumbnails_config(settings)
    sources, outputs = thumbnail_stores(settings)
    engine = db.create_engine(settings)
    stack.push_async_callback(engine.dispose)
    return ThumbnailAdapters(engine, db.session_factory(engine), sources, outputs, config)


def thumbnail_checks(adapters: ThumbnailAdapters, broker: Broker) -> list[HealthCheck]:
    from roost.infra import db

    async def storage() -> None:
        await asyncio.gather(
            asyncio.to_thread(adapters.sources.ping), asyncio.to_thread(adapters.outputs.ping)
        )

    return [
        HealthCheck("postgres", partial(db.ping, adapters.engine)),
        broker_check(broker),
        HealthCheck("storage", storage),
    ]


def build_thumbnails(settings: Settings) -> FastAPI:
    from roost.infra import queue
    from roost.thumbnails import api

    settings = allowing_uploads(settings, api.MULTIPART_OVERHEAD_BYTES)
    thumbnails_config(settings)  # a bad preset stops the role before it serves

    async def setup(app: FastAPI, settings: Settings, stack: AsyncExitStack) -> RoleRuntime:
        adapters = await open_thumbnail_adapters(settings, stack)
        broker = queue.create_broker(settings)
        stack.callback(broker.close)
        app.state.thumbnails = api.ThumbnailsDeps(
            adapters.sessions,
            adapters.sources,
            adapters.outputs,
            broker,
            adapters.config,
            failure_hooks=dead_letter_hooks(),
        )
        redis = await open_redis_if_configured(app, settings, stack, critical=True)
        return RoleRuntime(
            checks=[*thumbnail_checks(adapters, broker), *redis.checks],
            maintenance_flag=redis.maintenance_flag,
        )

    return create_app(
        role="thumbnails", settings=settings, routers=[api.router, api.admin], setup=setup
    )
