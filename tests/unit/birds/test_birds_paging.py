"""Identifiers, cursors and search patterns of the catalog (pure functions)."""

from __future__ import annotations

import base64
import uuid

import pytest

from roost.birds.errors import InvalidBirdId, InvalidSlug
from roost.birds.image_lookup import placeholder_image, usable_url
from roost.birds.paging import (
    MAX_SLUG_CHARS,
    check_slug,
    contains_pattern,
    decode_after,
    encode_after,
    is_slug,
    parse_bird_id,
    parse_identifier,
    slugify,
)
from roost.core.cursors import InvalidCursor, encode_cursor


@pytest.mark.parametrize("slug", ["kea", "northern-cardinal", "a1-b2", "x" * MAX_SLUG_CHARS])
def test_cursor_round_trips(slug: str) -> None:
    cursor = encode_after(slug)
    assert "=" not in cursor
    assert decode_after(cursor) == slug


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "not a cursor",
        "%%%",
        _b64(b"not json"),
        _b64(b"[1, 2]"),
        _b64(b'{"after": 3}'),
        _b64(b'{"after": "Not A Slug"}'),
        _b64(b'{"before": "kea"}'),
        _b64(b'{"after": "kea"}'),  # an object, not a position
        encode_cursor("Not A Slug"),
        encode_cursor("kea", "owl"),
        "é",
        "a" * 201,
    ],
)
def test_cursors_we_did_not_issue_are_refused(cursor: str) -> None:
    with pytest.raises(InvalidCursor):
        decode_after(cursor)


@pytest.mark.parametrize(
    ("query", "pattern"),
    [
        ("robin", "%robin%"),
        ("50%", "%50\\%%"),
        ("a_b", "%a\\_b%"),
        ("back\\slash", "%back\\\\slash%"),
        ("%_\\", "%\\%\\_\\\\%"),
    ],
)
def test_search_pattern_escapes_like_wildcards(query: str, pattern: str) -> None:
    assert contains_pattern(query) == pattern


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Northern Cardinal", "northern-cardinal"),
        ("Andean Cock-of-the-rock", "andean-cock-of-the-rock"),
        ("  Pájaro   carpintero!! ", "pajaro-carpintero"),
        ("Tūī", "tui"),
        ("Ωμέγα", ""),
        ("a" * 200, "a" * MAX_SLUG_CHARS),
    ],
)
def test_slugify(name: str, slug: str) -> None:
    assert slugify(name) == slug


def test_slugify_never_ends_a_truncated_slug_with_a_hyphen() -> None:
    slug = slugify("a" * (MAX_SLUG_CHARS - 1) + " bird")
    assert slug == "a" * (MAX_SLUG_CHARS - 1)
    assert is_slug(slug)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Kea",
        "kea-",
        "-kea",
        "k--ea",
        "ke a",
        "kéa",
        "x" * (MAX_SLUG_CHARS + 1),
        "5f0c1e2a-8d4b-4c6e-9a7f-3b2d1c0e9f8a",  # a UUID (fixed: test ids must not vary)
    ],
)
def test_not_slugs(text: str) -> None:
    assert not is_slug(text)
    with pytest.raises(InvalidSlug):
        check_slug(text)


def test_route_names_are_reserved_slugs() -> None:
    with pytest.raises(InvalidSlug, match="reserved"):
        check_slug("random")
    assert check_slug("random-bird") == "random-bird"


def test_identifier_is_a_uuid_or_a_slug() -> None:
    bird_id = uuid.uuid4()
    assert parse_identifier(str(bird_id)) == bird_id
    assert parse_identifier(str(bird_id).upper()) == bird_id
    assert parse_identifier("kea") == "kea"
    assert parse_bird_id(str(bird_id)) == bird_id
    for bad in ("Kea!", "", "{" + str(bird_id) + "}", "kea/x"):
        with pytest.raises(InvalidBirdId):
            parse_identifier(bad)
    for bad in ("kea", bird_id.hex, f"urn:uuid:{bird_id}"):
        with pytest.raises(InvalidBirdId):
            parse_bird_id(bad)


@pytest.mark.parametrize(
    ("url", "usable"),
    [
        ("/media/kea.jpg", True),
        ("https://images.example/kea.jpg", True),
        ("HTTP://images.example/kea.jpg", True),
        ("data:image/svg+xml;base64,PHN2Zy8+", True),
        ("//evil.example/kea.jpg", False),
        ("javascript:alert(1)", False),
        ("data:text/html,<script>", False),
        ("kea.jpg", False),
        ("ftp://x/kea.jpg", False),
    ],
)
def test_only_image_urls_a_browser_loads_are_usable(url: str, usable: bool) -> None:
    assert usable_url(url) is usable


def test_placeholder_points_at_the_bird_api_and_is_not_available() -> None:
    image = placeholder_image("kea")
    assert image.url == "/api/v1/birds/kea/placeholder.svg"
    assert image.as_dict()["source"] == "placeholder"
    assert image.available is False
