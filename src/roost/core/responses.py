"""The one JSON response helper the roles' routes answer with.

Routes build their responses themselves (FastAPI's own serialization validates the body a second
time and costs more than the route in the hot paths); a route with a ``response_model`` passes an
instance of that model, so the model is what the body really is, validated when it is built.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import orjson
from pydantic import BaseModel
from starlette.responses import Response


def json_bytes(value: Any) -> bytes:
    """``value`` as JSON. Integers beyond 64 bits (valid JSON, which orjson refuses) are
    written as they are; they read back as floats, as JavaScript's JSON.parse reads them."""
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def json_response(
    body: BaseModel | Any,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """``body`` (a response model, or plain JSON data) as an ``application/json`` response."""
    content = body.model_dump_json().encode() if isinstance(body, BaseModel) else json_bytes(body)
    return Response(
        content,
        status_code=status_code,
        media_type="application/json",
        headers=dict(headers) if headers is not None else None,
    )
