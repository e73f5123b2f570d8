"""The operator console: a backend-for-frontend over every role's public API."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from functools import partial

from fastapi import FastAPI

from roost.core.app import RoleRuntime, create_app
from roost.core.settings import Settings
from roost.infra import redis as redis_adapter
from roost.roles.common import (
    allowing_uploads,
    no_maintenance_store,
    open_redis_if_configured,
    peer_url,
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
        # Redis keeps the maintenance flag every role polls; the console reads and writes it.
        redis = await open_redis_if_configured(app, settings, stack, critical=False)
        read_flag = redis.maintenance_flag or no_maintenance_store
        write_flag: Callable[[bool], Awaitable[None]] = (
            partial(redis_adapter.write_maintenance_flag, redis.client)
            if redis.client is not None
            else no_maintenance_store
        )

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
        return RoleRuntime(checks=redis.checks)

    return create_app(
        role="console",
        settings=settings,
        routers=[api.router],
        setup=setup,
        csp=PAGE_CSP,
        title="Roost operator console",
    )
