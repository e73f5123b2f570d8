"""The birds page in a real browser (Debian Chromium), under the production CSP.

Only ``frontend_url`` and ``set_api_down`` describe the system under test; the conftest serves
them with the real roles (frontend, birds API, bird image service) as processes.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, Response, expect

from roost.birds.catalog_data import BIRD_SEEDS

pytestmark = pytest.mark.e2e

CATALOG_NAMES = {seed.common_name for seed in BIRD_SEEDS}
SaveScreenshot = Callable[[Page, str], Path]
OpenPage = Callable[..., tuple[Page, Any]]  # conftest's open_page: (page, recorded problems)

_BIRD_ON_SCREEN = """(previous) => {
    const name = document.querySelector('[data-testid="bird-name"]')?.textContent ?? '';
    const image = document.querySelector('[data-testid="bird-image"]');
    return document.getElementById('stage').dataset.state === 'ready'
        && name !== '' && name !== previous
        && image !== null && image.complete && image.naturalWidth > 0;
}"""


# The press settled: either another bird is shown or the error state is.
_NEXT_BIRD_OR_ERROR = """(previous) => {
    const state = document.getElementById('stage').dataset.state;
    const name = document.querySelector('[data-testid="bird-name"]')?.textContent ?? '';
    return state === 'error' || (state === 'ready' && name !== previous);
}"""


def wait_for_new_bird(page: Page, previous: str | None = None) -> str:
    """Wait until a bird other than ``previous`` is shown with its picture; return its name."""
    page.wait_for_function(_BIRD_ON_SCREEN, arg=previous)
    return page.get_by_test_id("bird-name").inner_text()


def image_rendered(page: Page) -> bool:
    result: bool = page.get_by_test_id("bird-image").evaluate(
        "image => image.complete && image.naturalWidth > 0 && image.naturalHeight > 0"
    )
    return result


def record_shown_names(page: Page) -> None:
    """Keep every name the page displays, in order, in ``window.shownNames``."""
    page.evaluate(
        """() => {
            const name = document.querySelector('[data-testid="bird-name"]');
            window.shownNames = [name.textContent];
            new MutationObserver(() => window.shownNames.push(name.textContent))
                .observe(name, { childList: true, characterData: true, subtree: true });
        }"""
    )


def test_page_shows_a_catalog_bird_with_a_rendered_image(
    open_page: OpenPage, frontend_url: str, save_screenshot: SaveScreenshot
) -> None:
    page, problems = open_page(1280, 800)
    page.goto(frontend_url)

    name = wait_for_new_bird(page)

    assert name in CATALOG_NAMES
    assert image_rendered(page)
    expect(page.get_by_test_id("loading-state")).to_be_hidden()
    expect(page.get_by_test_id("error-state")).to_be_hidden()
    expect(page.get_by_test_id("bird-scientific-name")).to_have_css("font-style", "italic")
    expect(page.get_by_test_id("bird-description")).not_to_be_empty()
    expect(page.get_by_test_id("bird-region")).not_to_be_empty()
    expect(page.get_by_test_id("bird-attribution")).to_be_visible()
    expect(page.get_by_test_id("announcer")).to_contain_text(name)
    expect(page).to_have_title(f"{name} · Roost Birds")
    image_box = page.get_by_test_id("bird-image").bounding_box()
    assert image_box == {"x": 0, "y": 0, "width": 1280, "height": 800}
    save_screenshot(page, "birds-page-1280x800")
    assert problems.errors == []


def test_page_fits_a_phone_screen(
    open_page: OpenPage, frontend_url: str, save_screenshot: SaveScreenshot
) -> None:
    page, problems = open_page(390, 844, is_mobile=True, has_touch=True)
    page.goto(frontend_url)

    wait_for_new_bird(page)

    assert image_rendered(page)
    image_box = page.get_by_test_id("bird-image").bounding_box()
    assert image_box == {"x": 0, "y": 0, "width": 390, "height": 844}
    button_box = page.get_by_test_id("next-button").bounding_box()
    assert button_box is not None
    assert button_box["height"] >= 44, "touch target too small"
    assert button_box["y"] + button_box["height"] <= 844
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    name_box = page.get_by_test_id("bird-name").bounding_box()
    assert name_box is not None
    assert name_box["y"] >= 0
    assert name_box["x"] + name_box["width"] <= 390
    save_screenshot(page, "birds-page-390x844")
    assert problems.errors == []


def test_next_button_shows_a_different_bird_each_time(
    open_page: OpenPage, frontend_url: str
) -> None:
    page, problems = open_page()
    api_calls: list[str] = []
    page.on(
        "request",
        lambda request: api_calls.append(request.url) if "/api/v1/birds/" in request.url else None,
    )
    page.goto(frontend_url)
    name = wait_for_new_bird(page)

    for _ in range(4):
        page.get_by_test_id("next-button").click()
        following = wait_for_new_bird(page, previous=name)
        assert following in CATALOG_NAMES
        assert image_rendered(page)
        name = following
    assert problems.errors == []
    # Every request after the very first names the bird it must not repeat.
    assert len(api_calls) >= 5
    assert all("exclude=" in url for url in api_calls[1:]), api_calls


@pytest.mark.parametrize("key", ["Space", "ArrowRight"])
def test_keyboard_shows_the_next_bird(open_page: OpenPage, frontend_url: str, key: str) -> None:
    page, problems = open_page()
    page.goto(frontend_url)
    name = wait_for_new_bird(page)

    page.keyboard.press(key)
    following = wait_for_new_bird(page, previous=name)

    page.get_by_test_id("next-button").focus()
    page.keyboard.press(key)
    wait_for_new_bird(page, previous=following)
    assert problems.errors == []


def test_space_on_the_focused_button_advances_exactly_one_bird(
    open_page: OpenPage, frontend_url: str
) -> None:
    page, _ = open_page()
    page.goto(frontend_url)
    name = wait_for_new_bird(page)
    record_shown_names(page)

    page.get_by_test_id("next-button").focus()
    page.keyboard.press("Space")
    wait_for_new_bird(page, previous=name)
    page.wait_for_timeout(800)  # a second, unwanted transition would land in this window

    assert len(page.evaluate("window.shownNames")) == 2


def test_rapid_presses_never_show_the_same_bird_twice_in_a_row(
    open_page: OpenPage, frontend_url: str
) -> None:
    page, problems = open_page()
    page.goto(frontend_url)
    wait_for_new_bird(page)
    record_shown_names(page)

    # Eight clicks within one task: the first starts a transition, the rest fold into one more.
    page.evaluate(
        """() => {
            const button = document.querySelector('[data-testid="next-button"]');
            for (let i = 0; i < 8; i++) button.click();
        }"""
    )
    page.wait_for_function("() => window.shownNames.length >= 3")
    page.wait_for_timeout(1000)  # a third transition, if the burst were replayed, shows up here
    assert len(page.evaluate("window.shownNames")) == 3

    for _ in range(4):
        page.keyboard.press("ArrowRight")
    page.wait_for_function("() => window.shownNames.length >= 4")
    wait_for_new_bird(page, previous=page.evaluate("window.shownNames.at(-2)"))
    page.wait_for_timeout(1000)

    shown: list[str] = page.evaluate("window.shownNames")
    assert all(a != b for a, b in itertools.pairwise(shown)), shown
    assert image_rendered(page)
    expect(page.get_by_test_id("next-button")).to_be_enabled()
    assert problems.errors == []


def test_api_down_shows_an_error_then_retry_recovers(
    open_page: OpenPage,
    frontend_url: str,
    set_api_down: Callable[[bool], None],
    save_screenshot: SaveScreenshot,
) -> None:
    set_api_down(True)
    page, problems = open_page(390, 844, is_mobile=True, has_touch=True)
    refusals: list[Response] = []
    page.on(
        "response",
        lambda response: (
            refusals.append(response)
            if "/api/v1/birds/" in response.url and response.status == 503
            else None
        ),
    )
    page.goto(frontend_url)

    error = page.get_by_test_id("error-state")
    expect(error).to_be_visible()
    expect(error).to_contain_text("unavailable")
    request_id = refusals[-1].json()["error"]["request_id"]
    expect(page.get_by_test_id("error-reference")).to_contain_text(request_id)
    expect(page.get_by_test_id("loading-state")).to_be_hidden()
    expect(page.get_by_test_id("next-button")).to_be_hidden()
    save_screenshot(page, "birds-page-error-390x844")

    page.get_by_test_id("retry-button").click()
    expect(error).to_be_visible()  # still down: the retry fails the same friendly way

    set_api_down(False)
    page.get_by_test_id("retry-button").click()
    wait_for_new_bird(page)
    expect(error).to_be_hidden()
    assert image_rendered(page)
    expect(page.get_by_test_id("next-button")).to_be_focused()
    assert [e for e in problems.errors if e.startswith("page error")] == []


def test_api_failing_after_a_bird_shows_an_error_and_retry_brings_a_new_bird(
    open_page: OpenPage,
    frontend_url: str,
    set_api_down: Callable[[bool], None],
    save_screenshot: SaveScreenshot,
) -> None:
    page, problems = open_page()
    page.goto(frontend_url)
    name = wait_for_new_bird(page)

    set_api_down(True)
    error = page.get_by_test_id("error-state")
    # The preloaded bird may still arrive first; the press after it must reach the API.
    for _ in range(3):
        page.get_by_test_id("next-button").click()
        page.wait_for_function(_NEXT_BIRD_OR_ERROR, arg=name)
        if error.is_visible():
            break
        name = page.get_by_test_id("bird-name").inner_text()
    expect(error).to_be_visible()
    expect(page.get_by_test_id("retry-button")).to_be_focused()
    save_screenshot(page, "birds-page-error-1280x800")

    set_api_down(False)
    page.get_by_test_id("retry-button").click()
    following = wait_for_new_bird(page, previous=name)
    assert following in CATALOG_NAMES
    expect(error).to_be_hidden()
    assert [e for e in problems.errors if e.startswith("page error")] == []


def test_normal_browsing_logs_no_console_errors_or_warnings(
    open_page: OpenPage, frontend_url: str
) -> None:
    page, problems = open_page()
    page.goto(frontend_url)
    name = wait_for_new_bird(page)
    page.get_by_test_id("next-button").click()
    name = wait_for_new_bird(page, previous=name)
    page.keyboard.press("Space")
    name = wait_for_new_bird(page, previous=name)
    page.keyboard.press("ArrowRight")
    wait_for_new_bird(page, previous=name)

    assert problems.errors == []
    assert problems.warnings == []


def test_keyboard_focus_on_the_next_button_is_visible(
    open_page: OpenPage, frontend_url: str
) -> None:
    page, _ = open_page()
    page.goto(frontend_url)
    wait_for_new_bird(page)

    button = page.get_by_test_id("next-button")
    for _ in range(5):
        page.keyboard.press("Tab")
        if button.evaluate("el => el === document.activeElement"):
            break
    expect(button).to_be_focused()
    expect(button).to_have_css("outline-style", "solid")
    expect(button).to_have_accessible_name("Next bird")
