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
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

BATCH = 5_000  # rows per insert: the index is built in bounded memory


class Lookup:
    """(suite, variant, case id, repeat) → the baseline's line; (suite, case id) → vars JSON."""

    def __init__(self, baseline_file: Path, cases_file: Path) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="evalkit-report-")
        self._db = sqlite3.connect(Path(self._tmp.name) / "lookup.sqlite")
        self._db.executescript(
            "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-8000;"
            "CREATE TABLE base (suite TEXT, variant TEXT, id TEXT, rep INTEGER, line TEXT,"
            " PRIMARY KEY (suite, variant, id, rep)) WITHOUT ROWID;"
            "CREATE TABLE vars (suite TEXT, id TEXT, vars TEXT, PRIMARY KEY (suite, id)) WITHOUT ROWID;"
        )
        self._insert("INSERT OR REPLACE INTO base VALUES (?, ?, ?, ?, ?)", _baseline_rows(baseline_file))
        self._insert("INSERT OR REPLACE INTO vars VALUES (?, ?, ?)", _vars_rows(cases_file))

    def _insert(self, sql: str, rows: Iterator[tuple[Any, ...]]) -> None:
        batch: list[tuple[Any, ...]] = []
        for row in rows:
            batch.append(row)
            if len(batch) >= BATCH:
                self._db.executemany(sql, batch)
                batch.clear()
        self._db.executemany(sql, batch)
        self._db.commit()

    def baseline(self, suite: str, variant: str, case_id: str, repeat: int) -> dict[str, Any] | None:
        row = self._db.execute(
            "SELECT line FROM base WHERE suite = ? AND variant = ? AND id = ? AND rep = ?",
            (suite, variant, case_id, repeat),
        ).fetchone()
        return json.loads(row[0]) if row else None

    def vars(self, suite: str, case_id: str) -> str | None:
        sql = "SELECT vars FROM vars WHERE suite = ? AND id = ?"
        row = self._db.execute(sql, (suite, case_id)).fetchone()
        return str(row[0]) if row else None

    def close(self) -> None:
        self._db.close()
        self._tmp.cleanup()

    def __enter__(self) -> Lookup:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _baseline_rows(path: Path) -> Iterator[tuple[str, str, str, int, str]]:
    if not path.is_file():
        return
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            record = json.loads(line)  # kept as text: parsed when its case is written
            yield record["suite"], record["variant"], record["case_id"], record.get("repeat", 0), line


def _vars_rows(path: Path) -> Iterator[tuple[str, str, str]]:
    """As evalkit.rundir.snapshot.case_vars reads cases.jsonl: a corrupt line leaves its case
    without vars."""
    if not path.is_file():
        return
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            try:
                row = json.loads(line)
                text = json.dumps(row.get("vars") or {}, sort_keys=True, ensure_ascii=False)
                yield str(row["suite"]), str(row["id"]), text
            except (ValueError, KeyError, TypeError, AttributeError):
                continue
