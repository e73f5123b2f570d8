"""The one JSON response helper: response models and plain data render the same way."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import orjson
import pytest
from pydantic import BaseModel

from roost.core.responses import json_bytes, json_response


class Stamp(BaseModel):
    id: uuid.UUID
    at: datetime


class DriverUUID(uuid.UUID):
    """Database drivers hand out UUID subclasses (asyncpg's), which orjson refuses natively."""


def test_model_renders_times_as_every_role_always_has() -> None:
    at = datetime(2026, 12, 3, 20, 5, 28, 123456, tzinfo=UTC)
    row_id = uuid.uuid4()
    response = json_response(Stamp(id=DriverUUID(str(row_id)), at=at), 201, {"Location": "/x"})
    assert response.status_code == 201
    assert response.media_type == "application/json"
    assert response.headers["location"] == "/x"
    assert orjson.loads(response.body) == {
        "id": str(row_id),
        "at": "2026-12-03T20:05:28.123456+00:00",
    }


def test_integers_beyond_64_bits_are_written_as_they_are() -> None:
    assert json_bytes({"n": 2**70, "at": datetime(2026, 1, 1, tzinfo=UTC)}) == (
        b'{"n":1180591620717411303424,"at":"2026-01-01T00:00:00+00:00"}'
    )


def test_unknown_types_are_still_refused() -> None:
    with pytest.raises(TypeError):
        json_bytes({"x": object()})
