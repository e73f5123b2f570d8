"""The one page-cursor codec: opaque, round-trips its position, refuses what it did not issue."""

from __future__ import annotations

import base64
import re

import orjson
import pytest

from roost.core.cursors import (
    CURSOR_PATTERN,
    MAX_CURSOR_CHARS,
    InvalidCursor,
    decode_cursor,
    encode_cursor,
)


def raw_cursor(payload: bytes) -> str:
    return base64.urlsafe_b64encode(payload).decode().rstrip("=")


@pytest.mark.parametrize(
    ("position", "kinds"),
    [
        (("2026-12-03T20:05:28.123456+00:00", "6f1c3a52-9a55-4a8e-9e1c-0d6f6f2a0c11"), (str, str)),
        ((123456789, 0), (int, int)),
        (("andean-cock-of-the-rock",), (str,)),
        (("ünïcode ☃",), (str,)),
    ],
)
def test_cursor_round_trips_its_position(
    position: tuple[str | int, ...], kinds: tuple[type[str | int], ...]
) -> None:
    cursor = encode_cursor(*position)
    assert decode_cursor(cursor, kinds) == position


def test_cursor_is_unpadded_base64url_that_fits_the_documented_limits() -> None:
    cursor = encode_cursor(
        "2026-12-03T20:05:28.123456+00:00", "6f1c3a52-9a55-4a8e-9e1c-0d6f6f2a0c11"
    )
    assert re.fullmatch(CURSOR_PATTERN, cursor)
    assert "=" not in cursor
    assert len(cursor) <= MAX_CURSOR_CHARS


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "!!!!",  # not base64url: the lenient decoder would skip these characters
        "abc",  # base64 that decodes to no JSON
        "a",  # impossible base64 length
        encode_cursor(1, 2)[:-2],  # truncated
        encode_cursor(1, 2) + "x",  # one character too many
        raw_cursor(b"\xff\xfe"),  # not UTF-8
        "é" * 8,  # not ASCII
    ],
)
def test_tampered_cursor_is_invalid(cursor: str) -> None:
    with pytest.raises(InvalidCursor) as raised:
        decode_cursor(cursor, (int, int))
    assert raised.value.code == "invalid_cursor"
    assert raised.value.http_status == 400


@pytest.mark.parametrize(
    "payload",
    [
        {"after": "kea"},  # an object, not a position
        [1],  # too few values
        [1, 2, 3],  # too many values
        [1, "2"],  # a string where an integer belongs
        [True, 2],  # JSON true is no integer
        [1.5, 2],  # nor is a float
        [None, 2],
        "1:2",
    ],
)
def test_cursor_of_the_wrong_shape_is_invalid(payload: object) -> None:
    with pytest.raises(InvalidCursor):
        decode_cursor(raw_cursor(orjson.dumps(payload)), (int, int))


def test_oversized_cursor_is_invalid_before_it_is_decoded() -> None:
    # A valid position, only too long: refused by its length alone.
    cursor = encode_cursor("x" * MAX_CURSOR_CHARS)
    assert len(cursor) > MAX_CURSOR_CHARS
    with pytest.raises(InvalidCursor, match="too long"):
        decode_cursor(cursor, (str,))


def test_cursor_at_the_limit_is_accepted() -> None:
    # ["xxx…"] with 146 x is 150 bytes of JSON: exactly 200 base64url characters.
    cursor = encode_cursor("x" * 146)
    assert len(cursor) == MAX_CURSOR_CHARS
    assert decode_cursor(cursor, (str,)) == ("x" * 146,)
