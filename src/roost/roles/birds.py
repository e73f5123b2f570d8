"""The bird roles: the catalog API (birds), the picture service (bird-images) and the page with
its proxy (frontend); each calls the others over HTTP at ``settings.<x>_url or peer_url(...)``."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from functools import partial

import structlog
from fastapi import FastAPI

from roost.core.app import RoleRuntime, create_app
from roost.core.health import HealthCheck
from roost.core.settings import Settings
from roost.roles.common import allowing_uploads, open_redis_if_configured, peer_url


def build_birds(settings: Settings) -> FastAPI:
    from roost.birds import api
    from roost.birds.image_lookup import UPSTREAM_NAME, ImageLookup
    from roost.birds.photos import PhotoUploader
    from roost.birds.service import BirdsDeps
    from roost.core.upstream import CircuitBreaker, UpstreamClient
    from roost.infra import db

    settings = allowing_uploads(settings, api.MULTIPART_OVERHEAD_BYTES)  # bird photos

    async def setup(app: FastAPI, settings: Settings, stack: AsyncExitStack) -> RoleRuntime:
        engine = db.create_engine(settings)
        stack.push_async_callback(engine.dispose)
        images_url = settings.bird_images_url or peer_url("bird-images")
        breaker = CircuitBreaker(
            UPSTREAM_NAME,
            failure_threshold=settings.bird_image_breaker_failures,
            reset_seconds=settings.bird_image_breaker_reset_seconds,
        )
        budget = settings.bird_image_budget_ms / 1000
        client = UpstreamClient(UPSTREAM_NAME, images_url, budget_seconds=budget, breaker=breaker)
        images = ImageLookup(client, images_url)
        stack.push_async_callback(images.aclose)
        photos = PhotoUploader(
            settings.thumbnails_url or peer_url("thumbnails"),
            timeout_seconds=settings.bird_photo_upload_timeout_seconds,
        )
        stack.push_async_callback(photos.aclose)
        app.state.birds = BirdsDeps(
            db.session_factory(engine), images, photos, settings.thumbnail_max_upload_bytes
        )
        # Without pictures the catalog still answers (placeholders): degraded, not down.
        checks = [
            HealthCheck("postgres", partial(db.ping, engine)),
            HealthCheck(UPSTREAM_NAME, images.ping, critical=False),
        ]
        redis = await open_redis_if_configured(app, settings, stack, critical=False)
        return RoleRuntime(checks=[*checks, *redis.checks], maintenance_flag=redis.maintenance_flag)

    return create_app(role="birds", settings=settings, routers=[api.router], setup=setup)


def seed_birds(_: Settings, database_url: str) -> None:
    """The bird catalog's species: product data, seeded everywhere (missing slugs only)."""
    from roost.birds.seed import seed_birds_blocking

    added = seed_birds_blocking(database_url)
    if added:
        structlog.get_logger("roost.birds").info("bird_catalog_seeded", added=added)


def build_bird_images(settings: Settings) -> FastAPI:
    from roost.birds.images import api
    from roost.birds.images.media import BundledPhotos
    from roost.birds.images.service import ImageCache, ImageSources
    from roost.birds.images.unsplash import UnsplashClient
    from roost.birds.images.uploads import UploadedPhotos
    from roost.infra.storage import child_url, open_store

    bundled = BundledPhotos.load()  # read before serving: a broken package fails at start

    async def setup(app: FastAPI, settings: Settings, stack: AsyncExitStack) -> RoleRuntime:
        # Every dependency is optional: without them the service still answers (placeholders).
        checks: list[HealthCheck] = []
        store = cache = provider = None
        if settings.storage_url is not None:  # operator photos under <storage>/birds/
            store = open_store(
                child_url(settings.storage_url, "birds"), s3_endpoint_url=settings.s3_endpoint_url
            )
            ping = partial(asyncio.to_thread, store.ping)
            checks.append(HealthCheck("storage", ping, critical=False))
        redis = await open_redis_if_configured(app, settings, stack, critical=False)
        if redis.client is not None:  # the answer cache
            cache = ImageCache(redis.client, settings.bird_image_cache_seconds)
        checks.extend(redis.checks)
        if settings.unsplash_access_key is not None:
            provider = UnsplashClient(
                settings.unsplash_api_url,
                settings.unsplash_access_key.get_secret_value(),
                timeout_seconds=settings.unsplash_timeout_seconds,
                pause_seconds=settings.unsplash_pause_seconds,
            )
            stack.push_async_callback(provider.aclose)
        # Admin-uploaded photos, asked of the thumbnails role by the id the birds API sends.
        uploads = UploadedPhotos(
            settings.thumbnails_url or peer_url("thumbnails"),
            budget_seconds=settings.bird_photo_budget_ms / 1000,
        )
        stack.push_async_callback(uploads.aclose)
        if settings.thumbnails_url is not None:  # configured: reported; assumed: not nagged about
            checks.append(HealthCheck("thumbnails", uploads.ping, critical=False))
        app.state.bird_images = ImageSources(bundled, store, provider, cache, uploads)
        return RoleRuntime(checks=checks, maintenance_flag=redis.maintenance_flag)

    return create_app(role="bird-images", settings=settings, routers=[api.router], setup=setup)


def build_frontend(settings: Settings) -> FastAPI:
    from roost.birds.frontend import api
    from roost.birds.frontend.proxy import ReverseProxy
    from roost.birds.frontend.static_files import load_static_files
    from roost.core.middleware import PAGE_CSP
    from roost.core.upstream import CircuitBreaker

    files = load_static_files()

    async def setup(app: FastAPI, settings: Settings, stack: AsyncExitStack) -> RoleRuntime:
        def proxy(name: str, title: str, url: str) -> ReverseProxy:
            client = ReverseProxy(
                name,
                url,
                title=title,
                timeout_seconds=settings.frontend_proxy_timeout_seconds,
                max_bytes=settings.frontend_proxy_max_bytes,
                breaker=CircuitBreaker(
                    name,
                    failure_threshold=settings.bird_image_breaker_failures,
                    reset_seconds=settings.bird_image_breaker_reset_seconds,
                ),
            )
            stack.push_async_callback(client.aclose)
            return client

        birds = proxy("birds", "The bird catalog", settings.birds_api_url or peer_url("birds"))
        media = proxy(
            "bird-images",
            "The bird picture service",
            settings.bird_images_url or peer_url("bird-images"),
        )
        app.state.frontend = api.FrontendDeps(files, birds, media)
        # No Redis, no maintenance gate: the page stays up and shows its own error state.
        return RoleRuntime(
            checks=[
                HealthCheck("birds", birds.ping, critical=False),
                HealthCheck("bird-images", media.ping, critical=False),
            ]
        )

    return create_app(
        role="frontend", settings=settings, routers=[api.router], setup=setup, csp=PAGE_CSP
    )
