"""Async SQLAlchemy engine and sessions for PostgreSQL (asyncpg), with bounded timeouts."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase

from roost.core.errors import DependencyUnavailable
from roost.core.settings import Settings

DATABASE_UNAVAILABLE = (OperationalError, InterfaceError, OSError, TimeoutError, ConnectionError)


class Base(DeclarativeBase):
    """Declarative base for every domain's tables (one metadata, one migration history)."""


def async_url(url: str) -> str:
    """``postgresql://…`` → ``postgresql+asyncpg://…`` (asyncpg takes ``?host=/socket/dir``)."""
    parsed = make_url(url)
    return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


def create_engine(settings: Settings, url: str | None = None) -> AsyncEngine:
    target = url or settings.database_url
    if target is None:
        raise ValueError("ROOST_DATABASE_URL is not set (roost up fills it in for embedded runs)")
    return create_async_engine(
        async_url(target),
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_pool_size,
        pool_timeout=settings.database_connect_timeout,
        pool_pre_ping=True,
        pool_recycle=1800,
        connect_args={
            "timeout": settings.database_connect_timeout,
            "command_timeout": settings.database_statement_timeout_ms / 1000 + 1,
            "server_settings": {
                "statement_timeout": str(settings.database_statement_timeout_ms),
                "application_name": "roost",
            },
        },
    )


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def ping(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


def is_unavailable(exc: BaseException) -> bool:
    if isinstance(exc, DATABASE_UNAVAILABLE):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


@contextmanager
def _outage_as_unavailable() -> Iterator[None]:
    """A Postgres outage inside the block becomes :class:`DependencyUnavailable` (a 503)."""
    try:
        yield
    except Exception as exc:
        if is_unavailable(exc):
            raise DependencyUnavailable("postgres") from exc
        raise


@asynccontextmanager
async def unit_of_work(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session in a transaction: commit on success, roll back on error, 503 on outage."""
    with _outage_as_unavailable():
        async with sessions() as session, session.begin():
            yield session


AUTOCOMMIT = {"isolation_level": "AUTOCOMMIT"}


@asynccontextmanager
async def single_statements(
    sessions: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """A session whose every statement commits on its own: one round trip each, no BEGIN and
    COMMIT around it. Only for statements that are atomic by themselves (a conditional
    ``UPDATE … RETURNING``); 503 on outage. The connection's isolation level is restored when
    it goes back to the pool."""
    with _outage_as_unavailable():
        async with sessions() as session:
            await session.connection(execution_options=AUTOCOMMIT)
            yield session
