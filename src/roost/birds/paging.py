"""Pure rules of the catalog's identifiers, cursors and search patterns (no I/O).

A bird is addressed by its id (a UUID) or its slug; a slug may never look like a UUID, so the
two can share one path segment without ambiguity. A list cursor holds the last slug of a page
(the core's opaque codec, :mod:`roost.core.cursors`).
"""

from __future__ import annotations

import re
import unicodedata
import uuid

from roost.birds.errors import InvalidBirdId, InvalidSlug
from roost.core.cursors import InvalidCursor, decode_cursor, encode_cursor

MAX_SLUG_CHARS = 80
# Path segments under /api/v1/birds/ that are routes, not birds.
RESERVED_SLUGS = frozenset({"random"})
SLUG_PATTERN = "^[a-z0-9]+(?:-[a-z0-9]+)*$"
_SLUG = re.compile(SLUG_PATTERN)
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_NOT_SLUG_CHARS = re.compile(r"[^a-z0-9]+")
# Backslash is PostgreSQL's default LIKE escape: it must itself be escaped first.
_LIKE_SPECIAL = re.compile(r"([\\%_])")


def is_slug(text: str) -> bool:
    return (
        len(text) <= MAX_SLUG_CHARS
        and _SLUG.fullmatch(text) is not None
        and _UUID.fullmatch(text) is None
    )


def check_slug(text: str) -> str:
    """``text`` if a new bird may have it as its slug, else :class:`InvalidSlug`."""
    if text in RESERVED_SLUGS:
        raise InvalidSlug(f"{text!r} is reserved: it names a route of the bird API")
    if not is_slug(text):
        raise InvalidSlug(
            f"{text[:100]!r} is not a slug: lowercase letters, digits and single hyphens, "
            f"at most {MAX_SLUG_CHARS} characters, not shaped like a UUID"
        )
    return text


def slugify(name: str) -> str:
    """``"Andean Cock-of-the-rock"`` → ``"andean-cock-of-the-rock"``; accents are dropped."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    slug = _NOT_SLUG_CHARS.sub("-", ascii_name.lower()).strip("-")
    return slug[:MAX_SLUG_CHARS].rstrip("-")


def parse_identifier(raw: str) -> uuid.UUID | str:
    """A bird's id (canonical UUID text) or slug; anything else is :class:`InvalidBirdId`."""
    if _UUID.fullmatch(raw):
        return uuid.UUID(raw)
    if is_slug(raw):
        return raw
    raise InvalidBirdId(f"{raw[:100]!r} is neither a bird id (a UUID) nor a slug")


def parse_bird_id(raw: str) -> uuid.UUID:
    if not _UUID.fullmatch(raw):
        raise InvalidBirdId(f"{raw[:100]!r} is not a bird id (a UUID)")
    return uuid.UUID(raw)


def encode_after(last_slug: str) -> str:
    """The cursor of the page that starts after ``last_slug``."""
    return encode_cursor(last_slug)


def decode_after(cursor: str) -> str:
    """The slug a page starts after; :class:`InvalidCursor` for anything we did not issue."""
    (after,) = decode_cursor(cursor, (str,))
    slug: str = after
    if not is_slug(slug):
        raise InvalidCursor()
    return slug


def contains_pattern(query: str) -> str:
    """A LIKE pattern matching ``query`` literally anywhere: ``50%_off`` → ``%50\\%\\_off%``."""
    return "%" + _LIKE_SPECIAL.sub(r"\\\1", query) + "%"
