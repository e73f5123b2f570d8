"""Fill the catalog with the species of :mod:`roost.birds.catalog_data` (idempotent).

Run after migrations by ``roost up`` and ``roost migrate`` (a seed hook), or by hand with
``roost birds seed``. Only missing slugs are inserted; see :func:`service.seed_catalog`.
"""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from roost.birds.catalog_data import BIRD_SEEDS
from roost.birds.service import seed_catalog
from roost.infra.db import async_url, session_factory


async def seed_birds(database_url: str) -> int:
    """How many seed species were missing and have been added."""
    engine = create_async_engine(async_url(database_url), poolclass=NullPool)
    try:
        return await seed_catalog(session_factory(engine), BIRD_SEEDS)
    finally:
        await engine.dispose()


def seed_birds_blocking(database_url: str) -> int:
    return asyncio.run(seed_birds(database_url))
