"""birds: the bird catalog

Revision ID: 0501_birds
Revises:
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0501_birds"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ("birds",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "birds",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("slug", sa.String(80), nullable=False),
        sa.Column("common_name", sa.String(120), nullable=False),
        sa.Column("scientific_name", sa.String(120), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("region", sa.String(80), nullable=False),
        sa.Column("image_ref", sa.String(64), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.func.now(),
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.func.now(),
        ),
        sa.UniqueConstraint("slug", name="uq_birds_slug"),
    )


def downgrade() -> None:
    op.drop_table("birds")
