from __future__ import annotations

import pytest

from roost.core.cursors import InvalidCursor, encode_cursor
from roost.kv.errors import InvalidKey, InvalidTTL, KeyTooLarge
from roost.kv.keys import (
    MAX_KEY_CHARS,
    decode_scan_position,
    glob_escape,
    validate_key,
    validate_prefix,
    validate_ttl,
)


def test_validate_key_accepts_unicode_up_to_the_character_limit() -> None:
    key = "🐦" * MAX_KEY_CHARS
    assert validate_key(key) == key


def test_validate_key_rejects_empty() -> None:
    with pytest.raises(InvalidKey, match="empty"):
        validate_key("")


def test_validate_key_limit_counts_characters_as_the_openapi_schema_does() -> None:
    with pytest.raises(KeyTooLarge, match="513 characters"):
        validate_key("a" * 512 + "é")


@pytest.mark.parametrize("bad", ["a\x00b", "line\nbreak", "tab\there", "del\x7f", "c1\x85"])
def test_validate_key_rejects_control_characters(bad: str) -> None:
    with pytest.raises(InvalidKey, match="control"):
        validate_key(bad)


def test_validate_key_rejects_lone_surrogates() -> None:
    with pytest.raises(InvalidKey, match="UTF-8"):
        validate_key("bad\ud800")


def test_validate_prefix_allows_empty_but_not_control_characters() -> None:
    assert validate_prefix("") == ""
    with pytest.raises(InvalidKey):
        validate_prefix("x\x01")


@pytest.mark.parametrize(
    ("ttl", "ok"), [(None, True), (1, True), (100, True), (0, False), (-5, False), (101, False)]
)
def test_validate_ttl_bounds(ttl: int | None, ok: bool) -> None:
    if ok:
        assert validate_ttl(ttl, 100) == ttl
    else:
        with pytest.raises(InvalidTTL):
            validate_ttl(ttl, 100)


def test_glob_escape_makes_match_patterns_literal() -> None:
    assert glob_escape("a*b?c[d]e\\") == "a\\*b\\?c\\[d\\]e\\\\"


@pytest.mark.parametrize(("cursor", "skip"), [(0, 0), (17, 3), (2**40, 999)])
def test_scan_position_round_trips(cursor: int, skip: int) -> None:
    assert decode_scan_position(encode_cursor(cursor, skip)) == (cursor, skip)


@pytest.mark.parametrize(
    "bad", ["not-base64!!", "Zm9v", encode_cursor(-1, 0), encode_cursor(3, -1), encode_cursor(3)]
)
def test_scan_position_rejects_forged_values(bad: str) -> None:
    with pytest.raises(InvalidCursor):
        decode_scan_position(bad)


def test_scan_position_treats_missing_as_start() -> None:
    assert decode_scan_position(None) == (0, 0)
    assert decode_scan_position("") == (0, 0)
