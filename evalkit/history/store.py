"""The history database: open by URL, migrate with alembic, record a run, read series back."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from evalkit._util import secrets
from evalkit.errors import UserInputError
from evalkit.history import schema
from evalkit.history.adapter import RunRecord, read_alerts, read_cases, read_run
from evalkit.history.base import (
    BATCH,
    NO_FILTERS,
    alert_rows,
    batches,
    run_row,
    same_run,
)
from evalkit.history.base import Filters as Filters
from evalkit.history.base import HistoryUnavailable as HistoryUnavailable

MIGRATIONS = Path(__file__).parent / "migrations"


def safe_url(url: str) -> str:
    """The URL as it may be shown: the password and every query value but plain settings masked."""
    try:
        parsed = sa.make_url(url)
        masked = secrets.REDACTED
        query = {k: masked if secrets.secret_query_key(k) else v for k, v in parsed.query.items()}
        return parsed.set(query=query).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable database URL>"


def _driver_takes(parsed: sa.URL, shown: str) -> None:
    """The driver's own reading of the URL's query arguments, its warning made an error: the
    SQLite driver ignores an argument it does not take (`?key=...` would silently do nothing)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", sa.exc.SAWarning)
        try:
            parsed.get_dialect()().create_connect_args(parsed)
        except sa.exc.SAWarning as exc:
            reason = secrets.scrub(str(exc).split(" (Background on")[0])
            raise UserInputError(f"history database {shown}: {reason}") from None


MIGRATE_ATTEMPTS = 5
MIGRATE_LOCK = 27_0014  # the advisory lock key PostgreSQL migrations take


class HistoryStore:
    def __init__(self, url: str, *, connect_timeout_s: float = 5, create: bool = True):
        """`create=False` (a reading command given a database by name): a SQLite file that does
        not exist is an error, not a new empty history made where the typo points."""
        secrets.register_url(url, "the history URL", warn=False)  # shown masked (safe_url) anyway
        try:
            parsed = sa.make_url(url)
        except Exception:
            raise UserInputError(f"history.url is not a database URL: {safe_url(url)}") from None
        args: dict[str, Any] = {}
        if parsed.get_backend_name() == "sqlite":
            _driver_takes(parsed, safe_url(url))
            if parsed.database and parsed.database != ":memory:":
                database = Path(parsed.database).expanduser()  # as history.lite opens it
                if not create and not database.exists():
                    raise UserInputError(f"no history database at {database}")
                database.parent.mkdir(parents=True, exist_ok=True)
                parsed = parsed.set(database=str(database))
            args["timeout"] = connect_timeout_s
        elif parsed.get_backend_name() == "postgresql":
            args["connect_timeout"] = max(int(connect_timeout_s), 1)
        self.url = safe_url(url)
        try:
            self.engine: Engine = sa.create_engine(parsed, connect_args=args, pool_pre_ping=True)
        except Exception as exc:  # e.g. a driver that is not installed
            raise UserInputError(f"history database {self.url}: {exc}") from None

    def close(self) -> None:
        self.engine.dispose()

    def _begin(self) -> Any:
        return _Guard(self)

    def migrate(self) -> None:
        """Bring the schema to the newest revision (alembic; a no-op when current). A current
        schema is recognised by its stored revision alone, without importing alembic (which
        cost a run a fifth of its fixed time)."""
        if self.revision() == schema.HEAD_REVISION:
            return
        from alembic import command
        from alembic.config import Config
        from alembic.util import CommandError

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        for attempt in range(MIGRATE_ATTEMPTS):
            try:
                with self._begin() as conn:
                    if conn.dialect.name == "postgresql":  # one migrating process at a time
                        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATE_LOCK})
                    config.attributes["connection"] = conn
                    command.upgrade(config, "head")
                return
            except CommandError:  # alembic knows no such revision: a newer evalkit wrote it
                raise self._unknown_revision() from None
            except HistoryUnavailable:
                # first runs on a fresh history race to create it: the one that lost sees the
                # tables the winner made; once the winner's revision is there, all is well
                if self.revision() == schema.HEAD_REVISION:
                    return
                if attempt == MIGRATE_ATTEMPTS - 1:
                    raise
                time.sleep(0.1 * (attempt + 1))

    def _unknown_revision(self) -> HistoryUnavailable:
        return HistoryUnavailable(
            f"history database {self.url} has schema revision '{self.revision()}', which this "
            f"evalkit (schema {schema.HEAD_REVISION}) does not know: a newer evalkit wrote it; "
            "upgrade evalkit, or point history.url at another database"
        )

    def revision(self) -> str | None:
        """The schema revision alembic stored, or None for a database without one."""
        query = sa.text(f"SELECT version_num FROM {schema.VERSION_TABLE}")
        with self._begin() as conn:
            if not sa.inspect(conn).has_table(schema.VERSION_TABLE):
                return None
            rows = [row[0] for row in conn.execute(query)]
        return rows[0] if len(rows) == 1 else None

    def record(self, run_dir: Path, *, branch: str | None = None, tag: str | None = None) -> RunRecord:
        """Record (or re-record) a finished run directory in one transaction."""
        run = read_run(run_dir, branch=branch, tag=tag)
        with self._begin() as conn:
            _refuse_another_run(conn, run, run_dir)
            for table in schema.TABLES:
                conn.execute(sa.delete(table).where(table.c.run_id == run.run_id))
            conn.execute(sa.insert(schema.runs), [run_row(run)])
            if run.groups:
                conn.execute(sa.insert(schema.run_groups), [{"run_id": run.run_id, **g} for g in run.groups])
            if run.metrics:
                conn.execute(
                    sa.insert(schema.run_metrics), [{"run_id": run.run_id, **m} for m in run.metrics]
                )
            for batch in batches(read_cases(run_dir), BATCH):
                conn.execute(sa.insert(schema.run_cases), [{"run_id": run.run_id, **c} for c in batch])
            alerts = alert_rows(run.run_id, read_alerts(run_dir))  # a backfill keeps what it raised
            if alerts:
                conn.execute(sa.insert(schema.run_alerts), alerts)
        return run

    def record_alerts(self, run_id: str, alerts: Sequence[dict[str, Any]], exit_code: int | None) -> None:
        """The alerts a run raised (replacing any recorded before), and its final exit code (4 when
        `--fail-on-alert` turned them into the run's outcome)."""
        rows = alert_rows(run_id, alerts)
        with self._begin() as conn:
            conn.execute(sa.delete(schema.run_alerts).where(schema.run_alerts.c.run_id == run_id))
            if rows:
                conn.execute(sa.insert(schema.run_alerts), rows)
            if exit_code is not None:
                r = schema.runs
                conn.execute(sa.update(r).where(r.c.run_id == run_id).values(exit_code=exit_code))

    def alerts(self, run_ids: Sequence[str]) -> list[dict[str, Any]]:
        """The recorded alerts of these runs, in run order then as raised."""
        a = schema.run_alerts
        order = {rid: i for i, rid in enumerate(run_ids)}
        out: list[dict[str, Any]] = []
        for start in range(0, len(run_ids), 500):
            query = sa.select(a).where(a.c.run_id.in_(list(run_ids[start : start + 500])))
            with self._begin() as conn:
                out += [dict(row._mapping) for row in conn.execute(query)]
        return sorted(out, key=lambda row: (order[row["run_id"]], row["seq"]))

    def runs(self, filters: Filters = NO_FILTERS) -> list[dict[str, Any]]:
        """Runs, oldest first, that match the filters (with a suite or variant: runs that have it)."""
        r, g = schema.runs, schema.run_groups
        query = sa.select(r).where(*_run_conditions(filters))
        if filters.suite or filters.variant:
            has = sa.select(g.c.run_id).where(*_group_conditions(filters))
            query = query.where(r.c.run_id.in_(has))
        query = query.order_by(r.c.started_at.desc(), r.c.run_id.desc())
        if filters.last:
            query = query.limit(filters.last)
        with self._begin() as conn:
            rows = [dict(row._mapping) for row in conn.execute(query)]
        return rows[::-1]

    def groups(
        self, filters: Filters = NO_FILTERS, run_ids: Sequence[str] | None = None
    ) -> list[dict[str, Any]]:
        """Per suite × variant figures of the matching runs (or of `run_ids`), oldest run first."""
        return self._joined(schema.run_groups, filters, run_ids)

    def metrics(
        self, filters: Filters = NO_FILTERS, run_ids: Sequence[str] | None = None
    ) -> list[dict[str, Any]]:
        return self._joined(schema.run_metrics, filters, run_ids)

    def _joined(
        self, table: sa.Table, filters: Filters, run_ids: Sequence[str] | None
    ) -> list[dict[str, Any]]:
        ids = list(run_ids) if run_ids is not None else [run["run_id"] for run in self.runs(filters)]
        if not ids:
            return []
        r = schema.runs
        query = (
            sa.select(table, r.c.started_at, r.c.branch, r.c.tag, r.c.git_sha, r.c.config_digest)
            .join(r, r.c.run_id == table.c.run_id)
            .where(table.c.run_id.in_(ids), *_group_conditions(filters, table))
            .order_by(r.c.started_at, r.c.run_id)
        )
        with self._begin() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    def cases(
        self, run_ids: Sequence[str], suite: str | None = None, variant: str | None = None
    ) -> Iterator[dict[str, Any]]:
        """Per-case rows of these runs (streamed, in chunks of runs)."""
        c = schema.run_cases
        for start in range(0, len(run_ids), 50):
            chunk = list(run_ids[start : start + 50])
            query = sa.select(c).where(c.c.run_id.in_(chunk), *_group_conditions(Filters(suite, variant), c))
            with self._begin() as conn:
                rows = [dict(row._mapping) for row in conn.execute(query)]
            yield from rows

    def case_scores(
        self, run_ids: Sequence[str], suite: str | None = None, variant: str | None = None
    ) -> Iterator[tuple[str, str, str, str, bool | None, dict[str, Any] | None]]:
        """(run id, suite, variant, case id, passed, scores) of the per-case rows of these runs."""
        for c in self.cases(run_ids, suite, variant):
            yield c["run_id"], c["suite"], c["variant"], c["case_id"], c["passed"], c["scores"]

    def verdicts(
        self, run_ids: Sequence[str], suite: str, variant: str
    ) -> list[tuple[str, str, bool | None, bool]]:
        """(run id, case id, passed, errored) of one suite × variant in these runs."""
        c = schema.run_cases
        query = sa.select(c.c.run_id, c.c.case_id, c.c.passed, c.c.error.is_not(None)).where(
            c.c.run_id.in_(list(run_ids)), c.c.suite == suite, c.c.variant == variant
        )
        with self._begin() as conn:
            return [(r[0], r[1], r[2], bool(r[3])) for r in conn.execute(query)]


class _Guard:
    """A transaction whose database errors become HistoryUnavailable (one line, exit 3)."""

    def __init__(self, store: HistoryStore):
        self.store = store
        self.ctx: Any = None

    def __enter__(self) -> Connection:
        try:
            self.ctx = self.store.engine.begin()
            conn: Connection = self.ctx.__enter__()
        except sa.exc.SQLAlchemyError as exc:
            raise HistoryUnavailable(
                f"history database {self.store.url} unavailable: {_reason(exc)}"
            ) from None
        return conn

    def __exit__(self, kind: Any, exc: Any, tb: Any) -> None:
        try:
            self.ctx.__exit__(kind, exc, tb)
        except sa.exc.SQLAlchemyError as err:
            raise HistoryUnavailable(f"history database {self.store.url}: {_reason(err)}") from None
        if isinstance(exc, sa.exc.SQLAlchemyError):
            raise HistoryUnavailable(f"history database {self.store.url}: {_reason(exc)}") from None


def _reason(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _run_conditions(f: Filters) -> list[Any]:
    r = schema.runs
    out: list[Any] = []
    if f.branch:
        out.append(r.c.branch == f.branch)
    if f.tag:
        out.append(r.c.tag == f.tag)
    if f.since:
        out.append(r.c.started_at >= f.since)
    if f.until:
        out.append(r.c.started_at <= f.until)
    if f.run_id:
        upto = sa.select(r.c.started_at).where(r.c.run_id == f.run_id).scalar_subquery()
        out.append(r.c.started_at <= upto)
    return out


def _group_conditions(f: Filters, table: sa.Table = schema.run_groups) -> list[Any]:
    out: list[Any] = []
    if f.suite:
        out.append(table.c.suite == f.suite)
    if f.variant:
        out.append(table.c.variant == f.variant)
    return out


def _refuse_another_run(conn: Connection, run: RunRecord, run_dir: Path) -> None:
    """Re-importing a run replaces its record; a different run that reuses its id (another start
    time or config) is refused rather than silently put in its place."""
    row = conn.execute(
        sa.select(schema.runs.c.started_at, schema.runs.c.config_digest).where(
            schema.runs.c.run_id == run.run_id
        )
    ).first()
    if row is not None and not same_run(row.started_at, row.config_digest, run):
        raise UserInputError(
            f"run id {run.run_id} is already in the history for another run (started {row.started_at}): "
            "not replaced",
            path=run_dir,
        )
