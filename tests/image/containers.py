"""podman for the image tests: run, inspect and stop containers of the image ``make image``
builds, the way Kubernetes runs them (read-only root filesystem, tmpfs for /tmp and the data
directory, the image's own user), on the host network (loopback only)."""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from tests.conftest import REPO_ROOT
from tests.support.parallel import redis_db

BUILD_SCRIPT = REPO_ROOT / "scripts" / "build-image.sh"
IMAGE = os.environ.get("ROOST_IMAGE", "localhost/roost:dev")
CONTAINERS_CONF = REPO_ROOT / ".roost" / "image" / "containers.conf"
IMAGE_UID = 10001
# A cold build (debootstrap, every wheel from PyPI) takes a few minutes; a warm one seconds.
BUILD_TIMEOUT_SECONDS = 1200
START_TIMEOUT_SECONDS = 90.0
STOP_TIMEOUT_SECONDS = 20
# Redis database of these tests alone: other suites flush db 9 while they run.
REDIS_DATABASE = redis_db(13)


def podman(
    *args: str, timeout: float = 120, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """``podman ARGS`` with this project's containers.conf; stderr kept for the message."""
    done = subprocess.run(
        ["podman", *args],
        env={**os.environ, "CONTAINERS_CONF": str(CONTAINERS_CONF)},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and done.returncode != 0:
        raise AssertionError(
            f"podman {' '.join(args)} exited {done.returncode}:\n"
            f"{without_systemd_noise(done.stderr)[-3000:]}"
        )
    return done


def without_systemd_noise(stderr: str) -> str:
    """podman's complaints about healthcheck timers: this machine has no systemd, we run the
    healthcheck ourselves."""
    return "\n".join(line for line in stderr.splitlines() if "systemd" not in line)


@dataclass
class Container:
    """One ``podman run -d`` of the image: a role (``serve <role>``) or the worker."""

    role: str
    port: int
    name: str
    env: dict[str, str]
    mounts: Sequence[str] = ()
    extra_args: Sequence[str] = ()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def command(self) -> list[str]:
        # No --host: the image's ROOST_HOST makes every role listen on all interfaces.
        args = ["worker"] if self.role == "worker" else ["serve", self.role]
        return [*args, "--port", str(self.port), *self.extra_args]

    def start(self) -> None:
        options = run_options(self.name, self.env, self.mounts)
        podman("run", "--detach", *options, IMAGE, *self.command)

    def wait_until_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not self._ready():
            state = self.inspect()["State"]
            assert state["Running"], f"{self.role} exited {state['ExitCode']}:\n{self.logs()}"
            assert time.monotonic() < deadline, f"{self.role} not ready:\n{self.logs()}"
            time.sleep(0.2)

    def inspect(self) -> dict[str, Any]:
        answer: list[dict[str, Any]] = json.loads(podman("inspect", self.name).stdout)
        return answer[0]

    def logs(self, lines: int = 40) -> str:
        done = podman("logs", "--tail", str(lines), self.name, check=False)
        return done.stdout + done.stderr

    def _ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200
        except httpx.TransportError:
            return False


def run_options(name: str, env: dict[str, str], mounts: Sequence[str] = ()) -> list[str]:
    """What every container of these tests gets: Kubernetes' restrictions, the host network."""
    options = ["--name", name, "--network", "host", "--read-only", "--tmpfs", "/tmp"]
    # The data directory is an emptyDir in Kubernetes: writable, private to the pod.
    options += ["--tmpfs", "/var/lib/roost:rw,mode=1777"]
    for mount in mounts:
        options += ["--volume", mount]
    for key, value in sorted(env.items()):
        options += ["--env", f"{key}={value}"]
    return options


def run_once(env: dict[str, str], *command: str, timeout: float = 120) -> str:
    """``podman run --rm IMAGE COMMAND`` (``roost COMMAND``): its stdout and stderr, or the test
    fails with them."""
    name = f"roost-test-once-{uuid.uuid4().hex[:8]}"
    options = run_options(name, env)
    done = podman("run", "--rm", *options, IMAGE, *command, timeout=timeout, check=False)
    output = done.stdout + without_systemd_noise(done.stderr)
    assert done.returncode == 0, f"{' '.join(command)} exited {done.returncode}:\n{output[-5000:]}"
    return output


def image_size_bytes(image: str) -> int:
    return int(podman("image", "inspect", "--format", "{{.Size}}", image).stdout.strip())
