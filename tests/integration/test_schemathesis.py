"""``schemathesis run --checks all`` against every role: the OpenAPI schema and the server agree.

Each role runs under the production server configuration on loopback (in a thread of this
process, tests/support/served.py) on a fresh
database, with an admin API key so the write routes are exercised too; the schemathesis CLI
fuzzes it from its own ``/openapi.json`` with a bounded number of examples per operation.
Finding anything fails the test, with schemathesis' report (and a curl line per failure).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.support.parallel import free_port
from tests.support.served import ServedRole, prepared_database

from roost.core.settings import CONSOLE_PEER_URL_SETTINGS, Settings, load_settings
from roost.roles import build_app

ADMIN_KEY = "schemathesis-admin-key-0123456789"
CONFIG_FILE = Path(__file__).with_name("schemathesis.toml")
# Bounded so that all roles together stay around a minute on a 2-core machine.
MAX_EXAMPLES = int(os.environ.get("ROOST_SCHEMATHESIS_EXAMPLES", "10"))
SEED = os.environ.get("ROOST_SCHEMATHESIS_SEED", "20261203")
RUN_TIMEOUT_SECONDS = 240


@pytest.fixture(scope="module")
def database(fresh_database_url: Callable[[str], str]) -> str:
    return prepared_database(fresh_database_url, "roost_fuzz")


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
) -> Iterator[tuple[str, ServedRole]]:
    role: str = request.param
    if role == "birds":  # photo uploads go through a real thumbnails role
        with ServedRole(build_app("thumbnails", role_settings())) as thumbnails:
            birds_app = build_app(role, role_settings(thumbnails_url=thumbnails.url))
            with ServedRole(birds_app) as server:
                yield role, server
        return
    if role != "frontend":
        with ServedRole(build_app(role, role_settings())) as server:
            yield role, server
        return
    # The frontend is a proxy: with its peers down every proxied answer would be a 503.
    images = ServedRole(build_app("bird-images", role_settings()))
    with (
        images,
        ServedRole(build_app("birds", role_settings(bird_images_url=images.url))) as birds,
    ):
        peers = {"bird_images_url": images.url, "birds_api_url": birds.url}
        with ServedRole(build_app(role, role_settings(**peers))) as server:
            yield role, server


def test_schemathesis_finds_nothing(
    served_role: tuple[str, ServedRole], artifacts_dir: Path, tmp_path: Path
) -> None:
    role, server = served_role
    result = run_schemathesis(server.url, artifacts_dir, role, tmp_path)
    summary = result.stdout[-6000:]
    print(summary)
    assert result.returncode == 0, f"schemathesis found problems on {role}:\n{summary}"
    assert "Tested:" in result.stdout, "schemathesis tested no operation"
