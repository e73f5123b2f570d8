"""The composition root: which adapters each role gets, wired in one place.

A domain never builds its own Redis pool or engine; it reads them from ``app.state``, set here.
Builders import their domain lazily so that ``roost serve kv`` loads nothing of the others.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

import structlog
from fastapi import FastAPI
from redis.asyncio import Redis

from roost.core.app import RoleRuntime, create_app
from roost.core.health import HealthCheck
from roost.core.logging import configure_logging
from roost.core.settings import ROLE_PORTS, Settings, load_settings
from roost.core.tracing import tracing_enabled
from roost.infra import redis as redis_adapter

if TYPE_CHECKING:
    from dramatiq import Broker
    from dramatiq.middleware import Middleware
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

    from roost.infra.dead_letters import FailureHooks, SendJob
    from roost.infra.queue import DeadLetterHandler
    from roost.infra.storage import ObjectStore
    from roost.optimizer.config import OptimizerConfig
    from roost.thumbnails.config import ThumbnailsConfig


async def open_redis(app: FastAPI, settings: Settings, stack: AsyncExitStack) -> Redis:
    client = redis_adapter.create_redis(settings)
    stack.push_async_callback(client.aclose)
    await stack.enter_async_context(redis_adapter.memory_reporter(client))
    app.state.redis = client
    app.state.rate_limit_store = redis_adapter.RedisRateLimitStore(client)
    return client


def redis_check(client: Redis, *, critical: bool = True) -> HealthCheck:
    return HealthCheck("redis", partial(redis_adapter.ping, client), critical=critical)


def allowing_uploads(settings: Settings, multipart_overhead: int) -> Settings:
    """The role's settings with a body limit that fits one image upload: uploads are larger
    than the app-wide limit, which every other route keeps."""
    upload_limit = settings.thumbnail_max_upload_bytes + multipart_overhead
    return settings.model_copy(
        update={"max_body_bytes": max(settings.max_body_bytes, upload_limit)}
    )


def broker_check(broker: Broker, *, critical: bool = True) -> HealthCheck:
    from roost.infra import queue

    async def ping() -> None:
        await asyncio.to_thread(queue.ping, broker)

    return HealthCheck("broker", ping, critical=critical)


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
        checks = thumbnail_checks(adapters, broker)
        maintenance_flag = None
        if settings.redis_url is not None:  # rate limits and the maintenance flag
            client = await open_redis(app, settings, stack)
            checks.append(redis_check(client))
            maintenance_flag = partial(redis_adapter.read_maintenance_flag, client)
        return RoleRuntime(checks=checks, maintenance_flag=maintenance_flag)

    return create_app(
        role="thumbnails", settings=settings, routers=[api.router, api.admin], setup=setup
    )


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
        maintenance_flag = None
        if settings.redis_url is not None:  # rate limits (fail open) and the maintenance flag
            client = await open_redis(app, settings, stack)
            checks.append(redis_check(client, critical=False))
            maintenance_flag = partial(redis_adapter.read_maintenance_flag, client)
        app.state.optimizer = OptimizerDeps(
            db.session_factory(engine),
            config,
            enqueue,
            asyncio.Semaphore(settings.optimizer_max_concurrent),
        )
        return RoleRuntime(checks=checks, maintenance_flag=maintenance_flag)

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
        maintenance_flag = None
        if settings.redis_url is not None:  # rate limits and the maintenance flag
            redis = await open_redis(app, settings, stack)
            checks.append(redis_check(redis, critical=False))
            maintenance_flag = partial(redis_adapter.read_maintenance_flag, redis)
        return RoleRuntime(checks=checks, maintenance_flag=maintenance_flag)

    return create_app(role="birds", settings=settings, routers=[api.router], setup=setup)


def peer_url(role: str) -> str:
    """Another role on this host at its default port (``roost up`` passes explicit URLs)."""
    return f"http://127.0.0.1:{ROLE_PORTS[role]}"


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
        store = cache = provider = maintenance_flag = None
        if settings.storage_url is not None:  # operator photos under <storage>/birds/
            store = open_store(
                child_url(settings.storage_url, "birds"), s3_endpoint_url=settings.s3_endpoint_url
            )
            ping = partial(asyncio.to_thread, store.ping)
            checks.append(HealthCheck("storage", ping, critical=False))
        if settings.redis_url is not None:  # the answer cache and the maintenance flag
            redis = await open_redis(app, settings, stack)
            cache = ImageCache(redis, settings.bird_image_cache_seconds)
            checks.append(redis_check(redis, critical=False))
            maintenance_flag = partial(redis_adapter.read_maintenance_flag, redis)
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
        return RoleRuntime(checks=checks, maintenance_flag=maintenance_flag)

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


def console_peers(settings: Settings) -> dict[str, str]:
    """The URL of every role the console watches and calls (unset: this host's default)."""
    from roost.core.settings import CONSOLE_PEER_URL_SETTINGS

    return {
        role: getattr(settings, field) or peer_url(role)
        for role, field in CONSOLE_PEER_URL_SETTINGS.items()
    }


def build_console(settings: Settings) -> FastAPI:
    from roost.console import api
    from roost.console.sampler import Sampler
    from roost.console.session import OneTimeTokens, Operator, SessionSigner
    from roost.core.auth import ADMIN_SCOPE, issue_token
    from roost.core.middleware import PAGE_CSP
    from roost.core.upstream import CircuitBreaker, UpstreamClient

    settings = allowing_uploads(settings, api.MULTIPART_OVERHEAD_BYTES)  # uploads pass through
    peers = console_peers(settings)

    async def setup(app: FastAPI, settings: Settings, stack: AsyncExitStack) -> RoleRuntime:
        sampler = Sampler(
            peers,
            every_seconds=settings.console_sample_seconds,
            keep_seconds=settings.console_history_seconds,
        )
        await stack.enter_async_context(sampler.running())
        clients: dict[str, UpstreamClient] = {}
        for role, url in peers.items():
            # One attempt per action (the operator retries), and a breaker that lets a role
            # that came back be used again within seconds.
            breaker = CircuitBreaker(f"console-{role}", failure_threshold=5, reset_seconds=5)
            budget = settings.console_action_timeout_seconds
            clients[role] = UpstreamClient(
                f"console-{role}", url, budget_seconds=budget, retries=0, breaker=breaker
            )
            stack.push_async_callback(clients[role].aclose)
        checks: list[HealthCheck] = []
        read_flag, write_flag = _no_maintenance_store, _no_maintenance_store
        if settings.redis_url is not None:  # the maintenance flag every role polls
            redis = await open_redis(app, settings, stack)
            checks.append(redis_check(redis, critical=False))
            read_flag = partial(redis_adapter.read_maintenance_flag, redis)
            write_flag = partial(redis_adapter.write_maintenance_flag, redis)

        def credential_for(operator: Operator) -> str:
            """A short-lived token naming the operator: the roles see (and log) who acted."""
            return issue_token(settings, operator.subject, [ADMIN_SCOPE], ttl_seconds=300)

        app.state.console = api.ConsoleDeps(
            sampler=sampler,
            clients=clients,
            signer=SessionSigner(
                settings.jwt_secret.get_secret_value(),
                settings.jwt_issuer,
                settings.console_session_seconds,
            ),
            login_links=OneTimeTokens(),
            credential_for=credential_for,
            read_maintenance=read_flag,
            write_maintenance=write_flag,
            secure_cookie=settings.behind_tls,
            links={"frontend": settings.console_frontend_link or peers["frontend"]},
        )
        # No maintenance flag of its own: the console stays up to turn maintenance off.
        return RoleRuntime(checks=checks)

    return create_app(
        role="console",
        settings=settings,
        routers=[api.router],
        setup=setup,
        csp=PAGE_CSP,
        title="Roost operator console",
    )


async def _no_maintenance_store(*_: object) -> Any:
    from roost.core.errors import DependencyUnavailable

    raise DependencyUnavailable("redis")


# Run after migrations by `roost up` and `roost migrate`, in order; each must be idempotent.
SEED_HOOKS: list[Callable[[Settings, str], None]] = [seed_optimizer_demo, seed_birds]


def prepare_database(settings: Settings, database_url: str) -> None:
    """Apply pending migrations, then every seed hook (idempotent; demo data only outside
    production). What `roost migrate` does, and `roost up` before starting the roles."""
    from roost.infra import migrate

    migrate.upgrade(database_url)
    for seed in SEED_HOOKS:
        seed(settings, database_url)


# `roost up` starts the roles in this order and lists them so: the console first.
ROLE_BUILDERS: dict[str, Callable[[Settings], FastAPI]] = {
    "console": build_console,
    "kv": build_kv,
    "thumbnails": build_thumbnails,
    "optimizer": build_optimizer,
    "birds": build_birds,
    "bird-images": build_bird_images,
    "frontend": build_frontend,
}


def api_roles() -> list[str]:
    return list(ROLE_BUILDERS)


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


# --- what operator commands (`roost maintenance`, `roost dlq`, `roost thumbnails ingest`) open


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
