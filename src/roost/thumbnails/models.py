"""Image records (Postgres; migrations ``0401_thumbnails``, ``0402_thumbnails``).

Dead-lettered jobs are the queue's: :mod:`roost.infra.dead_letters`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal, get_args

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from roost.infra.db import Base

ImageStatus = Literal["queued", "processing", "done", "rejected", "failed"]
STATUSES: tuple[ImageStatus, ...] = get_args(ImageStatus)
# A job that finds its image in one of these does nothing: the image's fate is decided.
FINAL_STATUSES: tuple[ImageStatus, ...] = ("done", "rejected")
ImageOrigin = Literal["upload", "ingest"]
ORIGINS: tuple[ImageOrigin, ...] = get_args(ImageOrigin)


def one_of(column: str, values: Sequence[str]) -> str:
    """The CHECK that ``column`` holds one of ``values``: the same tuple the code uses."""
    quoted = ", ".join(f"'{value}'" for value in values)
    return f"{column} IN ({quoted})"


class ImageRecord(Base):
    """One source image and its job: where the bytes are, what became of them."""

    __tablename__ = "thumbnail_images"
    # Server-side defaults (created_at) come back with the INSERT: no reload after commit.
    __mapper_args__ = {"eager_defaults": True}
    __table_args__ = (
        UniqueConstraint("source_key", name="uq_thumbnail_images_source_key"),
        CheckConstraint(one_of("status", STATUSES), name="ck_thumbnail_images_status"),
        CheckConstraint(one_of("origin", ORIGINS), name="ck_thumbnail_images_origin"),
        Index("ix_thumbnail_images_created", text("created_at DESC"), text("id DESC")),
        Index(
            "ix_thumbnail_images_status_created", "status", text("created_at DESC"), text("id DESC")
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    source_key: Mapped[str] = mapped_column(String(1024))
    origin: Mapped[ImageOrigin] = mapped_column(String(16))
    status: Mapped[ImageStatus] = mapped_column(String(16))
    sizes: Mapped[list[str]] = mapped_column(JSONB)
    content_hash: Mapped[str | None] = mapped_column(String(64))
    source_bytes: Mapped[int | None] = mapped_column(BigInteger)
    source_format: Mapped[str | None] = mapped_column(String(16))
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    # {size: {"key", "width", "height", "bytes", "content_type", "etag"}}
    thumbnails: Mapped[dict[str, Any]] = mapped_column(
        JSONB, server_default=text("'{}'::jsonb"), default=dict
    )
    rejection_reason: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"), default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
