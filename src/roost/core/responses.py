"""The one JSON response helper the roles' routes answer with, and the one ``If-None-Match``
check (:func:`etag_matches`) of the routes that answer 304.

Routes build their responses themselves (FastAPI's own serialization validates the body a second
time and costs more than the route in the hot paths); a route with a ``response_model`` passes an
instance of that model, so the model is what the body really is, validated when it is built.
Models are rendered through orjson like plain data, so times keep the form every role has always
answered with (``+00:00``; pydantic's own JSON would write ``Z``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import orjson
from pydantic import BaseModel
from starlette.responses import Response


def json_bytes(value: Any) -> bytes:
    """``value`` as JSON. Integers beyond 64 bits (valid JSON, which orjson refuses) are
    written as they are; they read back as floats, as JavaScript's JSON.parse reads them."""
    try:
        return orjson.dumps(value, default=_as_json)
    except orjson.JSONEncodeError:
        return json.dumps(
            value, separators=(",", ":"), ensure_ascii=False, default=_as_json
        ).encode()


def _as_json(value: Any) -> Any:
    """What orjson leaves to us: subclasses of the types it knows (asyncpg's UUID), and, for the
    stdlib fallback, datetimes as orjson writes them."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def json_response(
    body: BaseModel | Any,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """``body`` (a response model, or plain JSON data) as an ``application/json`` response."""
    data = body.model_dump() if isinstance(body, BaseModel) else body
    return Response(
        json_bytes(data),
        status_code=status_code,
        media_type="application/json",
        headers=dict(headers) if headers is not None else None,
    )


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """Whether an ``If-None-Match`` header names ``etag``, or ``*``: then a GET or HEAD answers
    304. Weak comparison (RFC 9110, 13.1.2): ``W/"x"`` matches ``"x"``."""
    if if_none_match is None:
        return False
    candidates = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in candidates or etag in candidates
