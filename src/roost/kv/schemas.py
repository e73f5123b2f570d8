"""Request and response bodies of the key-value API."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, JsonValue


def _json_integer(value: Any) -> Any:
    """JSON Schema's integer: 3 and 3.0, never true or "3" (which pydantic's lax mode takes)."""
    if isinstance(value, bool | str):
        raise ValueError("must be a JSON integer")
    return value


JsonInt = Annotated[int, BeforeValidator(_json_integer)]


class PutValue(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: JsonValue = Field(description="Any JSON value")
    # Documented only (the service answers 422 invalid_ttl): the bound is the default
    # ROOST_KV_MAX_TTL_SECONDS (one year), what a default deployment accepts.
    ttl_seconds: JsonInt | None = Field(
        None,
        description="Expire the key after this many seconds",
        json_schema_extra={"minimum": 1, "maximum": 365 * 24 * 3600},
    )
    version: Annotated[int, Field(ge=0), BeforeValidator(_json_integer)] | None = Field(
        None, description="Write only if the key is at this version (0: only if absent)"
    )


class EntryOut(BaseModel):
    key: str
    value: Any
    version: int
    ttl_seconds: int | None = None


class KeyName(BaseModel):
    key: str


class KeyPage(BaseModel):
    items: list[KeyName]
    next_cursor: str | None = Field(description="Pass back as `cursor` for the next page")
