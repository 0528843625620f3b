"""The first history schema: runs, per suite × variant figures, metrics and per-case rows.

Revision ID: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("run_id", sa.String(64), primary_key=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("exit_code", sa.Integer),
        sa.Column("git_sha", sa.String(64)),
        sa.Column("branch", sa.String(200)),
        sa.Column("tag", sa.String(200)),
        sa.Column("config_digest", sa.String(64)),
        sa.Column("evalkit_version", sa.String(32)),
    )
    op.create_index("ix_runs_started_at", "runs", ["started_at"])
    op.create_table(
        "run_groups",
        sa.Column("run_id", sa.String(64), primary_key=True),
        sa.Column("suite", sa.String(200), primary_key=True),
        sa.Column("variant", sa.String(200), primary_key=True),
        sa.Column("provider", sa.String(200)),
        sa.Column("models", sa.JSON),
        sa.Column("model_versions", sa.JSON),
        sa.Column("prompt_hash", sa.String(64)),
        sa.Column("config_hash", sa.String(64)),
        sa.Column("results", sa.Integer, nullable=False),
        sa.Column("errors", sa.Integer, nullable=False),
        sa.Column("error_rate", sa.Float),
        sa.Column("pass_rate", sa.Float),
        sa.Column("pass_rate_low", sa.Float),
        sa.Column("pass_rate_high", sa.Float),
        sa.Column("latency_p50_ms", sa.Float),
        sa.Column("latency_p95_ms", sa.Float),
        sa.Column("cost_per_case_usd", sa.Float),
        sa.Column("retrieval_failures", sa.Integer),
        sa.Column("unmeasured", sa.Integer, nullable=False),
    )
    op.create_index("ix_run_groups_suite_variant", "run_groups", ["suite", "variant"])
    op.create_table(
        "run_metrics",
        sa.Column("run_id", sa.String(64), primary_key=True),
        sa.Column("suite", sa.String(200), primary_key=True),
        sa.Column("variant", sa.String(200), primary_key=True),
        sa.Column("metric", sa.String(200), primary_key=True),
        sa.Column("mean", sa.Float),
        sa.Column("std", sa.Float),
        sa.Column("ci_low", sa.Float),
        sa.Column("ci_high", sa.Float),
        sa.Column("n", sa.Integer, nullable=False),
        sa.Column("higher_is_better", sa.Boolean, nullable=False),
    )
    op.create_table(
        "run_cases",
        sa.Column("run_id", sa.String(64), primary_key=True),
        sa.Column("suite", sa.String(200), primary_key=True),
        sa.Column("variant", sa.String(200), primary_key=True),
        sa.Column("case_id", sa.String(200), primary_key=True),
        sa.Column("repeat", sa.Integer, primary_key=True),
        sa.Column("input_hash", sa.String(64)),
        sa.Column("model", sa.String(200)),
        sa.Column("model_version", sa.String(200)),
        sa.Column("passed", sa.Boolean),
        sa.Column("error", sa.Text),
        sa.Column("latency_ms", sa.Float),
        sa.Column("cost_usd", sa.Float),
        sa.Column("input_tokens", sa.Integer),
        sa.Column("output_tokens", sa.Integer),
        sa.Column("cached", sa.Boolean, nullable=False),
        sa.Column("scores", sa.JSON, nullable=False),
    )


def downgrade() -> None:
    for table in ("run_cases", "run_metrics", "run_groups", "runs"):
        op.drop_table(table)
