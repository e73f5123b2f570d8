"""Request and response shapes of the bird API, and the bird image service's answer."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, StringConstraints, field_validator

from roost.birds.models import MAX_DESCRIPTION_CHARS, MAX_NAME_CHARS, MAX_REGION_CHARS
from roost.birds.paging import MAX_SLUG_CHARS, SLUG_PATTERN

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
ImageSource = Literal["stored", "unsplash", "placeholder"]
CONTROL_CHARACTERS = "\x00-\x1f\x7f-\x9f"
# Documented and enforced (_no_control_characters): they break logs and terminals, and
# PostgreSQL text cannot hold NUL at all.
NO_CONTROL: dict[str, JsonValue] = {"pattern": f"^[^{CONTROL_CHARACTERS}]*$"}
_CONTROL = re.compile(f"[{CONTROL_CHARACTERS}]")


class BirdIn(BaseModel):
    """A bird as an admin creates or replaces it; ``slug`` defaults to one made from the name."""

    model_config = ConfigDict(extra="forbid")

    # The patterns document what the validators check (no control characters; the slug's
    # shape), so that clients and fuzzers see the same rules.
    name: Annotated[
        Text, StringConstraints(max_length=MAX_NAME_CHARS), Field(json_schema_extra=NO_CONTROL)
    ]
    scientific_name: Annotated[
        Text, StringConstraints(max_length=MAX_NAME_CHARS), Field(json_schema_extra=NO_CONTROL)
    ]
    description: Annotated[
        Text,
        StringConstraints(max_length=MAX_DESCRIPTION_CHARS),
        Field(json_schema_extra=NO_CONTROL),
    ]
    region: Annotated[
        Text, StringConstraints(max_length=MAX_REGION_CHARS), Field(json_schema_extra=NO_CONTROL)
    ]
    slug: (
        Annotated[
            str,
            StringConstraints(max_length=MAX_SLUG_CHARS),
            Field(json_schema_extra={"pattern": SLUG_PATTERN}),
        ]
        | None
    ) = None

    @field_validator("name", "scientific_name", "description", "region")
    @classmethod
    def _no_control_characters(cls, value: str) -> str:
        if _CONTROL.search(value):
            raise ValueError("must not contain control characters")
        return value

    @field_validator("name", "scientific_name")
    @classmethod
    def _has_a_letter(cls, value: str) -> str:
        if not any(character.isalnum() for character in value):
            raise ValueError("must contain a letter or digit")
        return value


class ImageOut(BaseModel):
    url: str
    source: ImageSource
    attribution: str | None = None


class BirdOut(BaseModel):
    id: str
    slug: str
    name: str
    scientific_name: str
    description: str
    region: str
    image: ImageOut
    image_status: Literal["ok", "unavailable"]
    photo_id: str | None
    created_at: str
    updated_at: str


class BirdPage(BaseModel):
    items: list[BirdOut]
    next_cursor: str | None


class ClassicBird(BaseModel):
    """The original bird API's answer: one random bird, its image as a plain URL."""

    name: str
    description: str
    image: str


class ImageAnswer(BaseModel):
    """What ``GET /api/v1/images/{bird}`` of the bird image service answers (extra keys ignored)."""

    model_config = ConfigDict(extra="ignore")

    url: Annotated[str, StringConstraints(min_length=1, max_length=2048)]
    source: ImageSource
    attribution: Annotated[str, StringConstraints(max_length=500)] | None = None
    name: str | None = Field(default=None, max_length=500)
