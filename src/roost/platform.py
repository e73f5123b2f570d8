"""``roost up``: every role on one machine, on embedded backends unless URLs are configured.

The supervisor starts embedded Postgres and Redis, migrates, then runs each role as its own
``roost serve`` process (its logs under ``<data_dir>/logs``), restarts a role that dies, and on
Ctrl-C or SIGTERM stops the roles first (they finish in-flight requests), then the backends.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

import httpx
from rich.console import Console
from rich.table import Table

from roost.core.settings import CONSOLE_PEER_URL_SETTINGS, ROLE_PORTS, Settings
from roost.infra.embedded import EmbeddedPostgres, EmbeddedRedis, free_port
from roost.infra.local_guard import DataDirLock, busy_ports
from roost.infra.runtime import clear_runtime, write_runtime
from roost.roles import api_roles, prepare_database

STOP_TIMEOUT_SECONDS = 25
# Roles whose jobs need `roost worker` running next to them.
QUEUE_ROLES = frozenset({"thumbnails", "optimizer"})
READY_TIMEOUT_SECONDS = 60
# A role that fails this often within the window is given up on, not restarted for ever.
CRASH_LIMIT = 5
CRASH_WINDOW_SECONDS = 60.0
LOG_LINES_ON_GIVE_UP = 20
# Services that call each other (and the console, which calls them all) find each other here.
SERVICE_URL_VARIABLES = {
    f"ROOST_{setting.upper()}": role for role, setting in CONSOLE_PEER_URL_SETTINGS.items()
}
# The console's sign-in link is good for one use within this many seconds.
CONSOLE_LINK_SECONDS = 15 * 60


class PortsBusy(Exception):
    """A port ``roost up`` needs is taken; nothing has been started."""


@dataclass
class CrashLoop:
    """Restart backoff for one role, and when to stop restarting it."""

    limit: int = CRASH_LIMIT
    window: float = CRASH_WINDOW_SECONDS
    failures: deque[float] = field(default_factory=deque)

    def record(self, now: float) -> None:
        self.failures.append(now)
        while self.failures and now - self.failures[0] > self.window:
            self.failures.popleft()

    @property
    def exhausted(self) -> bool:
        return len(self.failures) >= self.limit

    @property
    def backoff_seconds(self) -> float:
        """0.5 s after the first failure in the window, doubling, at most 8 s."""
        return float(min(8.0, 0.5 * 2 ** max(0, len(self.failures) - 1)))


@dataclass
class Child:
    role: str
    port: int | None
    command: list[str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    started_at: float = 0.0
    crashes: CrashLoop = field(default_factory=CrashLoop)
    restart_at: float | None = None
    given_up: bool = False


@dataclass
class Platform:
    settings: Settings
    host: str = "127.0.0.1"
    port_offset: int = 0
    roles: list[str] | None = None
    console: Console = field(default_factory=lambda: Console(stderr=True))
    _stopping: bool = False

    def run(self) -> None:
        roles = self._selected_roles()
        data_dir = self.settings.data_dir.resolve()
        with DataDirLock(data_dir):
            self._run_locked(roles, data_dir)

    def _run_locked(self, roles: list[str], data_dir: Path) -> None:
        children = [self._child(role, data_dir) for role in roles]
        if QUEUE_ROLES.intersection(roles):
            children.append(self._worker_child(data_dir))
        self._refuse_busy_ports(children)
        postgres = EmbeddedPostgres(data_dir / "postgres")
        redis = EmbeddedRedis(data_dir / "redis", port=free_port())
        signal.signal(signal.SIGTERM, self._request_stop)
        signal.signal(signal.SIGINT, self._request_stop)
        started: list[Child] = []
        try:
            urls = self._start_backends(data_dir, postgres, redis)
            write_runtime(data_dir, urls)
            self.console.print("applying migrations…")
            prepare_database(self.settings, urls["database_url"])
            env = self._child_env(urls, data_dir)
            for child in children:
                self._spawn(child, env)
                started.append(child)
            self._print_urls(children, urls)
            self._wait_until_ready(children)
            self._print_console_link(children)
            self._supervise(children, env)
        finally:
            self._stop_children(started)
            redis.stop()
            postgres.stop()
            clear_runtime(data_dir)
            self.console.print("[green]stopped[/green]")

    def _refuse_busy_ports(self, children: list[Child]) -> None:
        busy = busy_ports(self.host, [c.port for c in children if c.port is not None])
        if busy:
            lines = "\n".join(f"  {port.describe()}" for port in busy)
            raise PortsBusy(
                f"cannot start: {len(busy)} port(s) already taken (another `roost up`?)\n"
                f"{lines}\nstop what holds them, or pass --port-offset (e.g. --port-offset 100)"
            )

    def _selected_roles(self) -> list[str]:
        available = api_roles()
        if self.roles is None:
            return available
        unknown = [r for r in self.roles if r not in available]
        if unknown:
            raise ValueError(
                f"unknown roles: {', '.join(unknown)}; available: {', '.join(available)}"
            )
        return self.roles

    def _request_stop(self, signum: int, _: FrameType | None) -> None:
        if not self._stopping:
            self.console.print(f"\n{signal.Signals(signum).name}: stopping…")
        self._stopping = True

    def _start_backends(
        self, data_dir: Path, postgres: EmbeddedPostgres, redis: EmbeddedRedis
    ) -> dict[str, str]:
        urls: dict[str, str] = {}
        if self.settings.database_url:
            urls["database_url"] = self.settings.database_url
        else:
            self.console.print("starting embedded PostgreSQL…")
            postgres.start()
            urls["database_url"] = postgres.url
        if self.settings.redis_url:
            urls["redis_url"] = self.settings.redis_url
        else:
            self.console.print("starting embedded Redis…")
            redis.start()
            urls["redis_url"] = redis.url
        urls["broker_url"] = self.settings.broker_url or urls["redis_url"]
        urls["storage_url"] = self.settings.storage_url or (data_dir / "objects").as_uri()
        return urls

    def _child_env(self, urls: dict[str, str], data_dir: Path) -> dict[str, str]:
        env = dict(os.environ)
        env.update({f"ROOST_{k.upper()}": v for k, v in urls.items()})
        env["ROOST_DATA_DIR"] = str(data_dir)
        # Services that call each other find each other at this platform's ports.
        for variable, role in SERVICE_URL_VARIABLES.items():
            port = ROLE_PORTS[role] + self.port_offset
            env.setdefault(variable, f"http://{self._local_host()}:{port}")
        return env

    def _local_host(self) -> str:
        # Maps a wildcard bind to loopback for our own client; binds nothing itself.
        return "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host  # nosec B104

    def _child(self, role: str, data_dir: Path) -> Child:
        port = ROLE_PORTS[role] + self.port_offset
        command = [sys.executable, "-m", "roost", "serve", role, "--host", self.host]
        command += ["--port", str(port)]
        return Child(role, port, command, data_dir / "logs" / f"{role}.log")

    def _worker_child(self, data_dir: Path) -> Child:
        """The queue worker; its health server (/readyz, /metrics) is on the worker port."""
        port = ROLE_PORTS["worker"] + self.port_offset
        command = [sys.executable, "-m", "roost", "worker", "--host", self.host]
        command += ["--port", str(port)]
        return Child("worker", port, command, data_dir / "logs" / "worker.log")

    def _spawn(self, child: Child, env: dict[str, str]) -> None:
        child.log_path.parent.mkdir(parents=True, exist_ok=True)
        with child.log_path.open("ab") as log_file:
            # A session of its own: Ctrl-C reaches only the supervisor, which stops roles in order.
            child.process = subprocess.Popen(
                child.command,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        child.started_at = time.monotonic()

    def _print_urls(self, children: list[Child], urls: dict[str, str]) -> None:
        table = Table(title="Roost is starting", show_lines=False)
        table.add_column("role")
        table.add_column("URL")
        table.add_column("logs")
        for child in children:
            table.add_row(child.role, f"http://{self.host}:{child.port}", str(child.log_path))
        self.console.print(table)
        self.console.print(f"postgres: {urls['database_url']}")
        self.console.print(f"redis:    {urls['redis_url']}")
        self.console.print(f"storage:  {urls['storage_url']}")

    def _print_console_link(self, children: list[Child]) -> None:
        """A one-time sign-in link to the operator console (local mode has no other login)."""
        console = next((c for c in children if c.role == "console"), None)
        if console is None or self._stopping:
            return
        from roost.core.auth import ADMIN_SCOPE, issue_token

        token = issue_token(
            self.settings, "local-operator", [ADMIN_SCOPE], ttl_seconds=CONSOLE_LINK_SECONDS
        )
        url = f"http://{self._local_host()}:{console.port}/login?token={token}"
        self.console.print(
            f"[bold]operator console[/bold] (sign-in link, one use, "
            f"{CONSOLE_LINK_SECONDS // 60} min):"
        )
        self.console.print(url, markup=False, soft_wrap=True)

    def _wait_until_ready(self, children: list[Child]) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        pending = {c.role: c for c in children if c.port is not None}
        with httpx.Client(timeout=1.0) as client:
            while pending and time.monotonic() < deadline and not self._stopping:
                for role, child in list(pending.items()):
                    try:
                        if client.get(f"http://{self.host}:{child.port}/readyz").status_code == 200:
                            del pending[role]
                    except httpx.HTTPError:
                        pass
                time.sleep(0.2)
        if pending:
            self.console.print(f"[yellow]not ready yet:[/yellow] {', '.join(pending)} (see logs)")
        elif not self._stopping:
            self.console.print("[bold green]ready[/bold green] — Ctrl-C stops everything")

    def _supervise(self, children: list[Child], env: dict[str, str]) -> None:
        """Restart roles that exit, until stopped or until every role has been given up on."""
        while not self._stopping and not all(child.given_up for child in children):
            now = time.monotonic()
            for child in children:
                if child.given_up or self._stopping:
                    continue
                if child.restart_at is not None:
                    if now >= child.restart_at:
                        child.restart_at = None
                        self._spawn(child, env)
                    continue
                assert child.process is not None
                code = child.process.poll()
                if code is not None:
                    self._on_exit(child, code, now)
            time.sleep(0.2)

    def _on_exit(self, child: Child, code: int, now: float) -> None:
        child.crashes.record(now)
        if child.crashes.exhausted:
            child.given_up = True
            self.console.print(
                f"[red]{child.role} exited with {code} {child.crashes.limit} times within "
                f"{child.crashes.window:g}s; giving up on it[/red] (the other roles keep "
                f"running). Last lines of {child.log_path}:"
            )
            self.console.print(last_lines(child.log_path, LOG_LINES_ON_GIVE_UP), markup=False)
            return
        child.restarts += 1
        delay = child.crashes.backoff_seconds
        self.console.print(
            f"[red]{child.role} exited with {code}[/red]; restarting in {delay:g}s "
            f"(restart #{child.restarts}, see {child.log_path})"
        )
        # Not a sleep here: the other roles stay supervised while this one waits.
        child.restart_at = now + delay

    def _stop_children(self, children: list[Child]) -> None:
        running = [c for c in children if c.process is not None and c.process.poll() is None]
        for child in running:
            assert child.process is not None
            child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        for child in running:
            assert child.process is not None
            try:
                child.process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait()


def last_lines(path: Path, count: int) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return f"({path} cannot be read)"
    return "\n".join(lines[-count:])
