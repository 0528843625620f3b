"""Answers cut short per suite × variant (finish reason `length`), so the truncation rate has
a trend and an alert rule; rows recorded before it have none (NULL: no alert, no point).

Revision ID: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("run_groups") as batch:  # SQLite alters a table by copying it
        batch.add_column(sa.Column("truncated", sa.Integer, nullable=True))
        batch.add_column(sa.Column("truncation_rate", sa.Float, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("run_groups") as batch:
        batch.drop_column("truncation_rate")
        batch.drop_column("truncated")
