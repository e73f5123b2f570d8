"""Request and response bodies of the key-value API."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue


class PutValue(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: JsonValue = Field(description="Any JSON value")
    ttl_seconds: int | None = Field(None, description="Expire the key after this many seconds")
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
