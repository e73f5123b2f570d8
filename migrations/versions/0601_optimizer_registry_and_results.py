"""optimizer: model registry and optimization results

Revision ID: 0601_optimizer
Revises:
Create Date: 2025-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0601_optimizer"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ("optimizer",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "optimizer_models",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="active"),
        sa.Column("description", sa.Text(), nullable=False, server_default=""),
        sa.Column("channels", postgresql.JSONB(), nullable=False),
        sa.Column("checksum", sa.String(64), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.func.now(),
        ),
        sa.UniqueConstraint("name", "version", name="uq_optimizer_models_name_version"),
        sa.UniqueConstraint("name", "checksum", name="uq_optimizer_models_name_checksum"),
        sa.CheckConstraint("status IN ('active', 'archived')", name="ck_optimizer_models_status"),
        sa.CheckConstraint("version >= 1", name="ck_optimizer_models_version"),
    )
    op.create_table(
        "optimizer_results",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("objective", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("model_name", sa.String(64), nullable=False),
        sa.Column("model_version", sa.Integer(), nullable=False),
        sa.Column("channel_count", sa.Integer(), nullable=False),
        sa.Column("request", postgresql.JSONB(), nullable=False),
        sa.Column("result", postgresql.JSONB(), nullable=True),
        sa.Column("error", postgresql.JSONB(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("requested_by", sa.String(200), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.func.now(),
        ),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'done', 'failed')",
            name="ck_optimizer_results_status",
        ),
    )
    op.create_index("ix_optimizer_results_created_at", "optimizer_results", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_optimizer_results_created_at", table_name="optimizer_results")
    op.drop_table("optimizer_results")
    op.drop_table("optimizer_models")
