"""Bird names as clients send them ("Northern Cardinal" or "northern-cardinal"), made into the
slug every lookup is keyed by. Pure: no I/O.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from roost.birds.catalog_data import BIRD_SEEDS
from roost.birds.images.errors import InvalidBirdName

MAX_NAME_CHARS = 100
# Letters and digits of any script, joined by spaces, hyphens, apostrophes or dots: enough for
# every common name ("Keel-billed Toucan", "Cock-of-the-rock", "Tūī") and nothing that could
# carry markup, a path or a query into a URL, a cache key or a provider search.
_NAME = re.compile(r"[^\W_]+(?:[ '\u2019.-]+[^\W_]+)*[.]?")
_NOT_SLUG_CHARS = re.compile(r"[^a-z0-9]+")
SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_COMMON_NAMES = {seed.slug: seed.common_name for seed in BIRD_SEEDS}


@dataclass(frozen=True, slots=True)
class BirdName:
    slug: str
    display: str  # what a person reads: the catalog's common name when we know the bird


def parse_bird_name(raw: str) -> BirdName:
    """The bird ``raw`` names; raises :class:`InvalidBirdName` for anything else."""
    # NFC first: "ū" typed as "u" + a combining macron is one letter, not a letter and a mark.
    name = unicodedata.normalize("NFC", " ".join(raw.split()))
    if not name:
        raise InvalidBirdName("the bird name is empty")
    if len(name) > MAX_NAME_CHARS:
        raise InvalidBirdName(f"the bird name is longer than {MAX_NAME_CHARS} characters")
    if not _NAME.fullmatch(name):
        raise InvalidBirdName(
            "a bird name has letters, digits, spaces, hyphens, apostrophes and dots only"
        )
    slug = slugify(name)
    if not slug:
        raise InvalidBirdName("the bird name needs at least one Latin letter or digit")
    return BirdName(slug, display_name(slug, name))


def slugify(name: str) -> str:
    """``"Keel-billed Toucan"`` -> ``"keel-billed-toucan"``, ``"Tūī"`` -> ``"tui"``.

    Apostrophes vanish rather than split a word (``"Anna's"`` -> ``"annas"``); other characters
    outside ASCII letters and digits (after dropping accents) become one hyphen."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    return _NOT_SLUG_CHARS.sub("-", ascii_name.lower().replace("'", "")).strip("-")


def display_name(slug: str, given: str | None = None) -> str:
    """The catalog's name for ``slug``; else what the client wrote, unless that was a slug."""
    known = _COMMON_NAMES.get(slug)
    if known is not None:
        return known
    if given is not None and given != slug:
        return given
    return slug.replace("-", " ").capitalize()
