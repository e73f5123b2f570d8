"""What the thumbnails API answers (Pydantic, for the OpenAPI schema and validation)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel

ImageStatus = Literal["queued", "processing", "done", "rejected", "failed"]


class ThumbnailOut(BaseModel):
    size: str
    url: str
    width: int
    height: int
    bytes: int
    content_type: str


class Timings(BaseModel):
    queued_ms: float | None = None
    processing_ms: float | None = None
    upload_to_ready_ms: float | None = None


class ImageOut(BaseModel):
    id: uuid.UUID
    status: ImageStatus
    status_url: str
    origin: Literal["upload", "ingest"]
    source_key: str
    sizes: list[str]
    thumbnails: dict[str, ThumbnailOut]
    content_hash: str | None
    source_bytes: int | None
    source_format: str | None
    width: int | None
    height: int | None
    rejection_reason: str | None
    error: str | None
    attempts: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    timings: Timings


class ImageAccepted(BaseModel):
    id: uuid.UUID
    status: ImageStatus
    status_url: str
    sizes: list[str]
    source_bytes: int
    content_hash: str


class ImagePage(BaseModel):
    items: list[ImageOut]
    next_cursor: str | None


class DeadLetterOut(BaseModel):
    id: uuid.UUID
    message_id: str
    queue_name: str
    actor_name: str
    args: list[Any]
    image_id: uuid.UUID | None
    error: str | None
    attempts: int
    dead_at: datetime
    redriven_at: datetime | None
    redrive_message_id: str | None


class DeadLetterPage(BaseModel):
    items: list[DeadLetterOut]
    next_cursor: str | None


class RedriveOut(BaseModel):
    id: uuid.UUID
    image_id: uuid.UUID | None
    actor_name: str
    redrive_message_id: str


class RedriveAllOut(BaseModel):
    redriven: int
    items: list[RedriveOut]
