"""The composition root: which adapters each role (and the worker, and the operator commands)
gets, wired in one place.

A domain never builds its own Redis pool or engine; it reads them from ``app.state``, set here.
Builders import their domain lazily so that ``roost serve kv`` loads nothing of the others. One
module per area (:mod:`.kv`, :mod:`.thumbnails`, :mod:`.optimizer`, :mod:`.birds`,
:mod:`.console`, :mod:`.jobs` for the worker and the commands); what they share is in
:mod:`.common`. This module lists the roles and prepares the database.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI

from roost.core.logging import configure_logging
from roost.core.settings import Settings, load_settings
from roost.core.tracing import tracing_enabled
from roost.roles.birds import build_bird_images, build_birds, build_frontend, seed_birds
from roost.roles.common import dead_letter_hooks
from roost.roles.console import build_console
from roost.roles.jobs import WorkerJobs, open_worker_jobs, operator_jobs, operator_redis
from roost.roles.kv import build_kv
from roost.roles.optimizer import (
    build_optimizer,
    optimizer_config,
    optimizer_sender,
    register_optimizer_actors,
    seed_optimizer_demo,
)
from roost.roles.thumbnails import (
    ThumbnailAdapters,
    build_thumbnails,
    open_thumbnail_adapters,
    thumbnail_checks,
)

__all__ = [
    "ROLE_BUILDERS",
    "SEED_HOOKS",
    "ThumbnailAdapters",
    "WorkerJobs",
    "api_roles",
    "app_from_env",
    "build_app",
    "build_bird_images",
    "build_birds",
    "build_console",
    "build_frontend",
    "build_kv",
    "build_optimizer",
    "build_thumbnails",
    "dead_letter_hooks",
    "open_thumbnail_adapters",
    "open_worker_jobs",
    "operator_jobs",
    "operator_redis",
    "optimizer_config",
    "optimizer_sender",
    "prepare_database",
    "register_optimizer_actors",
    "thumbnail_checks",
]

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
