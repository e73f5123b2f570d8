"""``schemathesis run --checks all`` against every role: the OpenAPI schema and the server agree.

Each role runs as a real uvicorn server on loopback (in a thread of this process) on a fresh
database, with an admin API key so the write routes are exercised too; the schemathesis CLI
fuzzes it from its own ``/openapi.json`` with a bounded number of examples per operation.
Finding anything fails the test, with schemathesis' report (and a curl line per failure).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from roost.core.settings import CONSOLE_PEER_URL_SETTINGS, Settings, load_settings
from roost.infra.embedded import free_port, wait_for_port
from roost.roles import build_app, prepare_database

ADMIN_KEY = "schemathesis-admin-key-0123456789"
CONFIG_FILE = Path(__file__).with_name("schemathesis.toml")
# Bounded so that all roles together stay around a minute on a 2-core machine.
MAX_EXAMPLES = int(os.environ.get("ROOST_SCHEMATHESIS_EXAMPLES", "10"))
SEED = os.environ.get("ROOST_SCHEMATHESIS_SEED", "20261203")
RUN_TIMEOUT_SECONDS = 240


class ThreadedServer:
    """A role's app served by uvicorn on a free loopback port, lifespan included."""

    def __init__(self, app: Any) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def __enter__(self) -> ThreadedServer:
        self._thread.start()
        wait_for_port("127.0.0.1", self.port, 30)
        return self

    def __exit__(self, *_: object) -> None:
        self._server.should_exit = True
        self._thread.join(10)


@pytest.fixture(scope="module")
def database(fresh_database_url: Callable[[str], str]) -> str:
    url = fresh_database_url("roost_fuzz")
    prepare_database(load_settings(environment="test", database_url=url), url)
    return url


@pytest.fixture
def role_settings(
    database: str, redis_url: str, tmp_path: Path, unique: str
) -> Callable[..., Settings]:
    dead = f"http://127.0.0.1:{free_port()}"  # peers nobody listens on: placeholders, 503s

    def build(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "environment": "test",
            "database_url": database,
            "redis_url": redis_url,
            "broker_url": redis_url,
            "broker_namespace": f"fuzz{unique}",
            "thumbnails_queue": f"fuzz-{unique}",
            "storage_url": (tmp_path / "objects").as_uri(),
            "kv_namespace": f"fuzz{unique}:",
            "api_keys": [f"fuzzer:{ADMIN_KEY}:admin"],
            # Every peer (bird-images, thumbnails, birds, and the console's) answers nothing.
            **{field: dead for field in CONSOLE_PEER_URL_SETTINGS.values()},
            "log_level": "ERROR",
            "access_log": False,
        }
        values.update(overrides)
        return load_settings(**values)

    return build


def run_schemathesis(
    url: str, artifacts: Path, role: str, workdir: Path
) -> subprocess.CompletedProcess[str]:
    report = artifacts / f"schemathesis-{role}.txt"
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(CONFIG_FILE),
        "run",
        f"{url}/openapi.json",
        "--checks",
        "all",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        SEED,
        "--header",
        f"X-API-Key: {ADMIN_KEY}",
        "--no-color",
    ]
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_SECONDS,
        check=False,
        cwd=workdir,  # where it keeps its .schemathesis cache
    )
    report.write_text(result.stdout + result.stderr)
    return result


ROLES = ["kv", "thumbnails", "optimizer", "birds", "bird-images", "frontend", "console"]


@pytest.fixture(params=ROLES)
def served_role(
    request: pytest.FixtureRequest, role_settings: Callable[..., Settings]
) -> Iterator[tuple[str, ThreadedServer]]:
    role: str = request.param
    if role == "birds":  # photo uploads go through a real thumbnails role
        with ThreadedServer(build_app("thumbnails", role_settings())) as thumbnails:
            birds_app = build_app(role, role_settings(thumbnails_url=thumbnails.url))
            with ThreadedServer(birds_app) as server:
                yield role, server
        return
    if role != "frontend":
        with ThreadedServer(build_app(role, role_settings())) as server:
            yield role, server
        return
    # The frontend is a proxy: with its peers down every proxied answer would be a 503.
    images = ThreadedServer(build_app("bird-images", role_settings()))
    with (
        images,
        ThreadedServer(build_app("birds", role_settings(bird_images_url=images.url))) as birds,
    ):
        peers = {"bird_images_url": images.url, "birds_api_url": birds.url}
        with ThreadedServer(build_app(role, role_settings(**peers))) as server:
            yield role, server


def test_schemathesis_finds_nothing(
    served_role: tuple[str, ThreadedServer], artifacts_dir: Path, tmp_path: Path
) -> None:
    role, server = served_role
    result = run_schemathesis(server.url, artifacts_dir, role, tmp_path)
    summary = result.stdout[-6000:]
    print(summary)
    assert result.returncode == 0, f"schemathesis found problems on {role}:\n{summary}"
    assert "Tested:" in result.stdout, "schemathesis tested no operation"
