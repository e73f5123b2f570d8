"""Shared fixtures: the machine's real Postgres, Redis and RabbitMQ.

Locally a missing service skips the tests that need it; in CI (``CI=true``) it fails them,
because a green run that tested nothing is worse than a red one.
"""

from __future__ import annotations

import os
import re
import socket
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.prerequisites import missing

REPO_ROOT = Path(__file__).resolve().parents[1]
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
POSTGRES_URL = os.environ.get(
    "ROOST_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
RABBITMQ_URL = os.environ.get("ROOST_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")


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
    require_service("Redis", REDIS_HOST, REDIS_PORT)
    return f"redis://{REDIS_HOST}:{REDIS_PORT}/9"


@pytest.fixture(scope="session")
def postgres_url() -> str:
    require_service("PostgreSQL", "127.0.0.1", 5432)
    return POSTGRES_URL


@pytest.fixture(scope="session")
def rabbitmq_url() -> str:
    require_service("RabbitMQ", "127.0.0.1", 5672)
    return RABBITMQ_URL


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """A real HTTP S3/SQS endpoint on a free port (moto in server mode), for the session."""
    from moto.server import ThreadedMotoServer

    from roost.infra.embedded import free_port

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


@pytest.fixture
def unique() -> str:
    """A short unique token to keep tests' keys and names apart."""
    return uuid.uuid4().hex[:10]


@pytest.fixture
def artifacts_dir() -> Iterator[Path]:
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
def serve_asgi():
    """``async with serve_asgi(app) as client``: run the app's lifespan, talk to it in-process."""
    from contextlib import asynccontextmanager

    import httpx

    @asynccontextmanager
    async def running(app):  # type: ignore[no-untyped-def]
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
                base_url="http://testserver",
            ) as client,
        ):
            client.app = app  # the tests reach settings and state through it
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

        from roost.infra.embedded import free_port

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
