"""Thumbnail presets by name, and the list cursors of the thumbnails API (pure)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from roost.core.cursors import InvalidCursor, encode_cursor
from roost.thumbnails.errors import InvalidSizes
from roost.thumbnails.imaging import ThumbnailSpec
from roost.thumbnails.presets import MAX_SIZES_PER_IMAGE, Presets, parse_preset
from roost.thumbnails.service import decode_position, encode_position

PRESETS = Presets.from_names(["150", "300", "600", "150x150"], ["150", "300", "600"])


def test_preset_names_map_to_specs() -> None:
    assert parse_preset("300") == ThumbnailSpec("300", 300)
    assert parse_preset("150x150") == ThumbnailSpec("150x150", 150, square=True)


@pytest.mark.parametrize(
    "name", ["", "0", "-5", "abc", "150x300", "150X150", " 150", "99999", "1e3"]
)
def test_malformed_preset_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidSizes):
        parse_preset(name)


def test_no_request_means_the_default_sizes() -> None:
    assert PRESETS.choose(None) == ("150", "300", "600")


def test_requested_sizes_are_trimmed_deduplicated_and_kept_in_order() -> None:
    assert PRESETS.choose(" 600, 150x150,600 ") == ("600", "150x150")
    assert PRESETS.choose(["300"]) == ("300",)


@pytest.mark.parametrize("requested", ["", " , ", "999", "150,abc", "150x150,42"])
def test_unknown_or_empty_requests_are_refused(requested: str) -> None:
    with pytest.raises(InvalidSizes):
        PRESETS.choose(requested)


def test_too_many_sizes_are_refused() -> None:
    names = [str(n) for n in range(10, 10 + MAX_SIZES_PER_IMAGE + 1)]
    presets = Presets.from_names(names, names[:1])
    with pytest.raises(InvalidSizes):
        presets.choose(names)


def test_defaults_must_be_allowed_sizes() -> None:
    with pytest.raises(InvalidSizes):
        Presets.from_names(["150"], ["300"])
    with pytest.raises(InvalidSizes):
        Presets.from_names(["150"], [])


def test_page_position_round_trips() -> None:
    at = datetime(2025, 11, 24, 10, 30, 1, 123456, tzinfo=UTC)
    row_id = uuid.uuid4()
    assert decode_position(encode_position(at, row_id)) == (at, row_id)


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "not base64 !",
        "bm9wZQ",
        encode_cursor(1, 2),
        encode_cursor("2025-11-24T10:30:01+00:00", "x"),  # no UUID
        encode_cursor("yesterday", "5f0c1e2a-8d4b-4c6e-9a7f-3b2d1c0e9f8a"),  # no time
        encode_cursor("2025-11-24T10:30:01", "5f0c1e2a-8d4b-4c6e-9a7f-3b2d1c0e9f8a"),  # no zone
    ],
)
def test_foreign_cursors_are_refused(cursor: str) -> None:
    with pytest.raises(InvalidCursor):
        decode_position(cursor)
