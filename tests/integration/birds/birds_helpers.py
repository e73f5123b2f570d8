"""Assertions shared by the bird API tests."""

from __future__ import annotations

import httpx
from prometheus_client import REGISTRY

ADMIN_KEY = "birds-admin-key-0123456789"
READER_KEY = "birds-reader-key-0123456789"


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> None:
    """The response is the JSON error envelope with this status (and code)."""
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) >= {"code", "message", "request_id"}
    assert error["message"]
    if code is not None:
        assert error["code"] == code, error


def lookups(source: str) -> float:
    """The current value of ``bird_image_lookups_total{source}``."""
    return REGISTRY.get_sample_value("bird_image_lookups_total", {"source": source}) or 0.0
