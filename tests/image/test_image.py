"""The image ``make image`` builds, run the way Kubernetes runs it, for every role.

Each role's container must run as the image's non-root user, listen on every interface with no
``--host`` in its command (a CMD override must stay reachable from outside the container), pass
``podman healthcheck run`` and ``roost smoke`` (run from the image), report the version the image
is labelled with, and stop on SIGTERM with exit code 0. The image itself must ship no compiler
and no pip cache, keep its HEALTHCHECK (the OCI format would drop it), and stay under a size
ceiling.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import httpx
import psutil
import pytest
from tests.image.containers import (
    IMAGE_UID,
    STOP_TIMEOUT_SECONDS,
    Container,
    image_size_bytes,
    podman,
    run_once,
)
from tests.support.parallel import free_port

from roost.core.settings import ROLE_PORTS

# A cold first build (debootstrap, every wheel from PyPI) runs inside the first test's fixtures.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1500)]

ROLES = sorted(ROLE_PORTS)
COMPILERS = ("gcc", "cc", "c++", "g++", "clang", "x86_64-linux-gnu-gcc", "aarch64-linux-gnu-gcc")
# 588 MB today (docs/deploy.md says where it goes); the ceiling catches a toolchain or a
# second copy of the dependencies creeping back in.
MAX_IMAGE_BYTES = 640 * 1000 * 1000


def test_image_ships_no_compiler(image_root: Path) -> None:
    found = [
        str(directory / name)
        for directory in (image_root / "usr" / "bin", image_root / "usr" / "local" / "bin")
        for name in COMPILERS
        if (directory / name).exists()
    ]
    assert not found, f"compilers in the image: {found}"


def test_image_has_no_pip_cache(image_root: Path) -> None:
    caches = [
        str(path.relative_to(image_root))
        for home in (image_root / "root", image_root / "nonexistent", image_root / "tmp")
        if home.is_dir()
        for path in home.rglob("*")
        if path.is_dir() and path.name in ("pip", "http-v2", "wheels") and ".cache" in path.parts
    ]
    assert not caches, f"pip caches in the image: {caches}"


def test_image_size_stays_under_its_ceiling(
    roost_image: str, image_root: Path, image_report: list[str]
) -> None:
    size = image_size_bytes(roost_image)
    site_packages = next((image_root / "opt" / "venv" / "lib").glob("python3*/site-packages"))
    biggest = sorted(
        ((tree_bytes(path), path.name) for path in site_packages.iterdir() if path.is_dir()),
        reverse=True,
    )[:8]
    image_report.append(f"{roost_image}: {size / 1e6:.0f} MB; biggest packages:")
    image_report.extend(f"  {size_ / 1e6:6.1f} MB  site-packages/{name}" for size_, name in biggest)
    assert size < MAX_IMAGE_BYTES, f"{size / 1e6:.0f} MB"


def test_image_keeps_healthcheck_user_and_default_command(roost_image: str) -> None:
    inspected = json.loads(podman("image", "inspect", roost_image).stdout)[0]
    config = inspected["Config"]
    assert config["User"] == f"{IMAGE_UID}:{IMAGE_UID}"
    assert config["Entrypoint"] == ["roost"]
    assert config["Cmd"] == ["serve", "kv"]
    assert "ROOST_HOST=0.0.0.0" in config["Env"]
    # Docker's image format keeps it; the default OCI format would drop it without a word.
    assert inspected["Healthcheck"]["Test"][-1] == "/usr/local/bin/roost-healthcheck"


@pytest.mark.parametrize("role", ROLES)
def test_role_runs_as_the_non_root_user(role: str, role_containers: dict[str, Container]) -> None:
    process = psutil.Process(main_pid(role_containers[role]))
    assert process.uids().real == IMAGE_UID
    assert process.uids().effective == IMAGE_UID


@pytest.mark.parametrize("role", ROLES)
def test_role_without_host_option_listens_on_every_interface(
    role: str, role_containers: dict[str, Container]
) -> None:
    container = role_containers[role]
    listening = {
        connection.laddr.ip
        for connection in psutil.Process(main_pid(container)).net_connections(kind="tcp")
        if connection.status == psutil.CONN_LISTEN and connection.laddr.port == container.port
    }
    assert listening & {"0.0.0.0", "::"}, f"{role} listens on {listening or 'nothing'}"


@pytest.mark.parametrize("role", ROLES)
def test_role_passes_its_container_healthcheck(
    role: str, role_containers: dict[str, Container]
) -> None:
    done = podman("healthcheck", "run", role_containers[role].name, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("role", ROLES)
def test_role_passes_smoke_from_the_image(
    role: str, role_containers: dict[str, Container], image_env: dict[str, str]
) -> None:
    # The thumbnails smoke follows an upload to its thumbnail: the worker container does it.
    output = run_once(image_env, "smoke", role_containers[role].url, timeout=120)
    summary = re.search(r"(\d+) passed, (\d+) failed", output)
    assert summary, output
    assert int(summary[1]) >= 5, output  # at least the shared checks ran
    assert summary[2] == "0", output


def test_role_bound_to_loopback_fails_its_healthcheck(
    image_env: dict[str, str], image_token: str
) -> None:
    # It answers on 127.0.0.1, where the check calls, and nowhere else: unhealthy, not healthy.
    name = f"roost-test-{image_token}-loopback"
    container = Container("kv", free_port(), name, image_env, extra_args=("--host", "127.0.0.1"))
    try:
        container.start()
        container.wait_until_ready()
        done = podman("healthcheck", "run", container.name, check=False)
        assert done.returncode != 0, done.stdout + done.stderr
    finally:
        podman("rm", "--force", "--time", "0", container.name, check=False)


def test_label_roost_version_and_health_agree(role_containers: dict[str, Container]) -> None:
    # One version: the build arg the label carries is the one the wheel inside was built with.
    # All three read from one container's image (the tag may be rebuilt meanwhile).
    container = role_containers["kv"]
    image_id = container.inspect()["Image"]
    inspected = json.loads(podman("image", "inspect", str(image_id)).stdout)[0]
    label = inspected["Config"]["Labels"]["org.opencontainers.image.version"]
    printed = podman("exec", container.name, "roost", "version").stdout.strip()
    health = httpx.get(f"{container.url}/health", timeout=5).json()
    assert label == printed == health["version"], (label, printed, health["version"])
    assert label != "0.0.0", "built without the version build arg"


# Last in this module: the containers are gone after it.
@pytest.mark.parametrize("role", ROLES)
def test_role_stops_on_sigterm_with_exit_code_0(
    role: str, role_containers: dict[str, Container]
) -> None:
    container = role_containers[role]
    started = time.monotonic()
    # SIGTERM (the image's stop signal), then SIGKILL only after the timeout.
    podman("stop", "--time", str(STOP_TIMEOUT_SECONDS), container.name, timeout=60)
    took = time.monotonic() - started
    state = container.inspect()["State"]
    assert isinstance(state, dict)
    assert state["ExitCode"] == 0, f"{role} exited {state['ExitCode']}:\n{container.logs()}"
    assert took < STOP_TIMEOUT_SECONDS, f"{role} took {took:.1f} s: killed, not stopped"


def main_pid(container: Container) -> int:
    state = container.inspect()["State"]
    assert isinstance(state, dict)
    pid = int(state["Pid"])
    assert pid > 0, f"{container.role} is not running:\n{container.logs()}"
    return pid


def tree_bytes(path: Path) -> int:
    return sum(item.stat().st_size for item in path.rglob("*") if item.is_file())
