"""The bird catalog table.

``slug`` is the stable public name (URLs, image lookups, seed upserts); ``id`` never changes.
``image_ref`` is the id of the bird's photo in the thumbnails pipeline, set by an admin upload.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, String, Text, UniqueConstraint, Uuid, func
from sqlalchemy.orm import Mapped, mapped_column

from roost.infra.db import Base

MAX_NAME_CHARS = 120
MAX_REGION_CHARS = 80
MAX_DESCRIPTION_CHARS = 2000


class BirdRow(Base):
    __tablename__ = "birds"
    __table_args__ = (UniqueConstraint("slug", name="uq_birds_slug"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    slug: Mapped[str] = mapped_column(String(80))
    common_name: Mapped[str] = mapped_column(String(MAX_NAME_CHARS))
    scientific_name: Mapped[str] = mapped_column(String(MAX_NAME_CHARS))
    description: Mapped[str] = mapped_column(Text)
    region: Mapped[str] = mapped_column(String(MAX_REGION_CHARS))
    image_ref: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
