"""What each case's row in report.html needs from the run's other files (the baseline's line for
the case, the case's vars), looked up in an on-disk index instead of an in-memory map: the
report's writer stays flat in memory at any number of cases.

The index is a scratch SQLite file, built by streaming baseline_outputs.jsonl and cases.jsonl
once and removed with the context; the files themselves are only read (they are data).
"""

from __future__ import annotations

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

from evalkit._util.jsontext import Encoder
from evalkit._util.textsafe import clean_data

BATCH = 5_000  # rows per insert: the index is built in bounded memory
Key = tuple[str, str, str, int]


class Lookup:
    """(suite, variant, case id, repeat) → the baseline's line; (suite, case id) → vars JSON."""

    def __init__(self, baseline_file: Path, cases_file: Path) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="evalkit-report-")
        self._db = sqlite3.connect(Path(self._tmp.name) / "lookup.sqlite")
        self._db.executescript(
            "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-8000;"
            # keyed by case id first: a chunk's cases are looked up by their ids
            "CREATE TABLE base (suite TEXT, variant TEXT, id TEXT, rep INTEGER, line TEXT,"
            " PRIMARY KEY (id, suite, variant, rep)) WITHOUT ROWID;"
            "CREATE TABLE vars (suite TEXT, id TEXT, vars TEXT, PRIMARY KEY (id, suite)) WITHOUT ROWID;"
        )
        # a run without a baseline (or without cases.jsonl) asks nothing of that table
        base, case_vars = _baseline_rows(baseline_file), _vars_rows(cases_file)
        self._has_base = self._insert("INSERT OR REPLACE INTO base VALUES (?, ?, ?, ?, ?)", base)
        self._has_vars = self._insert("INSERT OR REPLACE INTO vars VALUES (?, ?, ?)", case_vars)

    def _insert(self, sql: str, rows: Iterator[tuple[Any, ...]]) -> int:
        """Insert the rows a batch at a time; how many there were."""
        batch: list[tuple[Any, ...]] = []
        count = 0
        for row in rows:
            batch.append(row)
            if len(batch) >= BATCH:
                self._db.executemany(sql, batch)
                count += len(batch)
                batch.clear()
        self._db.executemany(sql, batch)
        self._db.commit()
        return count + len(batch)

    def baselines(self, keys: Iterable[Key]) -> dict[Key, dict[str, Any]]:
        """The baseline's record for each of these (suite, variant, case id, repeat) it has."""
        out: dict[Key, dict[str, Any]] = {}
        if not self._has_base:
            return out
        wanted = set(keys)
        for rows in self._by_ids("SELECT suite, variant, id, rep, line FROM base", {k[2] for k in wanted}):
            for suite, variant, case_id, repeat, line in rows:
                if (suite, variant, case_id, repeat) in wanted:
                    out[suite, variant, case_id, repeat] = _loads(line)
        return out

    def vars(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """Each of these (suite, case id)'s vars as JSON text, where cases.jsonl has them."""
        out: dict[tuple[str, str], str] = {}
        if not self._has_vars:
            return out
        wanted = set(keys)
        for rows in self._by_ids("SELECT suite, id, vars FROM vars", {k[1] for k in wanted}):
            out.update({(s, i): v for s, i, v in rows if (s, i) in wanted})
        return out

    def _by_ids(self, select: str, ids: set[str]) -> Iterator[list[tuple[Any, ...]]]:
        """One query per few hundred case ids: a chunk of cases costs a few queries, not one each."""
        order = sorted(ids)
        for at in range(0, len(order), 500):
            part = order[at : at + 500]
            sql = f"{select} WHERE id IN ({', '.join('?' * len(part))})"
            yield self._db.execute(sql, part).fetchall()

    def close(self) -> None:
        self._db.close()
        self._tmp.cleanup()

    def __enter__(self) -> Lookup:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _loads(line: str) -> Any:
    """json.loads, by pydantic-core where it can (the same values, in a third of the time; it
    refuses a lone surrogate, which json.loads reads)."""
    try:
        return pydantic_core.from_json(line)
    except ValueError:
        return json.loads(line)


class _BaselineKey(TypedDict):
    """The key of a baseline line (the rest is parsed, not built: the line is kept as text)."""

    suite: Any
    variant: Any
    case_id: Any
    repeat: NotRequired[Any]


_BASELINE_KEY = TypeAdapter(_BaselineKey)


def _baseline_rows(path: Path) -> Iterator[tuple[str, str, str, int, str]]:
    if not path.is_file():
        return
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.isspace():
                continue
            try:
                record: Any = _BASELINE_KEY.validate_json(line)
            except ValueError:  # as json.loads reads it: its error, or a key error, as before
                record = json.loads(line)
            yield record["suite"], record["variant"], record["case_id"], record.get("repeat", 0), line


class _CaseVars(TypedDict):
    """The three fields of a cases.jsonl row the report needs (the rest is parsed, not built)."""

    suite: Any
    id: Any
    vars: NotRequired[Any]


_CASE_VARS = TypeAdapter(_CaseVars)
# json.dumps(vars, sort_keys=True, ensure_ascii=False), its C encoder made once (not per case)
_VARS_JSON = Encoder(sort_keys=True, ensure_ascii=False).encode


def _vars_rows(path: Path) -> Iterator[tuple[str, str, str]]:
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
                yield str(row["suite"]), str(row["id"]), text
            except (ValueError, KeyError, TypeError, AttributeError):
                continue
