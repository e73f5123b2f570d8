"""The demo model seeded by ``roost up``, so a fresh platform can optimise straight away.

Its ``tv`` and ``digital`` channels answer the classic request
``{"budget": {"tv": 100000, "digital": 200000}, "constraints": {"total": 300000}}``; tv is an
S-curve with carryover, so the answer is not the even split a local solver would stop at.
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from roost.infra.db import async_url, session_factory, unit_of_work
from roost.optimizer import registry
from roost.optimizer.curves import Channel

log = structlog.get_logger("roost.optimizer.demo")

DEMO_MODEL_NAME = "demo"
DEMO_DESCRIPTION = "Demo media mix: five channels with S-shaped, concave, power and capped curves"
DEMO_CHANNELS: list[dict[str, Any]] = [
    {
        "name": "tv",
        "curve": {"type": "hill", "params": {"vmax": 500_000.0, "k": 150_000.0, "slope": 1.8}},
        "adstock": 0.3,
    },
    {
        "name": "digital",
        "curve": {"type": "hill", "params": {"vmax": 350_000.0, "k": 90_000.0, "slope": 1.0}},
    },
    {"name": "search", "curve": {"type": "power", "params": {"a": 120.0, "b": 0.55}}},
    {
        "name": "social",
        "curve": {"type": "logistic", "params": {"vmax": 200_000.0, "r": 4e-5, "m": 50_000.0}},
    },
    {
        "name": "radio",
        "curve": {"type": "linear_with_cap", "params": {"slope": 0.8, "cap": 60_000.0}},
    },
]


def demo_channels() -> tuple[Channel, ...]:
    return registry.parse_channels(DEMO_CHANNELS)


async def ensure_demo_model(database_url: str) -> bool:
    """Register the demo model unless a model of that name exists; True when it was added."""
    engine = create_async_engine(async_url(database_url), poolclass=NullPool)
    try:
        async with unit_of_work(session_factory(engine)) as session:
            try:
                await registry.model_versions(session, DEMO_MODEL_NAME)
            except registry.ModelNotFound:
                pass
            else:
                return False
            await registry.register_model(
                session,
                name=DEMO_MODEL_NAME,
                description=DEMO_DESCRIPTION,
                channels=demo_channels(),
                created_by="roost-seed",
            )
            return True
    finally:
        await engine.dispose()


def seed_demo_model(database_url: str) -> None:
    """Blocking entry point for the seed hooks run after migrations."""
    if asyncio.run(ensure_demo_model(database_url)):
        log.info("demo_model_seeded", model=DEMO_MODEL_NAME)
