"""queue: one dead-letter table for every queue

Revision ID: 0101_queue
Revises:
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0101_queue"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ("queue",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "queue_dead_letters",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("message_id", sa.String(64), nullable=False),
        sa.Column("queue_name", sa.String(128), nullable=False),
        sa.Column("actor_name", sa.String(128), nullable=False),
        sa.Column("args", postgresql.JSONB(), nullable=False),
        sa.Column("kwargs", postgresql.JSONB(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("traceback", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("dead_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "recorded_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("redriven_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("redrive_message_id", sa.String(64), nullable=True),
        sa.UniqueConstraint("message_id", name="uq_queue_dead_letters_message_id"),
    )
    op.create_index(
        "ix_queue_dead_letters_pending",
        "queue_dead_letters",
        ["redriven_at", sa.text("dead_at DESC")],
    )
    op.create_index(
        "ix_queue_dead_letters_actor", "queue_dead_letters", ["actor_name", sa.text("dead_at DESC")]
    )


def downgrade() -> None:
    op.drop_table("queue_dead_letters")
