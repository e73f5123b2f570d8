"""The console and the platform's queue jobs, in Debian Chromium against the same `roost up`:
the optimizer's past results (paged, filtered, opened from their link, a queued one followed
until done), dead letters of both queues redriven at once, and the worker's card."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from playwright.sync_api import Page, expect
from tests.e2e.console.conftest import (
    Platform,
    SignedInPage,
    admin_token,
    card,
    png,
    thumbnails_unwritable,
)

pytestmark = pytest.mark.e2e

SaveScreenshot = Callable[[Page, str], Path]
# More channels than optimizer_async_channel_threshold (100): a run is a queue job (202).
LARGE_MODEL_CHANNELS = 120
# What a row written by a buggy release could hold: every run of its job raises.
CORRUPT_REQUEST = {"budget": "not a budget"}


def admin() -> dict[str, str]:
    """The test's own calls to the roles: a subject of their own, so that the optimizer's rate
    limit (per subject) they use up is not the operator's, whose runs the page makes."""
    return {"Authorization": f"Bearer {admin_token('e2e-api-client')}"}


def register_model(platform: Platform, name: str, channels: int) -> None:
    body = {
        "name": name,
        "channels": [
            {"name": f"c{i:03d}", "curve": {"type": "power", "params": {"a": 50.0 + i, "b": 0.5}}}
            for i in range(channels)
        ],
    }
    registered = httpx.post(
        f"{platform.url('optimizer')}/api/v1/models", json=body, headers=admin(), timeout=30
    )
    assert registered.status_code in (200, 201), registered.text


def optimize(
    platform: Platform, model: str, channels: int, total: float | None = None
) -> httpx.Response:
    """One run (of the current spend's total unless ``total``); a 429 from the optimizer's rate
    limit (1/s, bursts of 5) is retried after the Retry-After it names."""
    budget = {f"c{i:03d}": 1000.0 * (i + 1) for i in range(channels)}
    total = sum(budget.values()) if total is None else total
    deadline = time.monotonic() + 60
    while True:
        answer = httpx.post(
            f"{platform.url('optimizer')}/api/v1/optimize",
            json={"model": model, "budget": budget, "constraints": {"total": total}},
            headers=admin(),
            timeout=30,
        )
        if answer.status_code != 429 or time.monotonic() > deadline:
            return answer
        time.sleep(float(answer.headers.get("retry-after", "1")))


def result_status(platform: Platform, result_id: str) -> str:
    answer = httpx.get(f"{platform.url('optimizer')}/api/v1/results/{result_id}", headers=admin())
    assert answer.status_code == 200, answer.text
    status: str = answer.json()["status"]
    return status


def image_status(platform: Platform, image_id: str) -> str:
    answer = httpx.get(f"{platform.url('thumbnails')}/api/v1/images/{image_id}", timeout=5)
    assert answer.status_code == 200, answer.text
    status: str = answer.json()["status"]
    return status


def wait_until(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"not {what} after {seconds}s"
        time.sleep(0.5)


@pytest.fixture
def worker_held(platform: Platform) -> Iterator[Callable[[], None]]:
    """``release()`` after the test has set a job up: until then the worker is stopped
    (SIGSTOP), so a queued job waits in its queue; always released at the end."""
    platform.hang("worker")
    held = [True]

    def release() -> None:
        if held[0]:
            platform.resume("worker")
            held[0] = False

    try:
        yield release
    finally:
        release()


def replace_stored_request(platform: Platform, result_id: str, request: Any) -> Any:
    """Overwrite a queued result's stored request in the embedded Postgres; the one it had."""

    async def replace() -> Any:
        connection = await asyncpg.connect(platform.database_url)
        try:
            old = await connection.fetchval(
                "UPDATE optimizer_results new SET request = $2::jsonb FROM optimizer_results old"
                " WHERE new.id = old.id AND new.id = $1::uuid RETURNING old.request::text",
                result_id,
                json.dumps(request),
            )
        finally:
            await connection.close()
        assert old is not None, f"no result {result_id}"
        return json.loads(old)

    # In a thread of its own: Playwright's sync API keeps an event loop running in this one.
    with concurrent.futures.ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, replace()).result()


# --------------------------------------------------------------------------------------------
# Optimizer: past results


def test_past_results_page_newest_first_filter_and_open_from_their_link(
    signed_in_page: SignedInPage, platform: Platform, save_screenshot: SaveScreenshot
) -> None:
    model = f"console-e2e-history-{time.time_ns()}"
    register_model(platform, model, channels=3)
    ids = []
    for run in range(12):  # more than a page (10)
        answer = optimize(platform, model, 3, total=6000.0 + 100 * run)
        assert answer.status_code == 200, answer.text
        ids.append(answer.json()["id"])
    page, problems = signed_in_page(1280, 800)
    page.get_by_role("link", name="Optimizer").click()
    expect(page.locator("#opt-results-model option", has_text=model)).to_have_count(1)

    page.get_by_label("Model", exact=True).nth(1).select_option(model)
    rows = page.get_by_test_id("opt-result")
    expect(rows).to_have_count(10)
    page.get_by_role("button", name="More results").click()
    expect(rows).to_have_count(12)
    expect(page.get_by_role("button", name="More results")).to_be_hidden()

    listed = [row.get_attribute("data-id") for row in rows.all()]
    assert listed == ids[::-1]  # newest first, each once across the two pages
    first = rows.first
    expect(first.get_by_test_id("opt-result-status")).to_have_text("done")
    expect(first).to_contain_text(f"{model} v1")
    created = first.locator("td").first.inner_text()
    assert re.search(r"\d", created), created  # a time, not a placeholder
    save_screenshot(page, "console-optimizer-results-1280x800")
    page.set_viewport_size({"width": 390, "height": 844})
    first.scroll_into_view_if_needed()
    save_screenshot(page, "console-optimizer-results-390x844")
    page.set_viewport_size({"width": 1280, "height": 800})

    # The JSON link is the result through the console, with this session.
    json_link = first.get_by_role("link", name="JSON").get_attribute("href")
    assert json_link is not None
    relayed = page.request.get(f"{platform.console}/{json_link}")
    assert relayed.status == 200
    assert relayed.json()["id"] == ids[-1]

    # The oldest opens from its link: its chart, and the address names it (a bookmark).
    oldest = ids[0]
    rows.last.get_by_role("link", name=f"Open result {oldest[:8]}").click()
    expect(page.get_by_test_id("opt-status")).to_contain_text(f"result {oldest[:8]}")
    expect(page.locator('[data-testid="bar-optimal"]')).to_have_count(3)
    assert page.url.endswith(f"#optimizer/{oldest}")
    page.reload()
    expect(page.get_by_test_id("opt-status")).to_contain_text(f"result {oldest[:8]}")
    expect(page.locator('[data-testid="bar-optimal"]')).to_have_count(3)

    page.get_by_label("Status").select_option("failed")
    page.get_by_label("Model", exact=True).nth(1).select_option(model)
    expect(rows).to_have_count(0)
    expect(page.locator("#opt-results")).to_contain_text("No results match")
    assert problems.errors == []


def test_a_large_optimization_shows_its_job_status_in_the_list_until_done(
    signed_in_page: SignedInPage,
    platform: Platform,
    worker_held: Callable[[], None],
) -> None:
    model = "console-e2e-large"
    register_model(platform, model, channels=LARGE_MODEL_CHANNELS)
    page, problems = signed_in_page(1280, 800)
    page.get_by_role("link", name="Optimizer").click()
    expect(page.locator("#opt-model option", has_text=model)).to_have_count(1)
    page.get_by_label("Model", exact=True).first.select_option(model)
    expect(page.locator("#opt-channels tr")).to_have_count(LARGE_MODEL_CHANNELS)

    page.get_by_role("button", name="Run").click()
    # The worker is held: the job waits in its queue, and the page says so, run and list alike.
    expect(page.get_by_test_id("opt-status")).to_contain_text(
        re.compile(r"Job [0-9a-f]{8}: queued")
    )
    short_id = page.get_by_test_id("opt-status").inner_text().split()[1].rstrip(":")
    row = page.locator(f'[data-testid="opt-result"][data-id^="{short_id}"]')
    expect(row.get_by_test_id("opt-result-status")).to_have_text("queued…")
    expect(row).to_contain_text(model)

    worker_held()  # the job runs now; nobody reloads the page
    expect(row).to_have_attribute("data-status", "done", timeout=60_000)
    expect(row.get_by_test_id("opt-result-status")).to_have_text("done")
    expect(page.get_by_test_id("opt-status")).to_contain_text("Done")
    expect(page.locator('[data-testid="bar-optimal"]')).to_have_count(LARGE_MODEL_CHANNELS)
    assert problems.errors == []


# --------------------------------------------------------------------------------------------
# Dead letters of every queue, and the worker's card


def test_redrive_all_sends_both_queues_dead_letters_back_and_their_jobs_complete(
    signed_in_page: SignedInPage,
    platform: Platform,
    worker_held: Callable[[], None],
    tmp_path: Path,
    save_screenshot: SaveScreenshot,
) -> None:
    model = "console-e2e-large"
    register_model(platform, model, channels=LARGE_MODEL_CHANNELS)
    page, problems = signed_in_page(1280, 800)
    with thumbnails_unwritable(platform):
        # An optimization job whose stored request is corrupt (it raises on every attempt),
        # set up while the worker is held so that no attempt runs before the corruption.
        queued = optimize(platform, model, LARGE_MODEL_CHANNELS)
        assert queued.status_code == 202, queued.text
        result_id = queued.json()["id"]
        request = replace_stored_request(platform, result_id, CORRUPT_REQUEST)
        # An image job whose thumbnails cannot be stored.
        (tmp_path / "violet.png").write_bytes(png((120, 40, 160)))
        with (tmp_path / "violet.png").open("rb") as picture:
            uploaded = httpx.post(
                f"{platform.url('thumbnails')}/api/v1/images",
                files={"file": ("violet.png", picture, "image/png")},
                timeout=30,
            )
        assert uploaded.status_code == 202, uploaded.text
        image_id = uploaded.json()["id"]
        worker_held()

        page.get_by_role("link", name="Thumbnails").click()
        image_letter = page.locator(f'[data-testid="dead-letter"][data-image="{image_id}"]')
        result_letter = page.locator(f'[data-testid="dead-letter"][data-job="{result_id}"]')
        expect(image_letter).to_have_count(1, timeout=120_000)
        expect(result_letter).to_have_count(1, timeout=120_000)
    replace_stored_request(platform, result_id, request)  # both causes are gone now

    expect(result_letter.get_by_role("link", name=f"optimization {result_id[:8]}")).to_be_visible()
    assert result_status(platform, result_id) == "failed"
    assert image_status(platform, image_id) == "failed"
    pending = page.get_by_test_id("dead-letter").count()
    save_screenshot(page, "console-dead-letters-both-queues-1280x800")
    page.set_viewport_size({"width": 390, "height": 844})
    save_screenshot(page, "console-dead-letters-both-queues-390x844")
    page.set_viewport_size({"width": 1280, "height": 800})

    # The worker's card counts them too (its dead-letter gauge, refreshed by its housekeeping).
    page.get_by_role("link", name="Overview").click()
    worker = page.locator(card(page, "worker"))
    expect(worker.get_by_test_id("dead-letters")).to_have_text(str(pending), timeout=30_000)
    expect(worker.locator('[data-queue="thumbnails"]')).to_be_visible()
    expect(worker.locator('[data-queue="optimizer"]')).to_be_visible()

    page.get_by_role("link", name="Thumbnails").click()
    page.get_by_role("button", name="Redrive all…").click()
    page.get_by_role("button", name="Redrive all", exact=True).click()
    expect(page.locator("#toast")).to_contain_text(f"{pending} job(s) redriven")
    expect(page.get_by_test_id("dead-letter")).to_have_count(0, timeout=15_000)

    wait_until(lambda: image_status(platform, image_id) == "done", 90, "image done")
    wait_until(lambda: result_status(platform, result_id) == "done", 90, "result done")
    page.get_by_role("link", name="Overview").click()
    expect(worker.get_by_test_id("dead-letters")).to_have_text("0", timeout=30_000)
    # The jobs the worker finished show in its job rate (the card's sparkline, 15 minutes).
    overview = page.request.get(f"{platform.console}/api/overview").json()
    (worker_view,) = [r for r in overview["roles"] if r["role"] == "worker"]
    assert worker_view["kind"] == "jobs"
    assert max(worker_view["series"]["jobs_rate"]) > 0
    assert [e for e in problems.errors if "status of 5" not in e and "status of 4" not in e] == []
