"""Shared fixtures: the machine's real Postgres, Redis and RabbitMQ, and what every suite
builds on them.

Locally a missing service skips the tests that need it; in CI (``CI=true``, ``1`` or ``yes``) it
fails them, because a green run that tested nothing is worse than a red one. Where a service
lives comes from its test URL (``ROOST_TEST_*_URL``), and the probe reads host and port from it.

A suite (a directory's conftest.py) gets ``make_settings``, ``token_for`` and ``admin_headers``
by defining one fixture, ``settings_defaults``: what its tests' settings hold unless a test
overrides it. Its fresh database comes from ``migrated_database``, and what its tests leave in
the shared brokers goes with ``forget_broker_state``.
"""

from __future__ import annotations

import os
import re
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest
from tests.prerequisites import missing
from tests.support.parallel import redis_db

if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager

    import httpx

    from roost.core.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[1]
# The Redis server; tests pick their database index on it (redis_url: /9).
REDIS_URL = os.environ.get("ROOST_TEST_REDIS_URL", "redis://127.0.0.1:6379")
POSTGRES_URL = os.environ.get(
    "ROOST_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
RABBITMQ_URL = os.environ.get("ROOST_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
DEFAULT_PORTS = {"redis": 6379, "postgresql": 5432, "amqp": 5672}
# What every suite's settings hold unless it says otherwise.
BASE_TEST_SETTINGS: dict[str, Any] = {"environment": "test", "log_level": "WARNING"}


def endpoint(url: str) -> tuple[str, int]:
    """The host and port a service URL points at (the scheme's default port if it names none)."""
    parts = urlsplit(url)
    scheme = parts.scheme.split("+")[0]
    return parts.hostname or "127.0.0.1", parts.port or DEFAULT_PORTS[scheme]


REDIS_HOST, REDIS_PORT = endpoint(REDIS_URL)


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def require_service(name: str, host: str, port: int) -> None:
    if port_open(host, port):
        return
    missing(f"{name} is not reachable on {host}:{port}")


# The directory says what a test needs; the marker follows from it (`pytest -m "not e2e"`).
MARKERS_BY_DIRECTORY = {"integration": "integration", "contract": "integration", "e2e": "e2e",
                        "image": "e2e"}  # fmt: skip


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    tests_dir = Path(__file__).parent
    for item in items:
        relative = item.path.relative_to(tests_dir) if item.path.is_relative_to(tests_dir) else None
        if relative is not None and (marker := MARKERS_BY_DIRECTORY.get(relative.parts[0])):
            item.add_marker(marker)


@pytest.fixture(scope="session")
def redis_url() -> str:
    require_service("Redis", *endpoint(REDIS_URL))
    # Each xdist worker flushes a database of its own (9 serially and on gw0).
    return urlsplit(REDIS_URL)._replace(path=f"/{redis_db(9)}").geturl()


@pytest.fixture(scope="session")
def postgres_url() -> str:
    require_service("PostgreSQL", *endpoint(POSTGRES_URL))
    return POSTGRES_URL


@pytest.fixture(scope="session")
def rabbitmq_url() -> str:
    require_service("RabbitMQ", *endpoint(RABBITMQ_URL))
    return RABBITMQ_URL


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """A real HTTP S3/SQS endpoint on a free port (moto in server mode), for the session."""
    from moto.server import ThreadedMotoServer
    from tests.support.parallel import free_port

    for variable, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        os.environ.setdefault(variable, value)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture(scope="session")
def fresh_database_url(postgres_url: str) -> Iterator[Callable[[str], str]]:
    """``fresh_database_url(prefix)``: the URL of a new, empty Postgres database.

    Every database it made is dropped (``WITH (FORCE)``) at the end of the session, so a suite
    can migrate and seed its own without meeting another suite's rows.
    """
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    import asyncpg
    from sqlalchemy.engine import make_url

    server = make_url(postgres_url)
    admin = server.set(drivername="postgresql", database="postgres").render_as_string(
        hide_password=False
    )
    created: list[str] = []

    async def run(sql: str) -> None:
        connection = await asyncpg.connect(admin)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    def execute(sql: str) -> None:
        # A thread of its own: a caller may already run an event loop (Playwright's sync API).
        with ThreadPoolExecutor(max_workers=1) as pool:
            pool.submit(asyncio.run, run(sql)).result()

    def create(prefix: str = "roost_test") -> str:
        # Spliced into SQL below: lowercase letters, digits and underscores only.
        assert re.fullmatch(r"[a-z][a-z0-9_]{0,40}", prefix), prefix
        name = f"{prefix}_{uuid.uuid4().hex[:8]}"
        execute(f'CREATE DATABASE "{name}"')
        created.append(name)
        return server.set(database=name).render_as_string(hide_password=False)

    yield create
    for name in created:
        execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def migrated_database(fresh_database_url: Callable[[str], str]) -> Callable[..., str]:
    """``migrated_database(prefix, branch=None)``: a fresh database migrated to ``branch@head``
    (every branch when ``branch`` is None), dropped at the end of the session."""
    from roost.infra import migrate

    def create(prefix: str, branch: str | None = None) -> str:
        url = fresh_database_url(prefix)
        if branch is None:
            migrate.upgrade(url)
        else:
            migrate.upgrade(url, f"{branch}@head")
        return url

    return create


@pytest.fixture
def settings_defaults() -> dict[str, Any]:
    """A suite's settings for its tests; its conftest.py overrides this fixture."""
    return {}


@pytest.fixture
def make_settings(settings_defaults: dict[str, Any]) -> Callable[..., Settings]:
    """``make_settings(**overrides)``: the suite's settings for one test."""
    from roost.core.settings import load_settings

    def build(**overrides: Any) -> Settings:
        return load_settings(**{**BASE_TEST_SETTINGS, **settings_defaults, **overrides})

    return build


@pytest.fixture
def token_for(make_settings: Callable[..., Settings]) -> Callable[..., dict[str, str]]:
    """``token_for(*scopes, subject=…)``: headers with a JWT the suite's settings accept."""
    from roost.core.auth import issue_token

    def headers(*scopes: str, subject: str = "tester") -> dict[str, str]:
        return {"Authorization": f"Bearer {issue_token(make_settings(), subject, scopes)}"}

    return headers


@pytest.fixture
def admin_headers(token_for: Callable[..., dict[str, str]]) -> dict[str, str]:
    return token_for("admin", subject="ops")


def forget_broker_state(settings: Settings, queues: Iterable[str]) -> None:
    """Remove what a test left in the shared Redis or RabbitMQ: every key under its broker
    namespace, or ``queues`` with their delay and dead-letter queues. Name only queues the test
    made its own: RabbitMQ has no namespace, and a default name may be in use elsewhere."""
    assert settings.broker_url is not None
    if settings.broker_url.startswith("redis"):
        import redis

        client = redis.Redis.from_url(settings.broker_url)
        keys = list(client.scan_iter(f"{settings.broker_namespace}:*"))
        if keys:
            client.delete(*keys)
        client.close()
    elif settings.broker_url.startswith("amqp"):
        import pika

        connection = pika.BlockingConnection(pika.URLParameters(settings.broker_url))
        channel = connection.channel()
        for name in queues:
            for suffix in ("", ".DQ", ".XQ"):
                channel.queue_delete(name + suffix)  # RabbitMQ: a missing queue is no error
        connection.close()


@pytest.fixture
def unique() -> str:
    """A short unique token to keep tests' keys and names apart."""
    return uuid.uuid4().hex[:10]


@pytest.fixture
def artifacts_dir() -> Path:
    path = REPO_ROOT / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture
async def flushed_redis(redis_url: str) -> str:
    from redis.asyncio import Redis

    client = Redis.from_url(redis_url)
    await client.flushdb()
    await client.aclose()
    return redis_url


@pytest.fixture
def serve_asgi() -> Callable[[Any], AbstractAsyncContextManager[httpx.AsyncClient]]:
    """``async with serve_asgi(app) as client``: run the app's lifespan, talk to it in-process."""
    from contextlib import asynccontextmanager

    import httpx

    @asynccontextmanager
    async def running(app: Any) -> AsyncIterator[httpx.AsyncClient]:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
                base_url="http://testserver",
            ) as client,
        ):
            client.app = app  # type: ignore[attr-defined]  # tests reach settings and state by it
            yield client

    return running


class ControllableUpstream:
    """A real HTTP server on loopback whose behaviour a test can change between calls."""

    def __init__(self) -> None:
        import threading

        import uvicorn
        from starlette.applications import Starlette
        from starlette.requests import Request
        from starlette.responses import JSONResponse
        from starlette.routing import Route
        from tests.support.parallel import free_port

        self.delay = 0.0
        self.status = 200
        self.body: object = {"ok": True}
        self.calls = 0
        self.request_ids: list[str | None] = []
        self.bodies: list[bytes] = []
        self.targets: list[str] = []  # path and query of each request
        self.headers: list[dict[str, str]] = []  # the headers of each request

        async def handler(request: Request) -> JSONResponse:
            import asyncio

            self.calls += 1
            self.request_ids.append(request.headers.get("x-request-id"))
            query = request.url.query
            self.targets.append(request.url.path + (f"?{query}" if query else ""))
            self.headers.append(dict(request.headers))
            self.bodies.append(await request.body())
            if self.delay:
                await asyncio.sleep(self.delay)
            return JSONResponse(self.body, status_code=self.status)

        app = Starlette(routes=[Route("/{path:path}", handler, methods=["GET", "POST", "PUT"])])
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def start(self) -> ControllableUpstream:
        from roost.infra.embedded import wait_for_port

        self._thread.start()
        wait_for_port("127.0.0.1", self.port, 10)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(5)


@pytest.fixture
def upstream() -> Iterator[ControllableUpstream]:
    server = ControllableUpstream().start()
    yield server
    server.stop()
