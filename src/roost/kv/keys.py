"""Pure validation of keys, TTLs and list cursors (no I/O)."""

from __future__ import annotations

import re

from roost.core.cursors import InvalidCursor, decode_cursor
from roost.kv.errors import InvalidKey, InvalidTTL, KeyTooLarge

# Counted in characters, as the OpenAPI schema's maxLength counts them (at most 2 KiB of
# UTF-8): a byte limit cannot be written in JSON Schema, so clients could not check it.
MAX_KEY_CHARS = 512
# C0/C1 control characters and DEL; they break logs, terminals and redis-cli output.
CONTROL_CHARACTERS = r"\x00-\x1f\x7f-\x9f"
_CONTROL = re.compile(f"[{CONTROL_CHARACTERS}]")
# What the OpenAPI schema says of a key in a path: no control characters, no "/".
KEY_PATTERN = f"^[^/{CONTROL_CHARACTERS}]+$"
_GLOB_SPECIAL = re.compile(r"([*?\[\]\\])")


def validate_key(key: str) -> str:
    if not key:
        raise InvalidKey("key must not be empty")
    if len(key) > MAX_KEY_CHARS:
        raise KeyTooLarge(f"key is {len(key)} characters; the limit is {MAX_KEY_CHARS}")
    if _CONTROL.search(key):
        raise InvalidKey("key must not contain control characters")
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidKey("key must be valid UTF-8") from None
    return key


def validate_prefix(prefix: str) -> str:
    if len(prefix) > MAX_KEY_CHARS:
        raise KeyTooLarge(f"prefix is longer than {MAX_KEY_CHARS} characters")
    if _CONTROL.search(prefix):
        raise InvalidKey("prefix must not contain control characters")
    return prefix


def validate_ttl(ttl_seconds: int | None, max_ttl_seconds: int) -> int | None:
    if ttl_seconds is None:
        return None
    if ttl_seconds < 1:
        raise InvalidTTL("ttl_seconds must be at least 1")
    if ttl_seconds > max_ttl_seconds:
        raise InvalidTTL(f"ttl_seconds must be at most {max_ttl_seconds}")
    return ttl_seconds


def glob_escape(text: str) -> str:
    """Escape Redis MATCH pattern characters so a prefix matches literally."""
    return _GLOB_SPECIAL.sub(r"\\\1", text)


def decode_scan_position(cursor: str | None) -> tuple[int, int]:
    """Where a page starts: the SCAN cursor and how much of its batch was already served.
    No cursor (or an empty one) is the start; anything we did not issue is InvalidCursor."""
    if not cursor:
        return 0, 0
    redis_cursor, skip = decode_cursor(cursor, (int, int))
    if redis_cursor < 0 or skip < 0:
        raise InvalidCursor()
    return redis_cursor, skip
