"""What each case's row in report.html needs from the run's other files (the fields it shows of
the baseline's line for the case, the case's vars), looked up in an on-disk index instead of an
in-memory map: the report's writer stays flat in memory at any number of cases.

The index is a scratch SQLite file, built by streaming baseline_outputs.jsonl and cases.jsonl
once and removed with the context; the files themselves are only read (they are data).
"""

from __future__ import annotations

import itertools
import json
import sqlite3
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, NotRequired

import pydantic_core
from pydantic import TypeAdapter
from typing_extensions import TypedDict

from evalkit._util import scratch
from evalkit._util.jsontext import Encoder
from evalkit._util.textsafe import clean_data

BATCH = 5_000  # rows per insert: the index is built in bounded memory
# A table is held in a dict while its rows' text stays under this many bytes (a row counted
# ROW_BYTES more, for its key and the dict): a run of tens of thousands of cases asks nothing of
# SQLite; a larger one spills the table to the on-disk index, so memory stays bounded.
MEMORY_BYTES = 16 * 2**20
ROW_BYTES = 300
Key = tuple[str, str, str, int]
PRAGMAS = "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-8000;"
_SCHEMA = {
    # keyed by case id first: a chunk's cases are looked up by their ids
    "base": "CREATE TABLE base (suite TEXT, variant TEXT, id TEXT, rep INTEGER, fields TEXT,"
    " PRIMARY KEY (id, suite, variant, rep)) WITHOUT ROWID",
    "vars": "CREATE TABLE vars (suite TEXT, id TEXT, vars TEXT, PRIMARY KEY (id, suite)) WITHOUT ROWID",
}


class Lookup:
    """(suite, variant, case id, repeat) → the baseline's fields; (suite, case id) → vars JSON.
    Each table a dict while it is small (see MEMORY_BYTES), else an SQLite table."""

    def __init__(self, baseline_file: Path | None = None, cases_file: Path | None = None) -> None:
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._db: sqlite3.Connection | None = None
        self._base: dict[Any, str] | None = {}
        self._vars: dict[Any, str] | None = {}
        # a run without a baseline (or without cases.jsonl) asks nothing of that table
        if baseline_file is not None:
            for _ in self.loading("base", baseline_rows(baseline_file)):
                pass
        if cases_file is not None:
            for _ in self.loading("vars", vars_rows(cases_file)):
                pass

    def loading(self, table: str, rows: Iterator[tuple[Any, str]], step: int = 0) -> Iterator[None]:
        """Load a table from its rows (key, text), pausing (a yield) every `step` rows (0: never):
        a run's report loads its tables a little at a time while the run goes
        (`evalkit.report.casefeed`). In a dict (a later row for a key replaces an earlier one, as
        INSERT OR REPLACE does) while they stay under MEMORY_BYTES and every key is `plain`
        (compared by SQLite as by Python: the baseline's), else in SQLite."""
        held: dict[Any, str] = {}
        size = 0
        plain = _plain if table == "base" else None
        for count, (key, text) in enumerate(rows, start=1):
            if size > MEMORY_BYTES or (plain is not None and not plain(key)):
                yield from self._spill(table, itertools.chain(held.items(), [(key, text)], rows), step)
                held = {}
                break
            held[key] = text
            size += len(text) + ROW_BYTES
            if step and count % step == 0:
                yield
        else:
            setattr(self, f"_{table}", held)
            return
        setattr(self, f"_{table}", None)

    def _spill(self, table: str, rows: Iterator[tuple[Any, str]], step: int) -> Iterator[None]:
        if self._db is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="report-", dir=scratch.folder())
            self._db = sqlite3.connect(Path(self._tmp.name) / "lookup.sqlite")
            self._db.executescript(PRAGMAS)
        self._db.execute(_SCHEMA[table])
        width = 5 if table == "base" else 3
        sql = f"INSERT OR REPLACE INTO {table} VALUES ({', '.join('?' * width)})"
        yield from self._insert(sql, ((*key, text) for key, text in rows), step or BATCH)

    def _insert(self, sql: str, rows: Iterator[tuple[Any, ...]], batch_rows: int) -> Iterator[None]:
        """Insert the rows `batch_rows` at a time (a yield after each)."""
        assert self._db is not None
        batch: list[tuple[Any, ...]] = []
        for row in rows:
            batch.append(row)
            if len(batch) >= batch_rows:
                self._db.executemany(sql, batch)
                batch.clear()
                yield
        self._db.executemany(sql, batch)
        self._db.commit()

    def baselines(self, keys: Iterable[Key]) -> dict[Key, dict[str, Any]]:
        """The fields the report reads of the baseline's record (REPORTED, every object's keys
        in order) for each of these (suite, variant, case id, repeat) it has."""
        out: dict[Key, dict[str, Any]] = {}
        if self._base is not None:
            held = self._base
            if held:
                for key in set(keys):
                    if (text := held.get(key)) is not None:
                        out[key] = _loads(text)
            return out
        wanted = set(keys)
        for rows in self._by_ids("SELECT suite, variant, id, rep, fields FROM base", {k[2] for k in wanted}):
            for suite, variant, case_id, repeat, line in rows:
                if (suite, variant, case_id, repeat) in wanted:
                    out[suite, variant, case_id, repeat] = _loads(line)
        return out

    def vars(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """Each of these (suite, case id)'s vars as JSON text, where cases.jsonl has them."""
        if self._vars is not None:
            held = self._vars
            return {key: text for key in set(keys) if (text := held.get(key)) is not None} if held else {}
        out: dict[tuple[str, str], str] = {}
        wanted = set(keys)
        for rows in self._by_ids("SELECT suite, id, vars FROM vars", {k[1] for k in wanted}):
            out.update({(s, i): v for s, i, v in rows if (s, i) in wanted})
        return out

    def _by_ids(self, select: str, ids: set[str]) -> Iterator[list[tuple[Any, ...]]]:
        """One query per few hundred case ids: a chunk of cases costs a few queries, not one each."""
        assert self._db is not None
        order = sorted(ids)
        for at in range(0, len(order), 500):
            part = order[at : at + 500]
            sql = f"{select} WHERE id IN ({', '.join('?' * len(part))})"
            yield self._db.execute(sql, part).fetchall()

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self) -> Lookup:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _plain(key: tuple[Any, Any, Any, Any]) -> bool:
    """Whether a baseline's key compares in a dict as in SQLite: text, and a 64-bit integer
    repeat (SQLite converts a repeat written as text or as a whole float, by the column's type)."""
    suite, variant, case_id, repeat = key
    return (
        type(suite) is str
        and type(variant) is str
        and type(case_id) is str
        and type(repeat) is int
        and -_INT64 <= repeat < _INT64
    )


_INT64 = 2**63


def _loads(line: str) -> Any:
    """json.loads, by pydantic-core where it can (the same values, in a third of the time; it
    refuses a lone surrogate, which json.loads reads)."""
    try:
        return pydantic_core.from_json(line)
    except ValueError:
        return json.loads(line)


class _BaselineKey(TypedDict):
    """The key of a baseline line and the fields the report reads (the rest is parsed, not built)."""

    suite: Any
    variant: Any
    case_id: Any
    repeat: NotRequired[Any]
    output: NotRequired[Any]
    scores: NotRequired[Any]
    passed: NotRequired[Any]
    error: NotRequired[Any]


_BASELINE_KEY = TypeAdapter(_BaselineKey).validator  # validate_json less its Python wrapper
REPORTED = ("error", "output", "passed", "scores")  # what a case's row shows of its baseline
# the reported fields as JSON, every object's keys in order (ASCII: a lone surrogate is stored
# escaped, as SQLite stores UTF-8), the C encoder made once
_REPORTED_JSON = Encoder(sort_keys=True, ensure_ascii=True).encode


def baseline_rows(path: Path) -> Iterator[tuple[tuple[Any, Any, Any, Any], str]]:
    """Each baseline line's key and, as JSON text, the fields the report reads of it (so a
    lookup parses a few fields, not the whole line)."""
    if not path.is_file():
        return
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if not line.isspace():
                yield baseline_row(line)


def baseline_row(line: str) -> tuple[tuple[Any, Any, Any, Any], str]:
    """A baseline line's key and the fields the report reads of it, as JSON text."""
    try:
        record: Any = _BASELINE_KEY.validate_json(line)
    except ValueError:  # as json.loads reads it: its error, or a key error, as before
        record = json.loads(line)
    reported = {k: record[k] for k in REPORTED if k in record}
    key = record["suite"], record["variant"], record["case_id"], record.get("repeat", 0)
    return key, _REPORTED_JSON(reported)


class _CaseVars(TypedDict):
    """The three fields of a cases.jsonl row the report needs (the rest is parsed, not built)."""

    suite: Any
    id: Any
    vars: NotRequired[Any]


_CASE_VARS = TypeAdapter(_CaseVars).validator
# json.dumps(vars, sort_keys=True, ensure_ascii=False), its C encoder made once (not per case)
_VARS_JSON = Encoder(sort_keys=True, ensure_ascii=False).encode


def vars_rows(path: Path) -> Iterator[tuple[tuple[str, str], str]]:
    """As evalkit.rundir.snapshot.case_vars reads cases.jsonl: a corrupt line leaves its case
    without vars. Each line is read through pydantic into just those fields (a quarter of
    json.loads' time on a case with messages and metadata); a line it refuses (not JSON as it
    reads it, a lone surrogate) is read again with json.loads, as before (a lone surrogate
    made U+FFFD: SQLite stores UTF-8)."""
    if not path.is_file():
        return
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            try:
                row: Any = _CASE_VARS.validate_json(line)
            except ValueError:
                row = None
            try:
                if row is None:  # a lone surrogate is kept as U+FFFD (the index stores UTF-8)
                    row = clean_data(json.loads(line))
                case_vars = row.get("vars")
                text = _VARS_JSON(case_vars) if case_vars else "{}"
                yield (str(row["suite"]), str(row["id"])), text
            except (ValueError, KeyError, TypeError, AttributeError):
                continue
