"""Object key validation: what could escape a store's root never reaches a backend."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from roost.infra.storage.keys import (
    MAX_KEY_BYTES,
    InvalidObjectKey,
    join_key,
    validate_key,
    validate_prefix,
)


@pytest.mark.parametrize(
    "key", ["a", "uploads/3f2a", "a/b/c.jpg", "vögel/kiwi 🐦.jpg", "x..y/z.", "k" * MAX_KEY_BYTES]
)
def test_plain_relative_keys_are_accepted(key: str) -> None:
    assert validate_key(key) == key


@pytest.mark.parametrize(
    "key",
    [
        "",
        "/abs",
        "..",
        "../x",
        "a/..",
        "a/../b",
        ".",
        "./a",
        "a//b",
        "a/",
        ".hidden/x",
        "a/.tmp-123",
        "nul\x00",
        "line\nbreak",
        "del\x7f",
        "win\\path",
        "é" * (MAX_KEY_BYTES // 2 + 1),
    ],
)
def test_traversal_and_control_characters_are_rejected(key: str) -> None:
    with pytest.raises(InvalidObjectKey):
        validate_key(key)


@given(st.lists(st.sampled_from(["a", "b", "..", ".", "", "/", "\x00", "c.d"]), max_size=6))
def test_no_accepted_key_can_climb_out_of_its_root(parts: list[str]) -> None:
    key = "".join(parts)
    try:
        validate_key(key)
    except InvalidObjectKey:
        return
    segments = key.split("/")
    assert not key.startswith("/")
    assert ".." not in segments
    assert "." not in segments
    assert "" not in segments
    assert "\x00" not in key


def test_prefixes_may_be_empty_or_end_with_a_slash() -> None:
    assert validate_prefix("") == ""
    assert validate_prefix("incoming/") == "incoming/"
    assert validate_prefix("incoming/2025") == "incoming/2025"
    for bad in ("/", "../", "a//", "/abs/"):
        with pytest.raises(InvalidObjectKey):
            validate_prefix(bad)


def test_join_key_builds_and_validates() -> None:
    assert join_key("uploads/", "/abc", "150.jpg") == "uploads/abc/150.jpg"
    with pytest.raises(InvalidObjectKey):
        join_key("uploads", "..", "x")
