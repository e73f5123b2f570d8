"""The operator console in Debian Chromium against a whole `roost up`: it shows every role,
reacts to one going away, and operates kv, maintenance, thumbnails and the optimizer."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect
from tests.e2e.browser import watched_page
from tests.e2e.console.conftest import (
    Platform,
    SignedInPage,
    admin_token,
    card,
    generate_traffic,
    png,
    thumbnails_unwritable,
    wait_for_status,
)

from roost.core.settings import CONSOLE_PEER_URL_SETTINGS

pytestmark = pytest.mark.e2e

SaveScreenshot = Callable[[Page, str], Path]
WATCHED_ROLES = list(CONSOLE_PEER_URL_SETTINGS)  # every role and the worker
# Chromium reports every 4xx/5xx a fetch receives as a console error; a test that expects one
# (a rejected upload) names it, every other message fails the test.
EXPECTED_REFUSAL = "the server responded with a status of 4"


def drop_files(page: Page, selector: str, files: dict[str, bytes]) -> None:
    """Drop ``files`` on ``selector`` with a real DataTransfer, as a drag and drop does."""
    transfer = page.evaluate_handle(
        """(files) => {
            const transfer = new DataTransfer();
            for (const [name, bytes] of files) {
                transfer.items.add(new File([new Uint8Array(bytes)], name, { type: "image/png" }));
            }
            return transfer;
        }""",
        [[name, list(data)] for name, data in files.items()],
    )
    page.dispatch_event(selector, "dragover", {"dataTransfer": transfer})
    page.dispatch_event(selector, "drop", {"dataTransfer": transfer})


# --------------------------------------------------------------------------------------------
# Sign-in and CSRF (plain HTTP: what a browser would send, and what an attacker could).


def test_the_console_api_needs_a_session_and_changes_need_its_csrf_token(
    platform: Platform,
) -> None:
    with httpx.Client(base_url=platform.console, timeout=10) as anonymous:
        assert anonymous.get("/api/overview").status_code == 401
        refused = anonymous.post("/api/login", json={"credential": "not-a-valid-key-at-all"})
        assert refused.status_code == 401
        assert refused.json()["error"]["code"] == "unauthorized"

    with httpx.Client(base_url=platform.console, timeout=10) as operator:
        signed = operator.post("/api/login", json={"credential": admin_token()})
        assert signed.status_code == 200
        cookie = signed.headers["set-cookie"].lower()
        assert "httponly" in cookie
        assert "samesite=strict" in cookie
        csrf = signed.json()["csrf_token"]

        assert operator.get("/api/overview").status_code == 200
        without = operator.put("/api/maintenance", json={"enabled": False})
        assert without.status_code == 403
        assert without.json()["error"]["code"] == "csrf_token_invalid"
        wrong = operator.put(
            "/api/roles/kv/api/v1/kv/csrf-probe",
            json={"value": 1},
            headers={"X-CSRF-Token": "0" * 64},
        )
        assert wrong.status_code == 403
        assert httpx.get(f"{platform.url('kv')}/api/v1/kv/csrf-probe").status_code == 404
        right = operator.put(
            "/api/roles/kv/api/v1/kv/csrf-probe", json={"value": 1}, headers={"X-CSRF-Token": csrf}
        )
        assert right.status_code == 201


def test_the_roost_up_sign_in_link_works_once(platform: Platform) -> None:
    link = platform.login_link()
    with httpx.Client(timeout=10) as first:
        used = first.get(link)
        assert used.status_code == 303
        assert first.get(f"{platform.console}/api/session").json()["operator"] == "local-operator"
    with httpx.Client(timeout=10) as second:
        again = second.get(link)
        assert again.status_code == 401
        assert again.json()["error"]["code"] == "link_used"


def test_the_console_is_usable_from_the_keyboard_and_every_field_has_a_name(
    browser: Browser, platform: Platform
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page, problems = watched_page(context, 15_000)
        page.goto(platform.console)
        # The sign-in field has the focus: type the credential, Enter.
        expect(page.get_by_label("API key or token")).to_be_focused()
        page.keyboard.type(admin_token())
        page.keyboard.press("Enter")
        page.get_by_test_id("operator").wait_for()

        # Every field of every panel is named (a label or an aria-label), shown or not yet.
        unnamed = page.evaluate(
            """() => [...document.querySelectorAll("input, select, textarea")]
                .filter((field) => !(field.labels && field.labels.length)
                    && !field.getAttribute("aria-label"))
                .map((field) => field.id || field.outerHTML)"""
        )
        assert unnamed == []

        # Tab reaches the panels' links; Enter opens one.
        assert _tab_to(page, "Key-value")
        page.keyboard.press("Enter")
        expect(page.locator("#kv")).to_be_visible()
        page.get_by_role("link", name="Overview").focus()
        page.keyboard.press("Enter")
        # A confirmation opens with the focus on Cancel; Escape cancels it.
        expect(page.get_by_test_id("maintenance-state")).to_have_text("off")
        assert _tab_to(page, "Turn on…")
        page.keyboard.press("Enter")
        expect(page.locator("#confirm")).to_be_visible()
        expect(page.get_by_role("button", name="Cancel")).to_be_focused()
        page.keyboard.press("Escape")
        expect(page.locator("#confirm")).to_be_hidden()
        expect(page.get_by_test_id("maintenance-state")).to_have_text("off")
        assert problems.errors == []
    finally:
        context.close()


def _tab_to(page: Page, name: str, presses: int = 40) -> bool:
    """Press Tab until the focused element's text is ``name``; whether it got there."""
    for _ in range(presses):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.textContent.trim()") == name:
            return True
    return False


# --------------------------------------------------------------------------------------------
# Overview


def test_overview_shows_every_role_healthy_and_a_sparkline_that_moves_under_traffic(
    signed_in_page: SignedInPage, platform: Platform, save_screenshot: SaveScreenshot
) -> None:
    page, problems = signed_in_page(1280, 800)

    for role in WATCHED_ROLES:
        wait_for_status(page, role, ("healthy",), timeout_ms=20_000)
    for backend in ("postgres", "redis", "broker", "storage"):
        expect(page.get_by_test_id(f"backend-{backend}")).to_contain_text("ok")
    kv_sparkline = page.locator(f'{card(page, "kv")} [data-testid="sparkline"]')
    before = kv_sparkline.get_attribute("data-points")

    traffic = threading.Thread(target=generate_traffic, args=(platform.url("kv"), 8.0))
    traffic.start()
    try:
        page.wait_for_function(
            "(selector) => Number(document.querySelector(selector)?.textContent) > 1",
            arg=f'{card(page, "kv")} [data-testid="rate"]',
            timeout=15_000,
        )
    finally:
        traffic.join()

    assert kv_sparkline.get_attribute("data-points") != before
    # Each card says how long its process has been up and which version it runs.
    expect(page.locator(f'{card(page, "kv")} [data-testid="meta"]')).to_contain_text(
        re.compile(r"^up \d+ (s|min|h|d) · version \S+")
    )
    save_screenshot(page, "console-overview-1280x800")
    phone, phone_problems = signed_in_page(390, 844)
    wait_for_status(phone, "kv", ("healthy",), timeout_ms=20_000)
    save_screenshot(phone, "console-overview-390x844")
    assert problems.errors == []
    assert phone_problems.errors == []


def test_a_hung_role_turns_unhealthy_within_10_s_while_the_rest_works_then_recovers(
    signed_in_page: SignedInPage, platform: Platform, save_screenshot: SaveScreenshot
) -> None:
    page, problems = signed_in_page(1280, 800)
    wait_for_status(page, "birds", ("healthy",), timeout_ms=20_000)

    platform.hang("birds")
    try:
        took = wait_for_status(page, "birds", ("down", "unhealthy"), timeout_ms=10_000)
        for role in ("kv", "optimizer", "thumbnails"):
            expect(page.locator(card(page, role))).to_have_attribute("data-status", "healthy")
        save_screenshot(page, "console-overview-birds-down")
        # The rest of the console keeps working: a key is written through the kv panel.
        page.get_by_role("link", name="Key-value").click()
        page.get_by_label("Key", exact=True).fill(f"written-while-birds-is-down-{time.time_ns()}")
        page.get_by_role("button", name="Set", exact=True).click()
        expect(page.locator("#kv-status")).to_contain_text("Created")
    finally:
        platform.resume("birds")

    page.get_by_role("link", name="Overview").click()
    wait_for_status(page, "birds", ("healthy",), timeout_ms=20_000)
    assert took < 10
    assert problems.errors == []


# --------------------------------------------------------------------------------------------
# Key-value and maintenance


def test_kv_panel_sets_reads_explains_a_conflict_and_deletes_a_key(
    signed_in_page: SignedInPage, platform: Platform, save_screenshot: SaveScreenshot
) -> None:
    page, problems = signed_in_page(1280, 800)
    page.get_by_role("link", name="Key-value").click()
    key = f"console-e2e-{time.time_ns()}"

    page.get_by_label("Key", exact=True).fill(key)
    page.get_by_label("Value (JSON)").fill('{"colour": "blue", "count": 3}')
    page.get_by_label("TTL (seconds, optional)").fill("600")
    page.get_by_role("button", name="Set", exact=True).click()
    expect(page.locator("#kv-status")).to_contain_text(f"Created {key}")

    page.get_by_label("Prefix").fill(key)
    page.get_by_role("button", name="Browse").click()
    page.get_by_role("button", name=key).click()
    expect(page.get_by_test_id("kv-value")).to_contain_text('"colour": "blue"')
    expect(page.locator("#kv-meta")).to_contain_text("expires in")

    # Someone else writes the key; a guarded write from the stale read is refused, explained.
    changed = httpx.put(f"{platform.url('kv')}/api/v1/kv/{key}", json={"value": "theirs"})
    assert changed.status_code == 200
    page.get_by_label("Only if unchanged since I read it").check()
    page.get_by_role("button", name="Set", exact=True).click()
    expect(page.locator("#kv-status")).to_contain_text("changed since you read it")
    assert httpx.get(f"{platform.url('kv')}/api/v1/kv/{key}").json()["value"] == "theirs"
    save_screenshot(page, "console-kv-1280x800")
    page.set_viewport_size({"width": 390, "height": 844})
    save_screenshot(page, "console-kv-390x844")
    page.set_viewport_size({"width": 1280, "height": 800})

    page.get_by_role("button", name="Delete…").click()
    page.get_by_role("button", name="Delete", exact=True).click()
    expect(page.locator("#kv-status")).to_contain_text(f"Deleted {key}")
    assert httpx.get(f"{platform.url('kv')}/api/v1/kv/{key}").status_code == 404
    audit = [
        json.loads(line)
        for line in (platform.data_dir / "logs" / "console.log").read_text().splitlines()
        if '"console_action"' in line and key in line
    ]
    assert [(line["action"], line["operator"]) for line in audit] == [
        ("kv.set", "e2e-operator"),
        ("kv.set", "e2e-operator"),  # the refused guarded write is an action too (412)
        ("kv.delete", "e2e-operator"),
    ]
    assert [line["status"] for line in audit] == [201, 412, 204]
    # The conflict (409/412) is a refusal Chromium logs; nothing else may be.
    assert [e for e in problems.errors if EXPECTED_REFUSAL not in e] == []


def test_kv_panel_browses_a_prefix_in_cursor_pages(
    signed_in_page: SignedInPage, platform: Platform
) -> None:
    prefix = f"console-pages-{time.time_ns()}-"
    keys = {f"{prefix}{index:03d}" for index in range(55)}  # more than a page (50)
    with httpx.Client(base_url=platform.url("kv"), timeout=10) as kv:
        for key in keys:
            assert kv.put(f"/api/v1/kv/{key}", json={"value": 1}).status_code == 201
    page, problems = signed_in_page(1280, 800)
    page.get_by_role("link", name="Key-value").click()

    page.get_by_label("Prefix").fill(prefix)
    keys_list = page.locator("#kv-keys")
    page.get_by_role("button", name="Browse").click()
    expect(keys_list).to_have_attribute("aria-busy", "false")
    more = page.get_by_role("button", name="More keys")
    expect(more).to_be_visible()
    for _ in range(10):  # SCAN pages hold up to 50 keys each: follow the cursor to its end
        if not more.is_visible():
            break
        more.click()
        expect(keys_list).to_have_attribute("aria-busy", "false")
    expect(more).to_be_hidden()

    listed = page.locator("#kv-keys li button").all_inner_texts()
    assert set(listed) == keys
    assert problems.errors == []


def test_maintenance_toggle_makes_kv_answer_503_then_serve_again(
    signed_in_page: SignedInPage, platform: Platform
) -> None:
    page, problems = signed_in_page(1280, 800)
    kv = f"{platform.url('kv')}/api/v1/kv?limit=1"
    expect(page.get_by_test_id("maintenance-state")).to_have_text("off")

    page.get_by_role("button", name="Turn on…").click()
    page.get_by_role("button", name="Turn on", exact=True).click()
    expect(page.get_by_test_id("maintenance-state")).to_have_text("ON")
    try:
        assert _status_within(kv, 503, seconds=10)
    finally:
        page.get_by_role("button", name="Turn off…").click()
        page.get_by_role("button", name="Turn off", exact=True).click()
    expect(page.get_by_test_id("maintenance-state")).to_have_text("off")
    assert _status_within(kv, 200, seconds=10)
    assert problems.errors == []


def _status_within(url: str, status: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if httpx.get(url, timeout=2).status_code == status:
            return True
        time.sleep(0.2)
    return False


# --------------------------------------------------------------------------------------------
# Thumbnails and optimizer


def test_upload_two_images_see_their_thumbnails_and_a_bad_file_rejected_with_its_reason(
    signed_in_page: SignedInPage, tmp_path: Path, save_screenshot: SaveScreenshot
) -> None:
    page, problems = signed_in_page(1280, 800)
    page.get_by_role("link", name="Thumbnails").click()
    files = {
        "red.png": png((200, 40, 40)),
        "green.png": png((40, 160, 80), (200, 300)),
        "not-an-image.png": b"this is text, not a picture" * 10,
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)

    # The two pictures are dropped on the drop zone, as a drag from the desktop would; the bad
    # file goes through the file chooser.
    drop_files(page, "#drop", {name: files[name] for name in ("red.png", "green.png")})
    page.locator("#files").set_input_files(str(tmp_path / "not-an-image.png"))

    for name in ("red.png", "green.png"):
        row = page.locator(f'#uploads li[data-file="{name}"]')
        expect(row).to_have_attribute("data-state", "done", timeout=60_000)
        thumbnails = row.locator(".preview img")
        expect(thumbnails.first).to_be_visible()
        assert thumbnails.count() >= 1
        assert thumbnails.first.evaluate("img => img.complete && img.naturalWidth > 0")
    bad = page.locator('#uploads li[data-file="not-an-image.png"]')
    expect(bad).to_have_attribute("data-state", "rejected", timeout=60_000)
    expect(bad.get_by_test_id("upload-status")).to_contain_text("rejected: ")
    save_screenshot(page, "console-thumbnails-1280x800")
    page.set_viewport_size({"width": 390, "height": 844})
    save_screenshot(page, "console-thumbnails-390x844")
    assert [e for e in problems.errors if EXPECTED_REFUSAL not in e] == []


def test_an_optimization_with_constraints_shows_its_chart_lift_and_curves_and_is_listed(
    signed_in_page: SignedInPage, platform: Platform, save_screenshot: SaveScreenshot
) -> None:
    page, problems = signed_in_page(1280, 800)
    page.get_by_role("link", name="Optimizer").click()
    expect(page.locator("#opt-model option", has_text="demo")).to_have_count(1)
    page.get_by_label("Model", exact=True).first.select_option("demo")
    expect(page.locator("#opt-channels tr").first).to_have_attribute("data-channel", "digital")
    channels = page.locator("#opt-channels tr").count()
    # The demo model's channels start at 10 000, 20 000, … in the form; the operator locks tv,
    # caps digital, gives search a floor and sets the total.
    page.get_by_label("tv locked").check()
    page.get_by_label("digital maximum").fill("15000")
    page.get_by_label("search minimum").fill("35000")
    page.get_by_label("Total budget").fill("180000")

    page.get_by_role("button", name="Run").click()

    expect(page.get_by_test_id("opt-status")).to_contain_text("Done", timeout=30_000)
    expect(page.locator('[data-testid="bar-optimal"]')).to_have_count(channels)
    expect(page.locator('[data-testid="bar-current"]')).to_have_count(channels)
    expect(page.get_by_test_id("opt-lift")).not_to_be_empty()
    page.wait_for_function(
        "() => { const img = document.getElementById('opt-curves');"
        " return img.complete && img.naturalWidth > 0; }"
    )
    save_screenshot(page, "console-optimizer-1280x800")
    page.set_viewport_size({"width": 390, "height": 844})
    save_screenshot(page, "console-optimizer-390x844")
    page.set_viewport_size({"width": 1280, "height": 800})

    # The run is one of the optimizer's past results, listed first, there after a reload too.
    short_id = page.get_by_test_id("opt-status").inner_text().rsplit(" ", 1)[-1]
    newest = page.get_by_test_id("opt-result").first
    expect(newest).to_have_attribute("data-id", re.compile(f"^{short_id}"))
    expect(newest.get_by_test_id("opt-result-status")).to_have_text("done")
    result_id = newest.get_attribute("data-id")
    page.reload()
    expect(page.get_by_test_id("opt-result").first).to_have_attribute("data-id", str(result_id))
    # What the optimizer stored is the request the form made.
    stored = httpx.get(
        f"{platform.url('optimizer')}/api/v1/results/{result_id}",
        headers={"Authorization": f"Bearer {admin_token()}"},
    ).json()
    allocation = stored["allocation"]
    assert sum(allocation.values()) == pytest.approx(180_000, rel=1e-9)
    assert allocation["tv"] == pytest.approx(50_000)  # locked at its current spend
    assert allocation["digital"] <= 15_000 * (1 + 1e-9)
    assert allocation["search"] >= 35_000 * (1 - 1e-9)
    assert problems.errors == []


def test_a_dead_lettered_upload_is_inspected_and_redriven_to_done(
    signed_in_page: SignedInPage,
    platform: Platform,
    tmp_path: Path,
    save_screenshot: SaveScreenshot,
) -> None:
    page, problems = signed_in_page(1280, 800)
    page.get_by_role("link", name="Thumbnails").click()
    with thumbnails_unwritable(platform):
        (tmp_path / "blue.png").write_bytes(png((40, 60, 200)))
        page.locator("#files").set_input_files(str(tmp_path / "blue.png"))
        row = page.locator('#uploads li[data-file="blue.png"]')
        expect(row).to_have_attribute("data-state", "failed", timeout=90_000)
        letter = page.get_by_test_id("dead-letter").first
        expect(letter).to_be_visible(timeout=15_000)

    letter.locator("summary").click()
    expect(letter.locator("pre")).to_contain_text('"attempts"')
    save_screenshot(page, "console-dead-letters-1280x800")
    image_id = letter.get_attribute("data-image")
    letter.get_by_role("button", name=re.compile(r"^Redrive ")).click()

    expect(page.locator("#toast")).to_contain_text("sent to the queue again")
    image = f"{platform.url('thumbnails')}/api/v1/images/{image_id}"
    deadline = time.monotonic() + 60
    while httpx.get(image, timeout=5).json()["status"] != "done":
        assert time.monotonic() < deadline, httpx.get(image, timeout=5).text
        time.sleep(0.5)
    expect(page.get_by_test_id("dead-letter")).to_have_count(0, timeout=10_000)
    assert [e for e in problems.errors if "status of 5" not in e and "status of 4" not in e] == []


def test_birds_panel_searches_the_catalog_and_an_admin_edit_with_a_photo_reaches_the_api(
    signed_in_page: SignedInPage,
    platform: Platform,
    tmp_path: Path,
    save_screenshot: SaveScreenshot,
) -> None:
    page, problems = signed_in_page(1280, 800)
    page.get_by_role("link", name="Birds").click()
    expect(page.locator("#bird-list .bird").first).to_be_visible()
    expect(page.locator("#birds-page")).to_have_attribute("href", platform.url("frontend"))

    page.get_by_label("Search").fill("robin")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#bird-list .bird h3").first).to_contain_text("Robin")
    page.wait_for_function(
        "() => [...document.querySelectorAll('#bird-list img')]"
        ".every((img) => img.complete && img.naturalWidth > 0)"
    )
    names = page.locator("#bird-list .bird h3").all_inner_texts()
    assert names
    assert all("robin" in name.lower() for name in names)

    page.locator("#bird-list .bird").first.get_by_role("button", name="Edit").click()
    description = f"Edited from the operator console at {time.time_ns()}."
    page.get_by_label("Description").fill(description)
    (tmp_path / "robin.png").write_bytes(png((150, 90, 60)))
    page.get_by_label("New photo (optional)").set_input_files(str(tmp_path / "robin.png"))
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#bird-status")).to_contain_text("Saved")
    save_screenshot(page, "console-birds-1280x800")

    found = httpx.get(f"{platform.url('birds')}/api/v1/birds", params={"q": "robin"}).json()
    (edited,) = [bird for bird in found["items"] if bird["description"] == description]
    assert edited["photo_id"] is not None  # the photo went to the thumbnails pipeline
    assert problems.errors == []
