"""Key-value use cases over Redis.

Each key is a Redis hash ``<namespace><key>`` holding the JSON-encoded value and a version.
Versions come from one shared counter, so a key deleted and written again never reuses a
version: an ETag can't match a value it never described.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from roost.core.cursors import encode_cursor
from roost.core.responses import json_bytes
from roost.infra.redis import AutoPipeline, timed
from roost.kv.errors import KeyNotFound, ValueTooLarge, VersionConflict
from roost.kv.keys import (
    decode_scan_position,
    glob_escape,
    validate_key,
    validate_prefix,
    validate_ttl,
)

VERSION_COUNTER = "roost:kv:version"
MAX_SCAN_ROUNDS = 64  # bounds the work of one page over a sparse keyspace

# KEYS[1] entry, KEYS[2] version counter; ARGV[1] encoded value, ARGV[2] expected version
# ('' = any, '0' = must not exist), ARGV[3] ttl seconds ('' = keep no expiry).
_PUT_SCRIPT = """
local current = tonumber(redis.call('HGET', KEYS[1], 'ver')) or 0
if ARGV[2] ~= '' and tonumber(ARGV[2]) ~= current then
  return {-1, current}
end
local version = redis.call('INCR', KEYS[2])
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'ver', version)
if ARGV[3] ~= '' then
  redis.call('EXPIRE', KEYS[1], ARGV[3])
else
  redis.call('PERSIST', KEYS[1])
end
return {version, current}
"""

# KEYS[1] entry; ARGV[1] expected version ('' = any). Returns deleted version, 0 if absent,
# -current if the expectation failed.
_DELETE_SCRIPT = """
local current = tonumber(redis.call('HGET', KEYS[1], 'ver')) or 0
if current == 0 then return 0 end
if ARGV[1] ~= '' and tonumber(ARGV[1]) ~= current then return -current end
redis.call('DEL', KEYS[1])
return current
"""


@dataclass(frozen=True)
class KVConfig:
    namespace: str
    max_value_bytes: int
    max_ttl_seconds: int


@dataclass(frozen=True)
class Entry:
    key: str
    value: Any
    version: int


@dataclass(frozen=True)
class WriteResult:
    entry: Entry
    created: bool


@dataclass(frozen=True)
class Page:
    keys: list[str]
    next_cursor: str | None


def encode_value(value: Any, config: KVConfig) -> bytes:
    encoded = json_bytes(value)
    if len(encoded) > config.max_value_bytes:
        raise ValueTooLarge(
            f"value is {len(encoded)} bytes encoded; the limit is {config.max_value_bytes} bytes"
        )
    return encoded


async def get_entry(redis: AutoPipeline, config: KVConfig, key: str) -> Entry:
    validate_key(key)
    raw_value, raw_version = await timed(
        "hmget", redis.execute("HMGET", config.namespace + key, "v", "ver")
    )
    if raw_value is None:
        raise KeyNotFound(f"key '{key}' not found")
    return Entry(key, orjson.loads(raw_value), int(raw_version or 0))


async def find_value(redis: AutoPipeline, config: KVConfig, key: str) -> Any:
    """The value of ``key``, or None when it does not exist."""
    try:
        return (await get_entry(redis, config, key)).value
    except KeyNotFound:
        return None


async def put_entry(
    redis: AutoPipeline,
    config: KVConfig,
    key: str,
    value: Any,
    *,
    ttl_seconds: int | None = None,
    expected_version: int | None = None,
) -> WriteResult:
    """Write ``key``; ``expected_version`` 0 means "only if absent", None means "any"."""
    validate_key(key)
    ttl = validate_ttl(ttl_seconds, config.max_ttl_seconds)
    encoded = encode_value(value, config)
    new_version, previous = await timed(
        "put",
        redis.execute(
            "EVAL",
            _PUT_SCRIPT,
            2,
            config.namespace + key,
            VERSION_COUNTER,
            encoded,
            "" if expected_version is None else str(expected_version),
            "" if ttl is None else str(ttl),
        ),
    )
    if new_version == -1:
        raise VersionConflict(
            f"key '{key}' is at version {previous}, not {expected_version}",
            current_version=int(previous) or None,
        )
    return WriteResult(Entry(key, value, int(new_version)), created=int(previous) == 0)


async def delete_entry(
    redis: AutoPipeline, config: KVConfig, key: str, *, expected_version: int | None = None
) -> int:
    validate_key(key)
    result = int(
        await timed(
            "delete",
            redis.execute(
                "EVAL",
                _DELETE_SCRIPT,
                1,
                config.namespace + key,
                "" if expected_version is None else str(expected_version),
            ),
        )
    )
    if result == 0:
        raise KeyNotFound(f"key '{key}' not found")
    if result < 0:
        raise VersionConflict(
            f"key '{key}' is at version {-result}, not {expected_version}",
            current_version=-result,
        )
    return result


async def ttl_of(redis: AutoPipeline, config: KVConfig, key: str) -> int | None:
    remaining = int(await timed("ttl", redis.execute("TTL", config.namespace + key)))
    return remaining if remaining >= 0 else None


async def list_keys(
    redis: AutoPipeline, config: KVConfig, *, prefix: str, cursor: str | None, limit: int
) -> Page:
    """One page of keys starting with ``prefix``, SCAN-based (never KEYS), at most ``limit``."""
    validate_prefix(prefix)
    redis_cursor, skip = decode_scan_position(cursor)
    pattern = glob_escape(config.namespace + prefix) + "*"
    strip = len(config.namespace)
    keys: list[str] = []
    for _ in range(MAX_SCAN_ROUNDS):
        next_cursor, raw_batch = await timed(
            "scan",
            redis.execute("SCAN", redis_cursor, "MATCH", pattern, "COUNT", max(limit, 100)),
        )
        # A stable order within a batch makes `skip` meaningful across calls.
        batch = sorted(k if isinstance(k, bytes) else k.encode() for k in raw_batch)[skip:]
        room = limit - len(keys)
        if len(batch) > room:
            keys += [k.decode()[strip:] for k in batch[:room]]
            return Page(keys, encode_cursor(redis_cursor, skip + room))
        keys += [k.decode()[strip:] for k in batch]
        redis_cursor, skip = int(next_cursor), 0
        if redis_cursor == 0:
            return Page(keys, None)
        if len(keys) == limit:
            break
    return Page(keys, encode_cursor(redis_cursor, 0))
