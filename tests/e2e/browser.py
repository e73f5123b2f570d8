"""Debian Chromium for the page tests (birds page, operator console): how it is launched, and
what a page reports that a test should fail on."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Error,
    Page,
    sync_playwright,
)
from tests.prerequisites import missing

REPO_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT_DIR = REPO_ROOT / "test-artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@contextmanager
def chromium() -> Iterator[Browser]:
    """Headless Debian Chromium. Hold it for a module at most: Playwright's sync API keeps its
    own event loop running while it is open, and later asyncio tests need the main thread's."""
    if not Path(CHROMIUM).exists():
        missing(f"{CHROMIUM} is missing; `make system-deps` installs it")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class PageProblems:
    """Console errors/warnings and uncaught exceptions seen by one page."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(f"console error: {message.text}")
        elif message.type == "warning":
            self.warnings.append(f"console warning: {message.text}")

    def on_page_error(self, error: Error) -> None:
        self.errors.append(f"page error: {error.message}")


def watched_page(context: BrowserContext, timeout_ms: float) -> tuple[Page, PageProblems]:
    """A new page of ``context`` whose console errors and uncaught exceptions are recorded."""
    page = context.new_page()
    page.set_default_timeout(timeout_ms)
    problems = PageProblems()
    page.on("console", problems.on_console)
    page.on("pageerror", problems.on_page_error)
    return page, problems


def screenshot(page: Page, name: str) -> Path:
    """Save a PNG of the page under test-artifacts/screenshots/ and return its path."""
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOT_DIR / f"{name}.png"
    # Finished animations: a screenshot shows the page at rest, not mid-fade.
    page.screenshot(path=str(path), animations="disabled")
    return path
