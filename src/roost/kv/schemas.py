"""Request and response bodies of the key-value API."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue


class PutValue(BaseModel):
    # Strict: the schema says integer, so neither true nor "3" is a version.
    model_config = ConfigDict(extra="forbid", strict=True)

    value: JsonValue = Field(description="Any JSON value")
    # Documented only (the service answers 422 invalid_ttl): the bound is the default
    # ROOST_KV_MAX_TTL_SECONDS (one year), what a default deployment accepts.
    ttl_seconds: int | None = Field(
        None,
        description="Expire the key after this many seconds",
        json_schema_extra={"minimum": 1, "maximum": 365 * 24 * 3600},
    )
    version: int | None = Field(
        None, ge=0, description="Write only if the key is at this version (0: only if absent)"
    )


class EntryOut(BaseModel):
    key: str
    value: Any
    version: int
    ttl_seconds: int | None = None


class KeyPage(BaseModel):
    items: list[dict[str, str]]
    next_cursor: str | None
