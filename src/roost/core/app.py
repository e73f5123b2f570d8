"""The app factory every role is built with: shared middleware, errors, health, metrics.

A role hands in its routers and a ``setup`` coroutine. ``setup`` opens the role's resources on
an :class:`AsyncExitStack` (closed in reverse order on shutdown) and says which health checks
and which maintenance flag apply. Uvicorn stops accepting connections on SIGTERM and lets
in-flight requests finish before the lifespan closes the stack.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field

import structlog
from fastapi import APIRouter, FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response

from roost import __version__
from roost.core.auth import Authenticator
from roost.core.debug import debug_router
from roost.core.errors import install_error_handlers
from roost.core.health import HealthCheck, health_router, run_checks
from roost.core.logging import AccessLogWriter
from roost.core.maintenance import FlagReader, MaintenanceGate, MaintenanceSwitch
from roost.core.metrics import APP_INFO, render_latest
from roost.core.middleware import (
    JSON_API_CSP,
    QUIET_PATHS,
    BodySizeLimit,
    RequestPipeline,
    security_headers,
)
from roost.core.openapi import document_errors
from roost.core.settings import Settings
from roost.core.tracing import setup_tracing, tracing_enabled

log = structlog.get_logger("roost.app")


@dataclass
class RoleRuntime:
    """What a role's setup reports back to the core."""

    checks: list[HealthCheck] = field(default_factory=list)
    maintenance_flag: FlagReader | None = None


RoleSetup = Callable[[FastAPI, Settings, AsyncExitStack], Awaitable[RoleRuntime]]


async def _no_setup(_: FastAPI, __: Settings, ___: AsyncExitStack) -> RoleRuntime:
    return RoleRuntime()


def mount_routes(app: FastAPI, router: APIRouter) -> None:
    """Add a router's routes to the app directly (their paths already carry the prefix)."""
    app.router.routes.extend(router.routes)


def create_app(
    *,
    role: str,
    settings: Settings,
    routers: Sequence[APIRouter] = (),
    setup: RoleSetup = _no_setup,
    csp: str = JSON_API_CSP,
    title: str | None = None,
) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        APP_INFO.labels(__version__, role).set(1)
        async with AsyncExitStack() as stack:
            await stack.enter_async_context(access_log.flush_periodically())
            if stop_tracing is not None:
                stack.callback(stop_tracing)
            runtime = await setup(app, settings, stack)
            app.state.checks = runtime.checks
            if runtime.maintenance_flag is not None:
                switch = MaintenanceSwitch(
                    runtime.maintenance_flag, poll_seconds=settings.maintenance_poll_seconds
                )
                await stack.enter_async_context(switch.polling())
                app.state.maintenance = switch
            # Everything built so far lives as long as the process: move it out of the
            # collector's sight so full collections stay short (fewer latency spikes).
            gc.collect()
            gc.freeze()
            results = await run_checks(runtime.checks, settings.readiness_timeout)
            log.info(
                "started",
                role=role,
                version=__version__,
                dependencies={r.name: "ok" if r.ok else r.error for r in results},
            )
            yield
            log.info("stopping", role=role)

    tracing = tracing_enabled(settings)
    stop_tracing = setup_tracing(settings, role) if tracing else None
    access_log = AccessLogWriter(
        enabled=settings.access_log and settings.log_level in ("DEBUG", "INFO"), tracing=tracing
    )
    app = FastAPI(
        # FastAPI's native OpenTelemetry costs per request even with no-op providers: on only
        # when spans have somewhere to go. Metrics and logs are ours (Prometheus, structlog).
        telemetry={
            "tracing": tracing,
            "operation_spans": tracing,
            "metrics": False,
            "logs": False,
            "exclude": lambda scope: scope.get("path") in QUIET_PATHS,
        },
        title=title or f"Roost {role}",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        debug=False,
    )
    app.state.settings = settings
    app.state.authenticator = Authenticator(settings)
    app.state.role = role
    app.state.checks = []
    app.state.maintenance = None
    install_error_handlers(app)
    document_errors(app)

    # Routes match in registration order: the role's own (hot) routes go first. They are
    # added as plain routes: FastAPI 0.16x's include_router keeps a lazily-resolved router
    # layer that cost ~80 µs per request in the kv profile (see docs/architecture.md).
    for router in routers:
        mount_routes(app, router)
    mount_routes(
        app,
        health_router(
            lambda: app.state.checks,
            version=__version__,
            role=role,
            timeout=settings.readiness_timeout,
        ),
    )

    if settings.debug:
        mount_routes(app, debug_router())

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        payload, content_type = render_latest()
        return Response(payload, media_type=content_type)

    # add_middleware puts each new layer outside the previous ones: this list is innermost first.
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-API-Key", "X-Request-ID"],
            expose_headers=["X-Request-ID", "ETag", "Retry-After"],
        )
    app.add_middleware(MaintenanceGate, switch=lambda: app.state.maintenance)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(
        RequestPipeline,
        extra_headers=security_headers(csp=csp, hsts=settings.behind_tls),
        access_log=access_log,
    )
    return app
