"""Object keys: validated before any backend turns one into a path or an S3 key.

A key is a relative, ``/``-separated path of plain segments. What it may not contain is what
could make a file backend step outside its root or an S3 key mean something else: an absolute
path, ``..`` or ``.`` segments (any segment starting with a dot: the file backend keeps its
temporary files under such names), empty segments, backslashes, NUL and other control
characters. Pure functions, no I/O.
"""

from __future__ import annotations

import re
from typing import Final

MAX_KEY_BYTES: Final = 1024
_FORBIDDEN_CHARACTERS: Final = re.compile(r"[\x00-\x1f\x7f\\]")


class InvalidObjectKey(ValueError):
    """A key that could escape its store or that no backend can hold."""

    code = "invalid_object_key"


def validate_key(key: str) -> str:
    """Return ``key`` unchanged if it is safe, else raise :class:`InvalidObjectKey`."""
    if not isinstance(key, str) or not key:
        raise InvalidObjectKey("an object key must be a non-empty string")
    if len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        raise InvalidObjectKey(f"an object key is at most {MAX_KEY_BYTES} bytes")
    if _FORBIDDEN_CHARACTERS.search(key):
        raise InvalidObjectKey("an object key may not contain control characters or '\\'")
    if key.startswith("/"):
        raise InvalidObjectKey("an object key must be relative, not start with '/'")
    for segment in key.split("/"):
        if not segment:
            raise InvalidObjectKey(
                "an object key may not have empty segments ('//' or '/' at the end)"
            )
        if segment.startswith("."):
            raise InvalidObjectKey("an object key segment may not start with '.' (no '.', '..')")
    return key


def validate_prefix(prefix: str) -> str:
    """A listing prefix: empty, or the start of a valid key (a trailing ``/`` is allowed)."""
    if prefix == "":
        return prefix
    validate_key(prefix[:-1] if prefix.endswith("/") and len(prefix) > 1 else prefix)
    return prefix


def join_key(*parts: str) -> str:
    """Join already-safe parts into one key and validate the result."""
    return validate_key("/".join(part.strip("/") for part in parts if part.strip("/")))
