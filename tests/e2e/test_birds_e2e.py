"""The three bird roles as real processes on real Postgres and Redis: page -> frontend proxy ->
birds API -> bird image service. Then the image service is killed: the birds keep coming, with
placeholders and ``image_status: unavailable``, and get their pictures back once it returns.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import make_url

from roost.infra.embedded import free_port, wait_for_port

pytestmark = pytest.mark.e2e

ROOST = [sys.executable, "-m", "roost"]


@dataclass
class Role:
    name: str
    port: int
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [*ROOST, "serve", self.name, "--port", str(self.port)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env,
            )
        wait_for_port("127.0.0.1", self.port, 30)
        deadline = time.monotonic() + 30
        while httpx.get(f"{self.url}/readyz", timeout=2).status_code != 200:
            assert time.monotonic() < deadline, self.log.read_text()[-3000:]
            time.sleep(0.1)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()


@pytest.fixture(scope="module")
def birds_database(postgres_url: str) -> Iterator[str]:
    import asyncpg

    name = f"roost_birds_e2e_{uuid.uuid4().hex[:8]}"
    server = make_url(postgres_url)
    admin = server.set(drivername="postgresql", database="postgres").render_as_string(
        hide_password=False
    )

    async def execute(sql: str) -> None:
        connection = await asyncpg.connect(admin)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    asyncio.run(execute(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="module")
def roles(
    birds_database: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Role]]:
    tmp = tmp_path_factory.mktemp("birds-e2e")
    ports = {name: free_port() for name in ("bird-images", "birds", "frontend")}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ROOST_", "PROMETHEUS"))}
    env.update(
        ROOST_DATABASE_URL=birds_database,
        ROOST_REDIS_URL=redis_url,
        ROOST_STORAGE_URL=(tmp / "objects").as_uri(),
        ROOST_DATA_DIR=str(tmp),
        ROOST_BIRD_IMAGES_URL=f"http://127.0.0.1:{ports['bird-images']}",
        ROOST_BIRDS_API_URL=f"http://127.0.0.1:{ports['birds']}",
        # Recovery within the test: the birds API tries the image service again after 1 s.
        ROOST_BIRD_IMAGE_BREAKER_RESET_SECONDS="1",
        ROOST_ACCESS_LOG="false",
    )
    migrated = subprocess.run(
        [*ROOST, "migrate"], env=env, capture_output=True, timeout=120, check=False
    )
    assert migrated.returncode == 0, migrated.stderr.decode()[-3000:]
    running = {name: Role(name, port, env, tmp / f"{name}.log") for name, port in ports.items()}
    try:
        for role in running.values():  # in order: each one's readiness checks the previous
            role.start()
        yield running
    finally:
        for role in reversed(running.values()):
            role.stop()


def random_bird(client: httpx.Client, frontend: str) -> dict[str, Any]:
    started = time.perf_counter()
    response = client.get(f"{frontend}/api/v1/birds/random")
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.text
    assert elapsed < 2.0
    bird: dict[str, Any] = response.json()
    return bird


def test_page_reaches_a_bird_and_its_picture_through_the_chain(roles: dict[str, Role]) -> None:
    frontend = roles["frontend"].url
    with httpx.Client(timeout=5) as client:
        page = client.get(frontend)
        bird = random_bird(client, frontend)
        picture = client.get(frontend + bird["image"]["url"])
        image_answer = client.get(f"{roles['bird-images'].url}/api/v1/images/{bird['slug']}")
    assert page.status_code == 200
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert bird["image_status"] == "ok"
    assert bird["image"]["source"] == "stored"
    assert bird["image"]["url"] == image_answer.json()["url"]
    assert picture.status_code == 200
    assert picture.headers["content-type"] == "image/jpeg"
    assert picture.content.startswith(b"\xff\xd8\xff")


def test_birds_keep_coming_while_the_image_service_is_down_and_recover(
    roles: dict[str, Role],
) -> None:
    frontend, images = roles["frontend"].url, roles["bird-images"]
    images.kill()
    with httpx.Client(timeout=5) as client:
        degraded = [random_bird(client, frontend) for _ in range(5)]
        placeholder = client.get(frontend + degraded[-1]["image"]["url"])
        birds_health = client.get(f"{roles['birds'].url}/health").json()

        images.start()
        deadline = time.monotonic() + 15
        recovered = random_bird(client, frontend)
        while recovered["image_status"] != "ok" and time.monotonic() < deadline:
            time.sleep(0.3)
            recovered = random_bird(client, frontend)

    for bird in degraded:
        assert bird["image_status"] == "unavailable"
        assert bird["image"]["source"] == "placeholder"
    assert placeholder.status_code == 200
    assert placeholder.headers["content-type"].startswith("image/svg+xml")
    assert birds_health["status"] == "degraded"
    assert recovered["image_status"] == "ok"
    assert recovered["image"]["source"] == "stored"
