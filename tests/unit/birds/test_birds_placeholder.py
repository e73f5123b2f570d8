"""The no-image placeholder: always a well-formed, bounded SVG, whatever the bird is called."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from hypothesis import given
from hypothesis import strategies as st

from roost.birds.placeholder import (
    FALLBACK_NAME,
    MAX_NAME_CHARS,
    MAX_SIDE,
    MIN_SIDE,
    PlaceholderSizeError,
    display_name,
    placeholder_svg,
)

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    # The input is our own output, and no entity expansion is at stake: the point is to parse it.
    return ET.fromstring(svg)  # noqa: S314


def shown_text(root: ET.Element) -> str:
    text = root.find(f"{SVG}text")
    assert text is not None
    return "".join(text.itertext())


def test_placeholder_is_an_svg_of_the_requested_size() -> None:
    root = parse(placeholder_svg("Northern Cardinal", width=640, height=480))

    assert root.tag == f"{SVG}svg"
    assert (root.get("width"), root.get("height")) == ("640", "480")
    assert root.get("viewBox") == "0 0 640 480"
    assert shown_text(root) == "Northern Cardinal"
    assert root.findtext(f"{SVG}title") == "Northern Cardinal"
    assert root.get("aria-label") == "Northern Cardinal"
    assert root.find(f".//{SVG}path") is not None, "no bird silhouette"


def test_default_size_matches_the_generated_illustrations() -> None:
    root = parse(placeholder_svg("Kea"))
    assert (root.get("width"), root.get("height")) == ("1200", "800")


def test_markup_in_the_name_is_escaped_not_executed() -> None:
    name = "<script>alert(\"x\")</script> & <b id='y'>Jay</b>"
    svg = placeholder_svg(name)
    root = parse(svg)

    assert "<script" not in svg
    local_names = {el.tag.removeprefix(SVG) for el in root.iter()}
    assert local_names.isdisjoint({"script", "b"})
    assert shown_text(root) == name
    assert root.findtext(f"{SVG}title") == name
    assert root.get("aria-label") == name


def test_characters_xml_cannot_carry_are_dropped() -> None:
    root = parse(placeholder_svg("Blue\x00 Jay\x07\ufffe"))
    assert shown_text(root) == "Blue Jay"


def test_whitespace_is_collapsed_to_one_line() -> None:
    assert display_name("  Great \n\t Tit  ") == "Great Tit"


@pytest.mark.parametrize("name", ["", "   ", "\x00\x01"])
def test_a_name_with_nothing_to_show_gets_a_fallback(name: str) -> None:
    assert shown_text(parse(placeholder_svg(name))) == FALLBACK_NAME


def test_very_long_names_are_truncated_and_the_document_stays_small() -> None:
    name = "Extraordinarily " * 500
    svg = placeholder_svg(name)
    text = shown_text(parse(svg))

    assert len(text) <= MAX_NAME_CHARS
    assert text.endswith("\u2026")
    assert name.startswith(text[:-1])
    assert len(svg) < 4000


def test_long_names_get_a_smaller_font_than_short_ones() -> None:
    def font_size(name: str) -> float:
        text = parse(placeholder_svg(name)).find(f"{SVG}text")
        assert text is not None
        return float(text.get("font-size", "0"))

    assert font_size("A" * MAX_NAME_CHARS) < font_size("Kea")


def test_same_name_gives_the_same_picture_and_different_names_differ() -> None:
    assert placeholder_svg("Galah") == placeholder_svg("Galah")
    assert placeholder_svg("Galah") != placeholder_svg("Tui").replace("Tui", "Galah")


@pytest.mark.parametrize(
    ("width", "height"),
    [(0, 800), (1200, -1), (MIN_SIDE - 1, 800), (1200, MAX_SIDE + 1), (True, 800), (12.5, 800)],
)
def test_out_of_range_sizes_are_rejected(width: object, height: object) -> None:
    with pytest.raises(PlaceholderSizeError) as caught:
        placeholder_svg("Kea", width=width, height=height)  # type: ignore[arg-type]
    assert caught.value.code == "invalid_placeholder_size"


def test_sizes_at_the_limits_are_accepted() -> None:
    root = parse(placeholder_svg("Kea", width=MIN_SIDE, height=MAX_SIDE))
    assert (root.get("width"), root.get("height")) == (str(MIN_SIDE), str(MAX_SIDE))


@given(st.text(max_size=300))
def test_any_name_yields_well_formed_svg_showing_its_display_form(name: str) -> None:
    root = parse(placeholder_svg(name))
    assert shown_text(root) == display_name(name)
    assert root.get("aria-label") == display_name(name)
    assert 0 < len(display_name(name)) <= MAX_NAME_CHARS
