"""Browser fixtures for the birds page, served by the real roles.

The tests only use ``frontend_url``, ``set_api_down``, ``open_page`` and ``save_screenshot``.
Behind ``frontend_url`` run ``roost serve frontend``, ``birds`` and ``bird-images`` as
processes on a fresh Postgres database that ``roost migrate`` seeded with the catalog, with
Redis and a temporary object store: the page, the proxy, the API and the pictures the user
would get. ``set_api_down(True)`` stops the birds API process; the frontend's proxy then
answers 503 for it, as in an outage.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page
from tests.e2e.browser import PageProblems, chromium, screenshot, watched_page
from tests.e2e.processes import Role, birds_environment, migrated_roles
from tests.support.parallel import redis_db

PAGE_REDIS_DB = redis_db(12)  # the bird-images answer cache of these tests meets no other suite's


@pytest.fixture(scope="module")
def bird_roles(
    fresh_database_url: Callable[[str], str],
    redis_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, Role]]:
    """The three bird roles as ``roost serve`` processes, ready, on their own ports."""
    from redis import Redis

    page_redis = redis_url.rsplit("/", 1)[0] + f"/{PAGE_REDIS_DB}"
    with Redis.from_url(page_redis) as client:
        client.flushdb()
    tmp = tmp_path_factory.mktemp("birds-page")
    env, ports = birds_environment(fresh_database_url("roost_birds_page"), page_redis, tmp)
    with migrated_roles(env, ports, tmp) as roles:
        yield roles


@pytest.fixture
def frontend_url(bird_roles: dict[str, Role]) -> str:
    """Base URL of the birds page, with a healthy API behind it."""
    api = bird_roles["birds"]
    if api.process is None or api.process.poll() is not None:
        api.start()  # a test that failed while the API was down left it stopped
    return bird_roles["frontend"].url


@pytest.fixture
def set_api_down(bird_roles: dict[str, Role]) -> Iterator[Callable[[bool], None]]:
    """``set_api_down(True)`` stops the birds API (SIGTERM); ``False`` starts it, ready."""
    api = bird_roles["birds"]

    def set_down(down: bool) -> None:
        running = api.process is not None and api.process.poll() is None
        if down and running:
            api.stop()
        elif not down and not running:
            api.start()

    yield set_down
    set_down(False)


# Module scope, not session: Playwright's sync API keeps its own event loop running while it
# is open, and the asyncio tests that run after this module need the main thread's loop free.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as browser:
        yield browser


OpenPage = Callable[..., tuple[Page, PageProblems]]


@pytest.fixture
def open_page(browser: Browser) -> Iterator[OpenPage]:
    """``open_page(width, height)`` -> (page, problems): a fresh page that records problems."""
    contexts = []

    def open_(
        width: int = 1280, height: int = 800, **context_options: Any
    ) -> tuple[Page, PageProblems]:
        context = browser.new_context(
            viewport={"width": width, "height": height}, **context_options
        )
        contexts.append(context)
        return watched_page(context, 10_000)

    yield open_
    for context in contexts:
        context.close()


@pytest.fixture
def save_screenshot() -> Callable[[Page, str], Path]:
    """Save a PNG of the page under test-artifacts/screenshots/ and return its path."""
    return screenshot
