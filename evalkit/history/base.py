"""What both history stores share (SQLAlchemy's `store.HistoryStore` and the stdlib SQLite
`lite.LiteStore`): the filters, the error, and the rows a run becomes. Imports no database
library, so a run that records into SQLite never loads SQLAlchemy."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from evalkit.errors import EvalkitError, ExitCode
from evalkit.history.adapter import RunRecord

BATCH = 2000  # case rows per INSERT round trip
# The newest alembic revision in migrations/versions (a test checks it is alembic's head), so a
# current database is recognised without importing alembic; and the table alembic keeps it in.
HEAD_REVISION = "0003"
VERSION_TABLE = "evalkit_history_version"


class HistoryUnavailable(EvalkitError):
    """The history database could not be reached or written: an infrastructure error."""

    exit_code = ExitCode.INFRA


@dataclass(frozen=True)
class Filters:
    suite: str | None = None
    variant: str | None = None
    branch: str | None = None
    tag: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    last: int | None = None  # only the newest N runs
    run_id: str | None = None  # up to and including this run


NO_FILTERS = Filters()  # every run


ALERT_KEYS = ("suite", "variant", "rule", "severity", "metric", "value", "trailing", "unit", "p_value")


def alert_rows(run_id: str, alerts: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"run_id": run_id, "seq": i, **{k: a.get(k) for k in (*ALERT_KEYS, "message")}}
        for i, a in enumerate(alerts)
    ]


def run_row(run: RunRecord) -> dict[str, Any]:
    return {
        "run_id": run.run_id,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "recorded_at": datetime.now(UTC),
        "status": run.status,
        "exit_code": run.exit_code,
        "git_sha": run.git_sha,
        "branch": run.branch,
        "tag": run.tag,
        "config_digest": run.config_digest,
        "evalkit_version": run.evalkit_version,
    }


def batches(rows: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def utc_seconds(when: datetime) -> str:
    aware = when if when.tzinfo is not None else when.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def same_run(started_at: datetime, config_digest: str | None, run: RunRecord) -> bool:
    """Whether a recorded run (its start and config digest) is this run: re-importing a run
    replaces its record; a different run that reuses its id is refused."""
    return utc_seconds(started_at) == utc_seconds(run.started_at) and (config_digest or None) == (
        run.config_digest or None
    )
