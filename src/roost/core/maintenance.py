"""Maintenance mode: a flag in a shared store, polled by every replica.

Each process keeps the last value it read in memory, so the per-request check is one attribute
read; a background task refreshes it every ``poll_seconds``. If the store cannot be read, the
last known state stands (a Redis blip must not flip every replica into or out of maintenance).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager

import structlog
from starlette.types import ASGIApp, Receive, Scope, Send

from roost.core.background import periodically
from roost.core.errors import error_response
from roost.core.metrics import MAINTENANCE_MODE

log = structlog.get_logger("roost.maintenance")

FlagReader = Callable[[], Awaitable[bool]]
EXEMPT_PATHS = frozenset({"/healthz", "/readyz", "/health", "/metrics"})
RETRY_AFTER_SECONDS = 60


class MaintenanceSwitch:
    def __init__(self, read_flag: FlagReader, *, poll_seconds: float) -> None:
        self._read_flag = read_flag
        self._poll_seconds = poll_seconds
        self.enabled = False

    async def refresh(self) -> None:
        try:
            enabled = await self._read_flag()
        except Exception as exc:
            log.warning("maintenance_flag_unreadable", error=type(exc).__name__)
            return
        if enabled != self.enabled:
            log.info("maintenance_mode_changed", enabled=enabled)
        self.enabled = enabled
        MAINTENANCE_MODE.set(1 if enabled else 0)

    def polling(self) -> AbstractAsyncContextManager[None]:
        """Refresh now, then every ``poll_seconds`` while the block runs."""
        return periodically(self.refresh, self._poll_seconds, "maintenance-poll")


class MaintenanceGate:
    """503 + Retry-After for every route but health and metrics while the switch is on."""

    def __init__(self, app: ASGIApp, *, switch: Callable[[], MaintenanceSwitch | None]) -> None:
        self.app = app
        self.switch = switch

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        switch = self.switch()
        if (
            scope["type"] == "http"
            and switch is not None
            and switch.enabled
            and scope["path"] not in EXEMPT_PATHS
        ):
            response = error_response(
                503,
                "maintenance",
                "the service is down for maintenance, try again later",
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
