"""thumbnails: dead letters move to the queue's shared table

Every queue's dead letters live in ``queue_dead_letters`` (branch ``queue``); this moves the
rows of the old ``thumbnail_dead_letters`` there (optimizer jobs included: the old worker
recorded every queue's dead letters in it), then drops it.

Revision ID: 0402_thumbnails
Revises: 0401_thumbnails
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0402_thumbnails"
down_revision: str | None = "0401_thumbnails"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = "0101_queue"

COLUMNS = (
    "id, message_id, queue_name, actor_name, args, kwargs, error, traceback, attempts, "
    "dead_at, recorded_at, redriven_at, redrive_message_id"
)


def upgrade() -> None:
    op.execute(
        f"INSERT INTO queue_dead_letters ({COLUMNS}) "
        f"SELECT {COLUMNS} FROM thumbnail_dead_letters "
        "ON CONFLICT (message_id) DO NOTHING"
    )
    op.drop_table("thumbnail_dead_letters")


def downgrade() -> None:
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
        sa.Column("dead_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "recorded_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("redriven_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("redrive_message_id", sa.String(64), nullable=True),
        sa.UniqueConstraint("message_id", name="uq_thumbnail_dead_letters_message_id"),
    )
    op.create_index(
        "ix_thumbnail_dead_letters_pending",
        "thumbnail_dead_letters",
        ["redriven_at", sa.text("dead_at DESC")],
    )
    op.create_index("ix_thumbnail_dead_letters_image_id", "thumbnail_dead_letters", ["image_id"])
    # Back to the one table the old code read; the image id as the old recorder derived it.
    op.execute(
        f"INSERT INTO thumbnail_dead_letters ({COLUMNS}, image_id) "
        f"SELECT {COLUMNS}, CASE WHEN actor_name = 'thumbnails.process_image' "
        "AND jsonb_typeof(args -> 0) = 'string' "
        "AND (args ->> 0) ~* '^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$' "
        "THEN (args ->> 0)::uuid END FROM queue_dead_letters"
    )
