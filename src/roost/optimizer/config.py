"""What the optimizer is configured with and what it runs on, wired by ``roost.roles``.

The optimizer never reads the global ``Settings``: the composition root builds one
:class:`OptimizerConfig` from them (``roost.roles.optimizer_config``) and hands it down.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from roost.core.ratelimit import RateLimit


@dataclass(frozen=True)
class OptimizerConfig:
    require_auth: bool
    rate_limit: RateLimit
    async_channel_threshold: int
    max_channels: int
    max_sweep_totals: int
    default_model: str
    max_nodes: int


# Sends the job that computes one stored result (by its id) to the queue.
Enqueue = Callable[[str], Awaitable[None]]


@dataclass
class OptimizerDeps:
    """What the use cases need, wired by the composition root (``roost.roles``)."""

    sessions: async_sessionmaker[AsyncSession]
    config: OptimizerConfig
    enqueue: Enqueue | None
    # Solves in API threads at once, per process (CPU work beside the event loop).
    slots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(4))
