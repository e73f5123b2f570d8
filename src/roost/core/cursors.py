"""The one page-cursor codec: an opaque base64url string around a keyset position.

A position is a short tuple of JSON scalars (``(created_at_iso, id)``, ``(redis_cursor, skip)``,
``(last_slug,)``), encoded as a JSON array. Clients only pass a cursor back; the domain that
issued it checks the decoded values mean something (a known slug form, a timezone-aware time)
and raises :class:`InvalidCursor` when they do not, so every bad cursor is the same 400.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Annotated, Any

import orjson
from fastapi import Query

from roost.core.errors import DomainError

# Far above any position we issue (a timestamp and a UUID take about 110 characters), low
# enough that decoding a hostile cursor costs nothing.
MAX_CURSOR_CHARS = 200
# What the OpenAPI schema may say of a cursor parameter: unpadded base64url.
CURSOR_PATTERN = r"^[A-Za-z0-9_-]*$"

Scalar = str | int
# The ``cursor`` query parameter of every list route, documented the same way everywhere.
CursorQuery = Annotated[
    str | None,
    Query(
        max_length=MAX_CURSOR_CHARS,
        json_schema_extra={"pattern": CURSOR_PATTERN},
        description="The next_cursor of the previous page (opaque; a forged one is 400)",
    ),
]
_FORGED = "cursor is not one this API returned; pass back the next_cursor of a previous page"


class InvalidCursor(DomainError):
    code = "invalid_cursor"
    http_status = 400

    def __init__(self, message: str = _FORGED) -> None:
        super().__init__(message)


def encode_cursor(*position: Scalar) -> str:
    """The opaque cursor for ``position`` (strings and integers only)."""
    return base64.urlsafe_b64encode(orjson.dumps(position)).decode("ascii").rstrip("=")


def decode_cursor(cursor: str, kinds: Sequence[type[Scalar]]) -> tuple[Any, ...]:
    """The position ``cursor`` holds, one value per entry of ``kinds`` and of that type
    (``int`` never matches a JSON ``true``); :class:`InvalidCursor` for anything else."""
    if len(cursor) > MAX_CURSOR_CHARS:
        raise InvalidCursor("cursor is too long; pass back the next_cursor of a previous page")
    try:
        # validate=True: the lenient default would skip characters that are not base64url.
        padded = cursor.encode("ascii") + b"=" * (-len(cursor) % 4)
        raw = base64.b64decode(padded, altchars=b"-_", validate=True)
        position = orjson.loads(raw)
    except (binascii.Error, UnicodeError, ValueError):
        raise InvalidCursor() from None
    if not isinstance(position, list) or len(position) != len(kinds):
        raise InvalidCursor()
    for value, kind in zip(position, kinds, strict=True):
        if type(value) is not kind:
            raise InvalidCursor()
    return tuple(position)
