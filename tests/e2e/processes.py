"""Roles as real ``roost`` processes, for the end-to-end tests.

``running_roles`` starts a set of roles on a fresh database, ready, for a module's tests;
``birds_environment`` builds the environment the bird roles share, ``migrate`` runs
``roost migrate`` (which also seeds the catalog) and ``Role`` starts, stops and kills one
``roost serve <role>`` (or ``roost worker``) on a port of its own, waiting for ``/readyz``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

# Re-exported: the e2e tests take their ports and platform offsets from here.
from tests.support.parallel import free_port
from tests.support.parallel import free_port_offset as free_port_offset

from roost.core.settings import CONSOLE_PEER_URL_SETTINGS

ROOST = [sys.executable, "-m", "roost"]
BIRD_ROLES = ("bird-images", "birds", "frontend")
# A deadline, not a wait: on a loaded 2-core machine interpreter start alone took 20 s.
START_TIMEOUT_SECONDS = 90.0


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

    @property
    def command(self) -> list[str]:
        # The worker is no `serve` role; its port is its health server's.
        args = ["worker"] if self.name == "worker" else ["serve", self.name]
        return [*ROOST, *args, "--port", str(self.port)]

    def start(self) -> None:
        self.spawn()
        self.wait_until_ready()

    def spawn(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                self.command,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env,
            )

    def wait_until_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not self._ready():
            # A role that died (bad settings, port taken) fails now, not after the timeout.
            assert self.process.poll() is None, self.log_tail()
            assert time.monotonic() < deadline, self.log_tail()
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: the role dies mid-work, as in a crash or an OOM kill."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        """SIGTERM and wait: the graceful shutdown a deploy does."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def log_tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    def _ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200
        except httpx.TransportError:
            return False


def role_environment(**settings: str) -> dict[str, str]:
    """This process's environment minus whatever in it configures Roost (``ROOST_*``, a
    Prometheus multiprocess dir from the developer's shell), plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ROOST_", "PROMETHEUS"))}
    env.update(settings)
    return env


def birds_environment(
    database_url: str,
    redis_url: str,
    data_dir: Path,
    roles: tuple[str, ...] = BIRD_ROLES,
    **extra: str,
) -> tuple[dict[str, str], dict[str, int]]:
    """The environment of the bird roles (and any ``roles`` added) and the port of each."""
    ports = {name: free_port() for name in roles}
    env = role_environment(
        ROOST_DATABASE_URL=database_url,
        ROOST_REDIS_URL=redis_url,
        ROOST_STORAGE_URL=(data_dir / "objects").as_uri(),
        ROOST_DATA_DIR=str(data_dir),
        ROOST_ACCESS_LOG="false",
    )
    # Every service URL names the role running here, as the ConfigMap does in a cluster.
    for role, setting in CONSOLE_PEER_URL_SETTINGS.items():
        if role in ports:
            env[f"ROOST_{setting.upper()}"] = f"http://127.0.0.1:{ports[role]}"
    env.update(extra)
    return env, ports


@contextlib.contextmanager
def running_roles(
    name: str,
    fresh_database_url: Callable[[str], str],
    redis_url: str,
    tmp_path_factory: pytest.TempPathFactory,
    roles: tuple[str, ...],
    **extra: str,
) -> Iterator[dict[str, Role]]:
    """``roles`` on a fresh database ``roost_<name>``, Redis as their store and broker (a
    namespace of their own), each role's URL given to its peers; migrated, ready, and stopped
    when the block ends. ``extra`` is more environment."""
    data_dir = tmp_path_factory.mktemp(name)
    env, ports = birds_environment(
        fresh_database_url(f"roost_{name}"),
        redis_url,
        data_dir,
        roles=roles,
        ROOST_BROKER_URL=redis_url,
        ROOST_BROKER_NAMESPACE=f"{name.replace('_', '')}{uuid.uuid4().hex[:10]}",
        **extra,
    )
    with migrated_roles(env, ports, data_dir) as running:
        yield running


def migrate(env: dict[str, str]) -> None:
    """``roost migrate``: every Alembic branch, then the seed hooks (the bird catalog)."""
    done = subprocess.run([*ROOST, "migrate"], env=env, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-3000:]


def start_roles(env: dict[str, str], ports: dict[str, int], log_dir: Path) -> dict[str, Role]:
    """Start the roles side by side and wait until each is ready; on a failure, stop them all.

    They start together because a role's readiness does not wait for its peers (they are
    non-critical dependencies), and the imports of three interpreters overlap.
    """
    roles = {name: Role(name, port, env, log_dir / f"{name}.log") for name, port in ports.items()}
    try:
        for role in roles.values():
            role.spawn()
        for role in roles.values():
            role.wait_until_ready()
    except BaseException:
        stop_roles(roles)
        raise
    return roles


def stop_roles(roles: dict[str, Role]) -> None:
    for role in reversed(roles.values()):
        role.stop()


@contextlib.contextmanager
def migrated_roles(
    env: dict[str, str], ports: dict[str, int], log_dir: Path
) -> Iterator[dict[str, Role]]:
    """``roost migrate``, then the roles, ready; all of them stopped afterwards."""
    migrate(env)
    roles = start_roles(env, ports, log_dir)
    try:
        yield roles
    finally:
        stop_roles(roles)


def wait_ready(
    url: str,
    process: subprocess.Popen[bytes],
    log: Path,
    timeout: float = 90,
    tail: Callable[[], str] | None = None,
) -> None:
    """Until ``url``/readyz answers 200; fails with the log's tail (or what ``tail`` returns)
    if ``process`` exits first."""

    def describe() -> str:
        return tail() if tail is not None else log.read_text()[-3000:]

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"roost exited with {process.returncode}:\n{describe()}")
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    pytest.fail(f"{url} not ready after {timeout}s:\n{describe()}")


def start_roost_up(data_dir: Path, offset: int, log: Path, roles: str) -> subprocess.Popen[bytes]:
    """``roost up`` as the README runs it (no ``ROOST_*`` variables), in a session of its own so
    that a stuck one can be killed with everything it started."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROOST_")}
    command = [*ROOST, "up", "--data-dir", str(data_dir), "--port-offset", str(offset)]
    with log.open("ab") as out:
        return subprocess.Popen(
            [*command, "--roles", roles],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )


def stop_roost_up(process: subprocess.Popen[bytes]) -> int:
    """SIGINT, what Ctrl-C does; its exit code. Kills the whole session if it hangs."""
    process.send_signal(signal.SIGINT)
    try:
        return process.wait(60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        raise


def stored_image_ids(database_url: str) -> list[str]:
    """The id of every image record in the database, read straight from Postgres."""
    import asyncio

    import asyncpg

    async def read() -> list[str]:
        connection = await asyncpg.connect(database_url)
        try:
            rows = await connection.fetch("SELECT id::text FROM thumbnail_images")
        finally:
            await connection.close()
        return [row[0] for row in rows]

    return asyncio.run(read())
