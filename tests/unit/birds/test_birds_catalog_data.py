"""The seed catalog: enough real species, well-formed and consistent enough to be keys and files."""

from __future__ import annotations

import dataclasses
import re

import pytest

from roost.birds.catalog_data import BIRD_SEEDS, BirdSeed

SLUG = re.compile(r"^[a-z]+(?:-[a-z]+)*$")
BINOMIAL = re.compile(r"^[A-Z][a-z]+ [a-z]+$")
SENTENCE_END = re.compile(r"[.!?](?:\s|$)")


def test_catalog_has_at_least_24_species() -> None:
    assert len(BIRD_SEEDS) >= 24
    assert all(isinstance(seed, BirdSeed) for seed in BIRD_SEEDS)


@pytest.mark.parametrize("attribute", ["slug", "common_name", "scientific_name"])
def test_identifying_fields_are_unique(attribute: str) -> None:
    values = [getattr(seed, attribute) for seed in BIRD_SEEDS]
    duplicates = sorted({v for v in values if values.count(v) > 1})
    assert duplicates == []


def test_descriptions_are_unique() -> None:
    descriptions = [seed.description for seed in BIRD_SEEDS]
    assert len(set(descriptions)) == len(descriptions)


@pytest.mark.parametrize("seed", BIRD_SEEDS, ids=lambda seed: seed.slug)
def test_slug_is_lowercase_hyphenated_and_made_from_the_common_name(seed: BirdSeed) -> None:
    assert SLUG.fullmatch(seed.slug), seed.slug
    assert seed.slug == re.sub(r"[^a-z]+", "-", seed.common_name.lower()).strip("-")


@pytest.mark.parametrize("seed", BIRD_SEEDS, ids=lambda seed: seed.slug)
def test_text_fields_are_filled_and_trimmed(seed: BirdSeed) -> None:
    for field in dataclasses.fields(BirdSeed):
        value = getattr(seed, field.name)
        assert isinstance(value, str)
        assert value.strip(), f"{field.name} is empty"
        assert value == value.strip(), f"{field.name} has surrounding whitespace"
        assert "  " not in value, f"{field.name} has a double space"


@pytest.mark.parametrize("seed", BIRD_SEEDS, ids=lambda seed: seed.slug)
def test_scientific_name_is_a_binomial(seed: BirdSeed) -> None:
    assert BINOMIAL.fullmatch(seed.scientific_name), seed.scientific_name


@pytest.mark.parametrize("seed", BIRD_SEEDS, ids=lambda seed: seed.slug)
def test_description_is_one_to_three_sentences_of_sensible_length(seed: BirdSeed) -> None:
    assert 60 <= len(seed.description) <= 420, len(seed.description)
    assert seed.description.endswith(".")
    assert 1 <= len(SENTENCE_END.findall(seed.description)) <= 3


def test_catalog_spans_the_world() -> None:
    regions = {seed.region for seed in BIRD_SEEDS}
    assert len(regions) >= 8
    for place in ("America", "Europe", "Africa", "Asia", "Australia", "New Zealand"):
        assert any(place in region for region in regions), place


def test_seeds_are_immutable() -> None:
    seed = BIRD_SEEDS[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        seed.slug = "changed"  # type: ignore[misc]
