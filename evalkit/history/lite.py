"""The history in a SQLite file through Python's own sqlite3: what `evalkit run` uses to record
a run and check its trend when the history is a SQLite file whose schema is current.

Importing SQLAlchemy cost a 10-case run a quarter of its time. This store writes and reads the
same tables (schema.py, made by alembic) exactly as SQLAlchemy's SQLite dialect does: times as
"YYYY-MM-DD HH:MM:SS.ffffff" text, JSON as `json.dumps` text, booleans as 0/1. A test records
the same runs through both stores and compares every row, and runs every store test on both.
A history file that does not exist yet is made from head.sql: the schema alembic makes at
HEAD_REVISION, as SQLite stores it (a test makes it both ways and compares them), so the first
run of a project (every run, on a CI runner that starts clean) imports no SQLAlchemy either.
Anything else (an older schema, PostgreSQL, a URL with options) goes to `HistoryStore`.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from evalkit._util import secrets
from evalkit._util.jsontext import Encoder
from evalkit.errors import UserInputError
from evalkit.history.adapter import (
    CASE_COLUMNS,
    RunRecord,
    read_alerts,
    read_case_values,
    read_run,
    result_case_values,
)
from evalkit.history.base import (
    BATCH,
    HEAD_REVISION,
    NO_FILTERS,
    VERSION_TABLE,
    Filters,
    HistoryUnavailable,
    alert_rows,
    run_row,
    same_run,
)

if TYPE_CHECKING:
    from evalkit.types import CaseResult

# Each table's columns and how a value is stored: the columns of schema.py (a test checks).
TEXT, INT, FLOAT, BOOL, JSON, TIME = "text", "int", "float", "bool", "json", "time"
COLUMNS: dict[str, dict[str, str]] = {
    "runs": {
        "run_id": TEXT,
        "started_at": TIME,
        "finished_at": TIME,
        "recorded_at": TIME,
        "status": TEXT,
        "exit_code": INT,
        "git_sha": TEXT,
        "branch": TEXT,
        "tag": TEXT,
        "config_digest": TEXT,
        "evalkit_version": TEXT,
    },
    "run_groups": {
        "run_id": TEXT,
        "suite": TEXT,
        "variant": TEXT,
        "provider": TEXT,
        "models": JSON,
        "model_versions": JSON,
        "prompt_hash": TEXT,
        "config_hash": TEXT,
        "results": INT,
        "errors": INT,
        "error_rate": FLOAT,
        "pass_rate": FLOAT,
        "pass_rate_low": FLOAT,
        "pass_rate_high": FLOAT,
        "latency_p50_ms": FLOAT,
        "latency_p95_ms": FLOAT,
        "cost_per_case_usd": FLOAT,
        "retrieval_failures": INT,
        "unmeasured": INT,
        "truncated": INT,
        "truncation_rate": FLOAT,
    },
    "run_metrics": {
        "run_id": TEXT,
        "suite": TEXT,
        "variant": TEXT,
        "metric": TEXT,
        "mean": FLOAT,
        "std": FLOAT,
        "ci_low": FLOAT,
        "ci_high": FLOAT,
        "n": INT,
        "higher_is_better": BOOL,
    },
    "run_cases": {
        "run_id": TEXT,
        "suite": TEXT,
        "variant": TEXT,
        "case_id": TEXT,
        "repeat": INT,
        "input_hash": TEXT,
        "model": TEXT,
        "model_version": TEXT,
        "passed": BOOL,
        "error": TEXT,
        "latency_ms": FLOAT,
        "cost_usd": FLOAT,
        "input_tokens": INT,
        "output_tokens": INT,
        "cached": BOOL,
        "scores": JSON,
    },
    "run_alerts": {
        "run_id": TEXT,
        "seq": INT,
        "suite": TEXT,
        "variant": TEXT,
        "rule": TEXT,
        "severity": TEXT,
        "metric": TEXT,
        "value": FLOAT,
        "trailing": FLOAT,
        "unit": TEXT,
        "p_value": FLOAT,
        "message": TEXT,
    },
}
CHILDREN_FIRST = ("run_alerts", "run_cases", "run_metrics", "run_groups", "runs")  # as schema.TABLES
RUN_FIELDS = ("started_at", "branch", "tag", "git_sha", "config_digest")  # joined onto groups, metrics


_JSON = Encoder().encode  # json.dumps(value), its C encoder made once (a run's scores, per case)


def sqlite_file(url: str) -> str | None:
    """The file of a plain `sqlite:///PATH` URL; None for anything else (another database, a
    driver, options, an in-memory database, escapes), which SQLAlchemy's store handles."""
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        return None
    path = url.removeprefix(prefix)
    if not path or path == ":memory:" or any(c in path for c in "?#%"):
        return None
    return path


HEAD_SCHEMA = Path(__file__).with_name("head.sql")


def schema_script(conn: sqlite3.Connection) -> str:
    """A SQLite database's schema as the script that makes it again: its tables and indexes, in
    the order they were made, and its stored revision. (head.sql is this, of a history alembic
    migrated to head.)"""
    made = conn.execute("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY rowid")
    lines = [f"{sql};" for (sql,) in made]
    for (revision,) in conn.execute(f"SELECT version_num FROM {VERSION_TABLE}"):
        lines.append(f"INSERT INTO {VERSION_TABLE} (version_num) VALUES ('{revision}');")
    return "\n".join(lines) + "\n"


HEAD_HEADER = (
    "-- The run history's schema at alembic's head, as SQLite stores it: what a history file that\n"
    "-- does not exist yet is made from (evalkit/history/lite.py). After a new migration, write it\n"
    "-- again: python -c 'from evalkit.history.lite import write_head_schema; write_head_schema()'\n"
)


def head_schema_from_alembic(folder: Path) -> str:
    """head.sql's text, made now: a history migrated to head by alembic, as `schema_script`."""
    from evalkit.history.store import HistoryStore

    path = folder / "alembic.sqlite"
    store = HistoryStore(f"sqlite:///{path}")
    try:
        store.migrate()
    finally:
        store.close()
    conn = sqlite3.connect(path)
    try:
        return HEAD_HEADER + schema_script(conn)
    finally:
        conn.close()


def write_head_schema() -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        HEAD_SCHEMA.write_text(head_schema_from_alembic(Path(folder)), encoding="utf-8")


def create_if_missing(url: str) -> None:
    """For a plain `sqlite:///PATH` URL whose file does not exist: make it, at HEAD_REVISION, from
    head.sql. Atomically: made under a private name, then linked into place, so a run recording
    at the same moment finds no file or a whole one (another process's counts as made). Where
    the file system cannot link, nothing is made here: alembic makes it, as for any database."""
    path = sqlite_file(url)
    if path is None or (target := Path(path).expanduser()).exists():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    fresh = target.with_name(f".{target.name}.{os.getpid()}.new")
    try:
        conn = sqlite3.connect(fresh, isolation_level=None)
        try:  # a private file until linked: no journal, one fsync of the whole before the link
            script = HEAD_SCHEMA.read_text(encoding="utf-8")
            conn.executescript(f"PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; BEGIN;\n{script}COMMIT;")
        finally:
            conn.close()
        _fsync(fresh)
        os.link(fresh, target)
    except FileExistsError:
        pass  # another run made it first
    except (OSError, sqlite3.Error):
        return  # e.g. no hard links here: HistoryStore makes it through alembic
    finally:
        fresh.unlink(missing_ok=True)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def open_current(url: str, *, connect_timeout_s: float = 5) -> LiteStore | None:
    """A LiteStore on `url` when it is a SQLite file whose schema is at alembic's head, else None."""
    path = sqlite_file(url)
    if path is None or not Path(path).expanduser().is_file():
        return None
    try:
        store = LiteStore(path, url, connect_timeout_s=connect_timeout_s)
    except HistoryUnavailable:
        return None
    if store.revision() != HEAD_REVISION:
        store.close()
        return None
    return store


class LiteStore:
    """HistoryStore's interface on a current SQLite history, without SQLAlchemy."""

    def __init__(self, path: str, url: str, *, connect_timeout_s: float = 5):
        secrets.register_url(url, "the history URL", warn=False)
        self.url = url  # a plain sqlite:/// URL: no password, no query to mask
        target = f"file:{quote(str(Path(path).expanduser()))}?mode=rw"  # never creates a file
        try:
            self.conn = sqlite3.connect(target, uri=True, timeout=connect_timeout_s, isolation_level=None)
        except sqlite3.Error as exc:
            raise HistoryUnavailable(f"history database {url} unavailable: {_reason(exc)}") from None

    def close(self) -> None:
        self.conn.close()

    def migrate(self) -> None:
        """Nothing to do: a LiteStore is only opened on a current schema (see open_current)."""

    def revision(self) -> str | None:
        try:
            rows = self.conn.execute(f"SELECT version_num FROM {VERSION_TABLE}").fetchall()
        except sqlite3.Error:
            return None
        return rows[0][0] if len(rows) == 1 else None

    def _write(self) -> _Transaction:
        return _Transaction(self)

    def _select(
        self, sql: str, params: Sequence[Any], table: str, extra: Sequence[str] = ()
    ) -> list[dict[str, Any]]:
        kinds = {**COLUMNS[table], **{name: COLUMNS["runs"][name] for name in extra}}
        try:
            cursor = self.conn.execute(sql, list(params))
            names = [d[0] for d in cursor.description]
            return [{n: _load(kinds[n], v) for n, v in zip(names, row, strict=True)} for row in cursor]
        except sqlite3.Error as exc:
            raise HistoryUnavailable(f"history database {self.url}: {_reason(exc)}") from None

    def record(
        self, run_dir: Path, *, branch: str | None = None, tag: str | None = None, fed: Path | None = None
    ) -> RunRecord:
        """Record (or re-record) a finished run directory in one transaction. `fed`: a SQLite
        file holding its per-case rows as results.jsonl reads back (`history.feed`), copied in
        with one INSERT … SELECT instead of reading the file back."""
        run = read_run(run_dir, branch=branch, tag=tag)
        with self._attached(fed) as fed_rows, self._write() as conn:
            found = conn.execute("SELECT started_at, config_digest FROM runs WHERE run_id = ?", [run.run_id])
            row = found.fetchone()
            if row is not None and not same_run(_load(TIME, row[0]), row[1], run):
                raise UserInputError(
                    f"run id {run.run_id} is already in the history for another run (started "
                    f"{_load(TIME, row[0])}): not replaced",
                    path=run_dir,
                )
            for table in CHILDREN_FIRST:
                conn.execute(f"DELETE FROM {table} WHERE run_id = ?", [run.run_id])
            _insert(conn, "runs", [run_row(run)])
            _insert(conn, "run_groups", [{"run_id": run.run_id, **g} for g in run.groups])
            _insert(conn, "run_metrics", [{"run_id": run.run_id, **m} for m in run.metrics])
            if fed_rows:
                conn.execute(FED_INSERT, [run.run_id])
            else:
                conn.executemany(CASE_INSERT, _case_params(run.run_id, read_case_values(run_dir)))
            _insert(conn, "run_alerts", alert_rows(run.run_id, read_alerts(run_dir)))
        return run

    @contextlib.contextmanager
    def _attached(self, fed: Path | None) -> Iterator[bool]:
        """`fed` attached as FED (True) for the body, when given and it opens (else False: the
        file is read back); attached outside a transaction, as SQLite requires."""
        attached = False
        if fed is not None:
            try:
                self.conn.execute(f"ATTACH DATABASE ? AS {FED}", [f"file:{quote(str(fed))}?mode=ro"])
                attached = True
            except sqlite3.Error:
                pass
        try:
            yield attached
        finally:
            if attached:
                with contextlib.suppress(sqlite3.Error):
                    self.conn.execute(f"DETACH DATABASE {FED}")

    def record_alerts(self, run_id: str, alerts: Sequence[dict[str, Any]], exit_code: int | None) -> None:
        """The alerts a run raised (replacing any recorded before), and its final exit code."""
        with self._write() as conn:
            conn.execute("DELETE FROM run_alerts WHERE run_id = ?", [run_id])
            _insert(conn, "run_alerts", alert_rows(run_id, alerts))
            if exit_code is not None:
                conn.execute("UPDATE runs SET exit_code = ? WHERE run_id = ?", [exit_code, run_id])

    def alerts(self, run_ids: Sequence[str]) -> list[dict[str, Any]]:
        """The recorded alerts of these runs, in run order then as raised."""
        order = {rid: i for i, rid in enumerate(run_ids)}
        out: list[dict[str, Any]] = []
        for start in range(0, len(run_ids), 500):
            chunk = list(run_ids[start : start + 500])
            sql = f"SELECT {_cols('run_alerts')} FROM run_alerts WHERE run_id IN ({_marks(chunk)})"
            out += self._select(sql, chunk, "run_alerts")
        return sorted(out, key=lambda row: (order[row["run_id"]], row["seq"]))

    def runs(self, filters: Filters = NO_FILTERS) -> list[dict[str, Any]]:
        """Runs, oldest first, that match the filters (with a suite or variant: runs that have it)."""
        where, params = _run_conditions(filters)
        if filters.suite or filters.variant:
            inner, inner_params = _group_conditions(filters, "run_groups")
            where.append(
                f"runs.run_id IN (SELECT run_groups.run_id FROM run_groups WHERE {' AND '.join(inner)})"
            )
            params += inner_params
        sql = f"SELECT {_cols('runs')} FROM runs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY runs.started_at DESC, runs.run_id DESC"
        if filters.last:
            sql += " LIMIT ?"
            params.append(filters.last)
        return self._select(sql, params, "runs")[::-1]

    def groups(
        self, filters: Filters = NO_FILTERS, run_ids: Sequence[str] | None = None
    ) -> list[dict[str, Any]]:
        """Per suite × variant figures of the matching runs (or of `run_ids`), oldest run first."""
        return self._joined("run_groups", filters, run_ids)

    def metrics(
        self, filters: Filters = NO_FILTERS, run_ids: Sequence[str] | None = None
    ) -> list[dict[str, Any]]:
        return self._joined("run_metrics", filters, run_ids)

    def _joined(self, table: str, filters: Filters, run_ids: Sequence[str] | None) -> list[dict[str, Any]]:
        ids = list(run_ids) if run_ids is not None else [run["run_id"] for run in self.runs(filters)]
        if not ids:
            return []
        extra, extra_params = _group_conditions(filters, table)
        run_cols = ", ".join(f"runs.{name}" for name in RUN_FIELDS)
        sql = (
            f"SELECT {_cols(table)}, {run_cols} FROM {table} JOIN runs ON runs.run_id = {table}.run_id "
            f"WHERE {' AND '.join([f'{table}.run_id IN ({_marks(ids)})', *extra])} "
            "ORDER BY runs.started_at, runs.run_id"
        )
        return self._select(sql, [*ids, *extra_params], table, RUN_FIELDS)

    def cases(
        self, run_ids: Sequence[str], suite: str | None = None, variant: str | None = None
    ) -> Iterator[dict[str, Any]]:
        """Per-case rows of these runs (streamed, in chunks of runs)."""
        extra, extra_params = _group_conditions(Filters(suite, variant), "run_cases")
        for start in range(0, len(run_ids), 50):
            chunk = list(run_ids[start : start + 50])
            where = " AND ".join([f"run_cases.run_id IN ({_marks(chunk)})", *extra])
            sql = f"SELECT {_cols('run_cases')} FROM run_cases WHERE {where}"
            yield from self._select(sql, [*chunk, *extra_params], "run_cases")

    def case_scores(
        self, run_ids: Sequence[str], suite: str | None = None, variant: str | None = None
    ) -> Iterator[tuple[str, str, str, str, bool | None, dict[str, Any] | None]]:
        """(run id, suite, variant, case id, passed, scores) of the per-case rows of these runs:
        what an alert check needs of them (`cases`' values, without a dict per row)."""
        extra, extra_params = _group_conditions(Filters(suite, variant), "run_cases")
        loads = _json_loads
        for start in range(0, len(run_ids), 50):
            chunk = list(run_ids[start : start + 50])
            where = " AND ".join([f"run_cases.run_id IN ({_marks(chunk)})", *extra])
            sql = f"SELECT run_id, suite, variant, case_id, passed, scores FROM run_cases WHERE {where}"
            for rows in self._fetched(sql, [*chunk, *extra_params]):
                for run_id, suite_, variant_, case_id, passed, text in rows:
                    scores = None if text is None else loads(text)
                    yield run_id, suite_, variant_, case_id, None if passed is None else bool(passed), scores

    def _fetched(self, sql: str, params: Sequence[Any]) -> Iterator[list[Any]]:
        """A query's rows, BATCH at a time (a run's rows are never all in memory at once)."""
        try:
            cursor = self.conn.execute(sql, list(params))
            while rows := cursor.fetchmany(BATCH):
                yield rows
        except sqlite3.Error as exc:
            raise HistoryUnavailable(f"history database {self.url}: {_reason(exc)}") from None

    def verdicts(
        self, run_ids: Sequence[str], suite: str, variant: str
    ) -> list[tuple[str, str, bool | None, bool]]:
        """(run id, case id, passed, errored) of one suite × variant in these runs."""
        ids = list(run_ids)
        sql = (
            "SELECT run_id, case_id, passed, error IS NOT NULL FROM run_cases "
            f"WHERE run_id IN ({_marks(ids)}) AND suite = ? AND variant = ?"
        )
        try:
            rows = self.conn.execute(sql, [*ids, suite, variant]).fetchall()
        except sqlite3.Error as exc:
            raise HistoryUnavailable(f"history database {self.url}: {_reason(exc)}") from None
        return [(r[0], r[1], _load(BOOL, r[2]), bool(r[3])) for r in rows]


class _Transaction:
    """BEGIN IMMEDIATE … COMMIT (a writer waits for another up to the timeout); a database error
    rolls back and becomes HistoryUnavailable (one line, exit 3)."""

    def __init__(self, store: LiteStore):
        self.store = store

    def __enter__(self) -> sqlite3.Connection:
        try:
            self.store.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise HistoryUnavailable(
                f"history database {self.store.url} unavailable: {_reason(exc)}"
            ) from None
        return self.store.conn

    def __exit__(self, kind: Any, exc: Any, tb: Any) -> None:
        conn = self.store.conn
        try:
            conn.execute("COMMIT" if exc is None else "ROLLBACK")
        except sqlite3.Error as err:
            raise HistoryUnavailable(f"history database {self.store.url}: {_reason(err)}") from None
        if isinstance(exc, sqlite3.Error):
            raise HistoryUnavailable(f"history database {self.store.url}: {_reason(exc)}") from None


CASE_INSERT = (
    f"INSERT INTO run_cases (run_id, {', '.join(CASE_COLUMNS)}) "
    f"VALUES ({', '.join('?' * (len(CASE_COLUMNS) + 1))})"
)


# a run's fed rows (history.feed): a table of `case_row`s in a SQLite file, in results.jsonl's
# order, attached as FED while the run is recorded
FED, FED_TABLE = "fed", "cases"
FED_SCHEMA = f"CREATE TABLE {FED_TABLE} ({', '.join(CASE_COLUMNS)})"  # no types: stored as given
FED_ROW = f"INSERT INTO {FED_TABLE} VALUES ({', '.join('?' * len(CASE_COLUMNS))})"
FED_INSERT = (
    f"INSERT INTO run_cases (run_id, {', '.join(CASE_COLUMNS)}) "
    f"SELECT ?, {', '.join(CASE_COLUMNS)} FROM {FED}.{FED_TABLE} ORDER BY rowid"
)


_PASSED, _CACHED, _SCORES = (CASE_COLUMNS.index(name) for name in ("passed", "cached", "scores"))
assert _PASSED < _CACHED == _SCORES - 1 == len(CASE_COLUMNS) - 2, "`_case_params` slices them so"


def _case_params(run_id: str, cases: Iterable[tuple[Any, ...]]) -> Iterator[tuple[Any, ...]]:
    """read_case_values' tuples (CASE_COLUMNS, in order) as run_cases' parameters (`case_row`)."""
    for values in cases:
        yield (run_id, *case_row(values))


def case_row(values: tuple[Any, ...]) -> tuple[Any, ...]:
    """One read_case_values tuple as run_cases stores it, less the run id: `_dump` written out
    for the run_cases columns (a test checks it against `_insert`): the two flags as integers,
    the scores as JSON text, with no dict per row. (A run's fed rows hold these: history.feed.)"""
    passed, cached = values[_PASSED], values[_CACHED]
    return (
        *values[:_PASSED],
        None if passed is None else int(bool(passed)),
        *values[_PASSED + 1 : _CACHED],
        None if cached is None else int(bool(cached)),
        _JSON(values[_SCORES]),
    )


def fed_row(r: CaseResult) -> tuple[Any, ...]:
    """A result's run_cases row less the run id, as its line reads back (`case_row` of
    `adapter.result_case_values`): what a run's fed rows hold (history.feed)."""
    return case_row(result_case_values(r))


def _insert(conn: sqlite3.Connection, table: str, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    names = list(rows[0])
    kinds = COLUMNS[table]
    sql = f"INSERT INTO {table} ({', '.join(names)}) VALUES ({_marks(names)})"
    conn.executemany(sql, [[_dump(kinds[n], row[n]) for n in names] for row in rows])


def _dump(kind: str, value: Any) -> Any:
    """A value as SQLAlchemy's SQLite dialect stores it."""
    if kind == JSON:
        return _JSON(value)  # None too: SQLAlchemy's JSON stores Python None as 'null'
    if value is None:
        return None
    if kind == TIME:  # the wall-clock fields, any offset ignored, as SQLAlchemy's DATETIME does
        return (
            f"{value.year:04d}-{value.month:02d}-{value.day:02d} "
            f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}.{value.microsecond:06d}"
        )
    if kind == BOOL:
        return int(bool(value))
    return value


_raw_decode = json.JSONDecoder().raw_decode


def _json_loads(text: str) -> Any:
    """json.loads(text), at half its cost for the text json.dumps wrote (no whitespace around
    it, so no regular expression to skip it); anything else goes through json.loads."""
    try:
        value, end = _raw_decode(text)
    except ValueError:
        return json.loads(text)
    return value if end == len(text) else json.loads(text)


def _load(kind: str, value: Any) -> Any:
    if value is None:
        return None
    if kind == JSON:
        return json.loads(value)
    if kind == TIME:
        return datetime.fromisoformat(value)
    if kind == BOOL:
        return bool(value)
    return value


def _cols(table: str) -> str:
    return ", ".join(f"{table}.{name}" for name in COLUMNS[table])


def _marks(values: Sequence[Any]) -> str:
    return ", ".join("?" * len(values))


def _run_conditions(f: Filters) -> tuple[list[str], list[Any]]:
    where: list[str] = []
    params: list[Any] = []
    for sql, value in (
        ("runs.branch = ?", f.branch),
        ("runs.tag = ?", f.tag),
        ("runs.started_at >= ?", _dump(TIME, f.since)),
        ("runs.started_at <= ?", _dump(TIME, f.until)),
        ("runs.started_at <= (SELECT runs.started_at FROM runs WHERE runs.run_id = ?)", f.run_id),
    ):
        if value:
            where.append(sql)
            params.append(value)
    return where, params


def _group_conditions(f: Filters, table: str) -> tuple[list[str], list[Any]]:
    where: list[str] = []
    params: list[Any] = []
    if f.suite:
        where.append(f"{table}.suite = ?")
        params.append(f.suite)
    if f.variant:
        where.append(f"{table}.variant = ?")
        params.append(f.variant)
    return where, params


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
