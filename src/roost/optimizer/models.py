"""Tables of the optimizer: registered response models and optimization results.

A model version is immutable once written (only its ``status`` changes), so a result that names
``(model_name, model_version)`` can always be explained and redrawn later.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Identity,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from roost.infra.db import Base

MODEL_STATUSES = ("active", "archived")
RESULT_STATUSES = ("queued", "running", "done", "failed")
# A result in one of these may still change; one in FINAL_STATUSES never does.
UNFINISHED_STATUSES = ("queued", "running")
FINAL_STATUSES = ("done", "failed")


def one_of(column: str, values: tuple[str, ...]) -> str:
    """A CHECK constraint's text from the tuple the code uses, so the two cannot drift."""
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


class ResponseModelRow(Base):
    __tablename__ = "optimizer_models"
    __table_args__ = (
        UniqueConstraint("name", "version", name="uq_optimizer_models_name_version"),
        # Identical content registered twice is the same version (idempotent registration).
        UniqueConstraint("name", "checksum", name="uq_optimizer_models_name_checksum"),
        CheckConstraint(one_of("status", MODEL_STATUSES), name="ck_optimizer_models_status"),
        CheckConstraint("version >= 1", name="ck_optimizer_models_version"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="active")
    description: Mapped[str] = mapped_column(Text, default="")
    # Canonical channel list: [{"name", "curve": {"type", "params"}, "adstock"}], by name.
    channels: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    checksum: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class OptimizationResultRow(Base):
    __tablename__ = "optimizer_results"
    __table_args__ = (
        CheckConstraint(one_of("status", RESULT_STATUSES), name="ck_optimizer_results_status"),
        # Newest-first keyset pages of GET /api/v1/results: (created_at, id) is unique.
        Index("ix_optimizer_results_created_at_id", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    objective: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    model_name: Mapped[str] = mapped_column(String(64))
    model_version: Mapped[int] = mapped_column(Integer)
    channel_count: Mapped[int] = mapped_column(Integer)
    # The validated request, enough for a worker to run it again from scratch.
    request: Mapped[dict[str, Any]] = mapped_column(JSONB)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONB, nullable=True)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSONB, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    requested_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
