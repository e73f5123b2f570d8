"""Run Alembic migrations programmatically (``roost migrate`` and ``roost up``)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

import roost


def migrations_dir() -> Path:
    """Packaged copy in a wheel (``roost/_migrations``), else the repository's ``migrations/``."""
    package_dir = Path(roost.__file__).resolve().parent
    packaged = package_dir / "_migrations"
    if packaged.is_dir():
        return packaged
    return package_dir.parents[1] / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "heads") -> None:
    """Blocking: call from a thread or before the event loop starts."""
    command.upgrade(alembic_config(database_url), revision)
