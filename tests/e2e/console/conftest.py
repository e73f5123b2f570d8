"""The operator console in a real browser, against a whole ``roost up`` (every role, the worker).

The tests use ``platform`` (the console's URL, each role's URL, its sign-in link and a way to
hang and resume one role), ``signed_in_page`` and ``save_screenshot``. ``roost up`` runs as the
README runs it (embedded Postgres and Redis, no ``ROOST_*`` variables) on a free port offset.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from playwright.sync_api import Browser, Page
from tests.e2e.browser import PageProblems, chromium, screenshot, watched_page
from tests.e2e.processes import free_port_offset, start_roost_up, stop_roost_up, wait_ready

from roost.core.auth import ADMIN_SCOPE, issue_token
from roost.core.settings import ROLE_PORTS, Settings

LINK = re.compile(r"http://\S+/login\?token=\S+")


@dataclass
class Platform:
    process: subprocess.Popen[bytes]
    offset: int
    log: Path
    data_dir: Path

    def url(self, role: str) -> str:
        return f"http://127.0.0.1:{ROLE_PORTS[role] + self.offset}"

    @property
    def console(self) -> str:
        return self.url("console")

    def login_link(self) -> str:
        found = LINK.findall(self.log.read_text())
        assert found, self.log.read_text()[-3000:]
        return str(found[-1])

    @property
    def database_url(self) -> str:
        """The embedded Postgres `roost up` started, as its roles were given it."""
        environment = Path(f"/proc/{self.role_pid('optimizer')}/environ").read_bytes()
        variables = dict(
            entry.split("=", 1) for entry in environment.decode().split("\0") if "=" in entry
        )
        return variables["ROOST_DATABASE_URL"]

    def role_pid(self, role: str) -> int:
        """The pid of the ``roost serve <role>`` (or ``roost worker``) this ``roost up`` started."""
        command = "roost worker " if role == "worker" else f"roost serve {role} "
        found = subprocess.run(
            ["pgrep", "-P", str(self.process.pid), "-f", command],
            capture_output=True,
            text=True,
        )
        pids = found.stdout.split()
        assert len(pids) == 1, f"{role}: {pids}"
        return int(pids[0])

    def hang(self, role: str) -> None:
        """SIGSTOP: the role's process stops answering, as a hung or partitioned one would
        (the supervisor, which restarts a role that exits, leaves a stopped one alone)."""
        os.kill(self.role_pid(role), signal.SIGSTOP)

    def resume(self, role: str) -> None:
        os.kill(self.role_pid(role), signal.SIGCONT)


# One `roost up` for every console module: starting one costs a minute on a loaded machine.
@pytest.fixture(scope="package")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    tmp = tmp_path_factory.mktemp("console-up")
    log = tmp / "up.log"
    offset = free_port_offset(*ROLE_PORTS.values())
    process = start_roost_up(tmp / "data", offset, log, ",".join(_all_roles()))
    running = Platform(process, offset, log, tmp / "data")
    try:
        for role in ROLE_PORTS:
            wait_ready(running.url(role), process, log, timeout=120)
        _wait_for_link(running)
        yield running
    finally:
        for role in ("birds", "worker"):  # a failed test may have left it stopped
            with contextlib.suppress(AssertionError, ProcessLookupError):
                running.resume(role)
        stop_roost_up(process)


def _all_roles() -> list[str]:
    from roost.roles import api_roles

    return api_roles()


def _wait_for_link(running: Platform) -> None:
    deadline = time.monotonic() + 30
    while not LINK.search(running.log.read_text()):
        assert time.monotonic() < deadline, running.log.read_text()[-3000:]
        time.sleep(0.2)


def admin_token(subject: str = "e2e-operator") -> str:
    """An admin JWT signed with `roost up`'s (development) secret, as `roost token` makes."""
    development = Settings.model_construct()  # the defaults, whatever this shell's ROOST_* say
    return issue_token(development, subject, [ADMIN_SCOPE], ttl_seconds=600)


# Module scope: see tests/e2e/browser.py.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as browser:
        yield browser


SignedInPage = Callable[..., tuple[Page, PageProblems]]


@pytest.fixture
def signed_in_page(browser: Browser, platform: Platform) -> Iterator[SignedInPage]:
    """``signed_in_page(width, height)`` -> (page, problems): a fresh browser context, signed
    in through the page's own form with an admin token, on the overview."""
    contexts = []

    def open_(width: int = 1280, height: int = 800, **options: Any) -> tuple[Page, PageProblems]:
        context = browser.new_context(viewport={"width": width, "height": height}, **options)
        contexts.append(context)
        page, problems = watched_page(context, 15_000)
        page.goto(platform.console)
        page.get_by_label("API key or token").fill(admin_token())
        page.get_by_role("button", name="Sign in").click()
        page.get_by_test_id("operator").wait_for()
        return page, problems

    yield open_
    for context in contexts:
        context.close()


@pytest.fixture
def save_screenshot() -> Callable[[Page, str], Path]:
    return screenshot


def generate_traffic(url: str, seconds: float) -> int:
    """Classic kv reads for ``seconds``; how many were sent."""
    sent = 0
    deadline = time.monotonic() + seconds
    with httpx.Client(base_url=url, timeout=5) as client:
        while time.monotonic() < deadline:
            client.get("/read/console-e2e-traffic")
            sent += 1
    return sent


def card(page: Page, role: str) -> str:
    """The selector of ``role``'s card on the overview."""
    return f'[data-testid="role-{role}"]'


def wait_for_status(page: Page, role: str, statuses: tuple[str, ...], timeout_ms: int) -> float:
    """Seconds until the role's card shows one of ``statuses``."""
    started = time.monotonic()
    page.wait_for_function(
        "([selector, statuses]) => statuses.includes("
        "document.querySelector(selector)?.dataset.status)",
        arg=[card(page, role), list(statuses)],
        timeout=timeout_ms,
    )
    return time.monotonic() - started


def png(color: tuple[int, int, int], size: tuple[int, int] = (320, 240)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "PNG")
    return buffer.getvalue()


@contextlib.contextmanager
def thumbnails_unwritable(platform: Platform) -> Iterator[None]:
    """Thumbnails cannot be written while their folder is a file: every attempt of an image job
    fails with a storage error (transient), so the job is retried, then dead-lettered."""
    outputs = platform.data_dir / "objects" / "thumbnails"
    moved = outputs.with_name("thumbnails.moved")
    if outputs.exists():
        outputs.rename(moved)
    outputs.write_bytes(b"in the way")
    try:
        yield
    finally:
        outputs.unlink()
        if moved.exists():
            moved.rename(outputs)
