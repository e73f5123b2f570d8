"""Bird names as the image service accepts them, and the slugs its lookups are keyed by."""

from __future__ import annotations

import unicodedata

import pytest

from roost.birds.catalog_data import BIRD_SEEDS
from roost.birds.images.errors import InvalidBirdName
from roost.birds.images.names import MAX_NAME_CHARS, SLUG, BirdName, parse_bird_name


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("northern-cardinal", BirdName("northern-cardinal", "Northern Cardinal")),
        ("Northern Cardinal", BirdName("northern-cardinal", "Northern Cardinal")),
        ("  NORTHERN\tcardinal ", BirdName("northern-cardinal", "Northern Cardinal")),
        ("Andean Cock-of-the-rock", BirdName("andean-cock-of-the-rock", "Andean Cock-of-the-rock")),
        ("Tūī", BirdName("tui", "Tui")),
        (unicodedata.normalize("NFD", "Tūī"), BirdName("tui", "Tui")),
        ("Anna's Hummingbird", BirdName("annas-hummingbird", "Anna's Hummingbird")),
        ("Anna\u2019s Hummingbird", BirdName("annas-hummingbird", "Anna\u2019s Hummingbird")),
        ("snowy-owl", BirdName("snowy-owl", "Snowy owl")),
        ("St. Lucia Amazon", BirdName("st-lucia-amazon", "St. Lucia Amazon")),
        ("a" * MAX_NAME_CHARS, BirdName("a" * MAX_NAME_CHARS, "A" + "a" * (MAX_NAME_CHARS - 1))),
    ],
)
def test_name_or_slug_becomes_the_birds_slug_and_display_name(raw: str, expected: BirdName) -> None:
    assert parse_bird_name(raw) == expected


def test_every_catalog_species_is_found_by_its_common_name() -> None:
    for seed in BIRD_SEEDS:
        assert parse_bird_name(seed.common_name) == BirdName(seed.slug, seed.common_name)


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "a" * (MAX_NAME_CHARS + 1),
        "<script>",
        "robin/../../etc",
        "robin?x=1",
        "robin\x00",
        "robin_redbreast",
        "-robin",
        "robin--",
        "..",
        "💥",
        "红嘴蓝鹊",  # letters, but none a slug can hold
    ],
)
def test_anything_but_a_bird_name_is_refused(raw: str) -> None:
    with pytest.raises(InvalidBirdName):
        parse_bird_name(raw)


@pytest.mark.parametrize("raw", ["Kea", "Grey Parrot", "Keel-billed Toucan", "Tūī", "A. b"])
def test_slugs_are_plain_lowercase_words_joined_by_hyphens(raw: str) -> None:
    assert SLUG.fullmatch(parse_bird_name(raw).slug)
