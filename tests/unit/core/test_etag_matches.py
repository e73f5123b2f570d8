"""The one If-None-Match check of the routes that answer 304 (thumbnails, bird-images media)."""

from __future__ import annotations

import pytest

from roost.core.responses import etag_matches

ETAG = '"abc123"'


@pytest.mark.parametrize(
    "if_none_match",
    ['"abc123"', 'W/"abc123"', '"other", "abc123"', ' "other" ,W/"abc123" ', "*", '"x", *'],
)
def test_if_none_match_naming_the_etag_or_any_matches(if_none_match: str) -> None:
    assert etag_matches(if_none_match, ETAG)


@pytest.mark.parametrize("if_none_match", [None, "", '"abc12"', "abc123", '"other"', 'W/"x"'])
def test_if_none_match_naming_another_etag_or_absent_does_not_match(
    if_none_match: str | None,
) -> None:
    assert not etag_matches(if_none_match, ETAG)
