"""The real image, built by ``scripts/build-image.sh`` and run on podman, one container per role.

Every container runs the way Kubernetes runs it: read-only root filesystem, a tmpfs for /tmp
and the data directory, the image's own user, on the machine's Postgres, Redis and RabbitMQ
(host network, loopback only). Containers are named ``roost-test-<token>-<role>`` and removed
at the end of the session, whatever happened.
"""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.conftest import RABBITMQ_URL, REDIS_HOST, REDIS_PORT
from tests.image.containers import (
    BUILD_SCRIPT,
    BUILD_TIMEOUT_SECONDS,
    IMAGE,
    IMAGE_UID,
    REDIS_DATABASE,
    Container,
    podman,
    run_once,
)
from tests.prerequisites import missing, require_executable
from tests.support.parallel import free_port

from roost.core.settings import ROLE_PORTS, Settings

# What the image tests report at the end of the run (its size and where it goes), so the size
# shows in every `make test` log, not only under `pytest -s`.
IMAGE_REPORT = pytest.StashKey[list[str]]()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    lines = terminalreporter.config.stash.get(IMAGE_REPORT, [])
    if lines:
        terminalreporter.section("image")
        for line in lines:
            terminalreporter.write_line(line)


@pytest.fixture
def image_report(request: pytest.FixtureRequest) -> list[str]:
    """Lines for the run's "image" summary section."""
    return request.config.stash.setdefault(IMAGE_REPORT, [])


@pytest.fixture(scope="session")
def roost_image() -> str:
    """The image, built (or found current) by the same script ``make image`` runs."""
    for tool, package in (("podman", "podman"), ("buildah", "buildah"), ("runc", "runc")):
        require_executable(tool, f"Debian package {package}; make system-deps")
    require_executable("debootstrap", "Debian package debootstrap; make system-deps")
    if os.geteuid() != 0:
        missing("building the base image needs root (debootstrap, rootful podman)")
    started = time.monotonic()
    done = subprocess.run(
        [str(BUILD_SCRIPT)], capture_output=True, text=True, timeout=BUILD_TIMEOUT_SECONDS
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    print(f"image {IMAGE} built in {time.monotonic() - started:.0f} s")
    return IMAGE


@pytest.fixture(scope="session")
def image_token() -> str:
    return uuid.uuid4().hex[:8]


@pytest.fixture(scope="session")
def role_ports() -> dict[str, int]:
    """Every role on a free port of its own: the host network is shared with other suites."""
    return {role: free_port() for role in ROLE_PORTS}


@pytest.fixture(scope="session")
def image_env(
    roost_image: str,
    fresh_database_url: Callable[[str], str],
    redis_url: str,
    rabbitmq_url: str,
    role_ports: dict[str, int],
    image_token: str,
) -> dict[str, str]:
    """The environment every container gets, on a database ``roost migrate`` (run from the
    image) has just created."""
    env = {
        # Development: production mode needs secrets that smoke (without credentials) can't use.
        "ROOST_ENVIRONMENT": "development",
        "ROOST_DATABASE_URL": fresh_database_url("roost_image"),
        "ROOST_REDIS_URL": f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DATABASE}",
        "ROOST_BROKER_URL": RABBITMQ_URL,
        # Queues of this session only: other suites' workers share the broker.
        "ROOST_THUMBNAILS_QUEUE": f"thumbnails-image-{image_token}",
        "ROOST_OPTIMIZER_QUEUE": f"optimizer-image-{image_token}",
        "ROOST_STORAGE_URL": "file:///var/lib/roost/objects",
        "ROOST_ACCESS_LOG": "false",
    }
    env.update(peer_urls(role_ports))
    run_once(env, "migrate", timeout=180)
    return env


def peer_urls(role_ports: dict[str, int]) -> dict[str, str]:
    """Where each role finds its peers: every ``<role>_url`` setting there is (the birds API's
    is ``birds_api_url``)."""
    fields = Settings.model_fields
    urls: dict[str, str] = {}
    for role, port in role_ports.items():
        for name in (f"{role.replace('-', '_')}_url", f"{role.replace('-', '_')}_api_url"):
            if name in fields:
                urls[f"ROOST_{name.upper()}"] = f"http://127.0.0.1:{port}"
    return urls


@pytest.fixture(scope="session")
def objects_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The object store the thumbnails API and the worker share (a volume in production)."""
    path = tmp_path_factory.mktemp("image-objects")
    os.chown(path, IMAGE_UID, IMAGE_UID)
    return path


@pytest.fixture(scope="session")
def role_containers(
    image_env: dict[str, str],
    role_ports: dict[str, int],
    image_token: str,
    objects_dir: Path,
) -> Iterator[dict[str, Container]]:
    """Every role's container, started side by side (their imports overlap) and ready."""
    containers = {
        role: Container(
            role,
            port,
            f"roost-test-{image_token}-{role}",
            image_env,
            mounts=(f"{objects_dir}:/var/lib/roost/objects",),
        )
        for role, port in role_ports.items()
    }
    try:
        for container in containers.values():
            container.start()
        for container in containers.values():
            container.wait_until_ready()
        yield containers
    finally:
        for container in containers.values():
            podman("rm", "--force", "--time", "0", container.name, check=False)


@pytest.fixture(scope="session")
def image_root(roost_image: str) -> Iterator[Path]:
    """The image's filesystem, mounted read-only on the host for inspection."""
    path = Path(podman("image", "mount", roost_image).stdout.strip())
    try:
        yield path
    finally:
        podman("image", "unmount", roost_image, check=False)
