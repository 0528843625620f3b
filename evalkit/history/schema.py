"""The history's tables (SQLAlchemy Core). alembic migrations create and change them; this
module is what queries use, and tests check that the two agree."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

from evalkit.history.base import HEAD_REVISION as HEAD_REVISION  # re-exported: alembic's env uses it
from evalkit.history.base import VERSION_TABLE as VERSION_TABLE

metadata = MetaData()

runs = Table(
    "runs",
    metadata,
    Column("run_id", String(64), primary_key=True),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("status", String(16), nullable=False),
    Column("exit_code", Integer),
    Column("git_sha", String(64)),
    Column("branch", String(200)),
    Column("tag", String(200)),
    Column("config_digest", String(64)),
    Column("evalkit_version", String(32)),
    Index("ix_runs_started_at", "started_at"),
)

run_groups = Table(
    "run_groups",
    metadata,
    Column("run_id", String(64), primary_key=True),
    Column("suite", String(200), primary_key=True),
    Column("variant", String(200), primary_key=True),
    Column("provider", String(200)),
    Column("models", JSON),
    Column("model_versions", JSON),
    Column("prompt_hash", String(64)),
    Column("config_hash", String(64)),
    Column("results", Integer, nullable=False),
    Column("errors", Integer, nullable=False),
    Column("error_rate", Float),
    Column("pass_rate", Float),
    Column("pass_rate_low", Float),
    Column("pass_rate_high", Float),
    Column("latency_p50_ms", Float),
    Column("latency_p95_ms", Float),
    Column("cost_per_case_usd", Float),
    Column("retrieval_failures", Integer),
    Column("unmeasured", Integer, nullable=False),
    Column("truncated", Integer),  # answers cut short (finish reason `length`); NULL before 0003
    Column("truncation_rate", Float),  # of the generated answers
    Index("ix_run_groups_suite_variant", "suite", "variant"),
)

run_metrics = Table(
    "run_metrics",
    metadata,
    Column("run_id", String(64), primary_key=True),
    Column("suite", String(200), primary_key=True),
    Column("variant", String(200), primary_key=True),
    Column("metric", String(200), primary_key=True),
    Column("mean", Float),
    Column("std", Float),
    Column("ci_low", Float),
    Column("ci_high", Float),
    Column("n", Integer, nullable=False),
    Column("higher_is_better", Boolean, nullable=False),
)

run_cases = Table(
    "run_cases",
    metadata,
    Column("run_id", String(64), primary_key=True),
    Column("suite", String(200), primary_key=True),
    Column("variant", String(200), primary_key=True),
    Column("case_id", String(200), primary_key=True),
    Column("repeat", Integer, primary_key=True),
    Column("input_hash", String(64)),
    Column("model", String(200)),
    Column("model_version", String(200)),
    Column("passed", Boolean),
    Column("error", Text),
    Column("latency_ms", Float),
    Column("cost_usd", Float),
    Column("input_tokens", Integer),
    Column("output_tokens", Integer),
    Column("cached", Boolean, nullable=False),
    Column("scores", JSON, nullable=False),
)

run_alerts = Table(
    "run_alerts",
    metadata,
    Column("run_id", String(64), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("suite", String(200), nullable=False),
    Column("variant", String(200), nullable=False),
    Column("rule", String(64), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("metric", String(200)),
    Column("value", Float),
    Column("trailing", Float),
    Column("unit", String(32)),
    Column("p_value", Float),
    Column("message", Text, nullable=False),
)

TABLES = (run_alerts, run_cases, run_metrics, run_groups, runs)  # children first: the order deletes go in
