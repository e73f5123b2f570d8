"""thumbnails: image records and dead-lettered jobs

Revision ID: 0401_thumbnails
Revises:
Create Date: 2025-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0401_thumbnails"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ("thumbnails",)
depends_on: str | Sequence[str] | None = None


def _timestamp(name: str, *, nullable: bool = True, now: bool = False) -> sa.Column:  # type: ignore[type-arg]
    default = sa.func.now() if now else None
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable, server_default=default)


def upgrade() -> None:
    op.create_table(
        "thumbnail_images",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("source_key", sa.String(1024), nullable=False),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("sizes", postgresql.JSONB(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=True),
        sa.Column("source_bytes", sa.BigInteger(), nullable=True),
        sa.Column("source_format", sa.String(16), nullable=True),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column(
            "thumbnails", postgresql.JSONB(), nullable=False, server_default=sa.text("'{}'::jsonb")
        ),
        sa.Column("rejection_reason", sa.String(32), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default=sa.text("0")),
        _timestamp("created_at", nullable=False, now=True),
        _timestamp("updated_at", nullable=False, now=True),
        _timestamp("started_at"),
        _timestamp("finished_at"),
        sa.UniqueConstraint("source_key", name="uq_thumbnail_images_source_key"),
        sa.CheckConstraint(
            "status IN ('queued', 'processing', 'done', 'rejected', 'failed')",
            name="ck_thumbnail_images_status",
        ),
        sa.CheckConstraint("origin IN ('upload', 'ingest')", name="ck_thumbnail_images_origin"),
    )
    op.create_index(
        "ix_thumbnail_images_created",
        "thumbnail_images",
        [sa.text("created_at DESC"), sa.text("id DESC")],
    )
    op.create_index(
        "ix_thumbnail_images_status_created",
        "thumbnail_images",
        ["status", sa.text("created_at DESC"), sa.text("id DESC")],
    )
    op.create_table(
        "thumbnail_dead_letters",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("message_id", sa.String(64), nullable=False),
        sa.Column("queue_name", sa.String(128), nullable=False),
        sa.Column("actor_name", sa.String(128), nullable=False),
        sa.Column("args", postgresql.JSONB(), nullable=False),
        sa.Column("kwargs", postgresql.JSONB(), nullable=False),
        sa.Column("image_id", sa.Uuid(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("traceback", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default=sa.text("0")),
        _timestamp("dead_at", nullable=False),
        _timestamp("recorded_at", nullable=False, now=True),
        _timestamp("redriven_at"),
        sa.Column("redrive_message_id", sa.String(64), nullable=True),
        sa.UniqueConstraint("message_id", name="uq_thumbnail_dead_letters_message_id"),
    )
    op.create_index(
        "ix_thumbnail_dead_letters_pending",
        "thumbnail_dead_letters",
        ["redriven_at", sa.text("dead_at DESC")],
    )
    op.create_index("ix_thumbnail_dead_letters_image_id", "thumbnail_dead_letters", ["image_id"])


def downgrade() -> None:
    op.drop_table("thumbnail_dead_letters")
    op.drop_table("thumbnail_images")
