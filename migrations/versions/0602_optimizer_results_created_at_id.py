"""optimizer: results indexed on (created_at, id) for newest-first keyset pages

``GET /api/v1/results`` pages by ``(created_at, id)``, a unique key even when two results share a
timestamp; this index serves it and everything the old ``created_at`` index served.

Revision ID: 0602_optimizer
Revises: 0601_optimizer
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0602_optimizer"
down_revision: str | None = "0601_optimizer"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_optimizer_results_created_at_id", "optimizer_results", ["created_at", "id"])
    op.drop_index("ix_optimizer_results_created_at", table_name="optimizer_results")


def downgrade() -> None:
    op.create_index("ix_optimizer_results_created_at", "optimizer_results", ["created_at"])
    op.drop_index("ix_optimizer_results_created_at_id", table_name="optimizer_results")
