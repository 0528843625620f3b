"""The history's per-case rows of a run, fed as the execute stage writes results.jsonl.

Recording a run inserts a row per case × variant × repeat (`adapter.CASE_COLUMNS`); read back
from results.jsonl once the run had concluded, that was most of the recording's time (0.35 s
after the last answer of a 20,000-case run). A fresh `evalkit run` that records into a SQLite
history holds each result as it writes it, so `HistoryFeed` is one more of the `ResultWriter`'s
taps, attached where conclude's pass is (`stages.fedpass`): each batch, once written, goes as its
rows (`lite.fed_row`: each result as its line reads back, its NaN and infinities JSON's null, a
batch whose text had a secret scrubbed or a lone surrogate cleaned parsed from its lines) into a
private scratch SQLite file, 256 rows an insert, all in one transaction, and `LiteStore.record`
copies them into run_cases with one INSERT … SELECT, in the file's order.

Only when they are what reading the file gives (`HistoryFeed.rows`): results.jsonl was empty when
the run began, every batch written was fed whole (an interrupt between a write and its feed, or a
feed that raised, spoils it), the writer's count is the count fed, and results.jsonl is still the
very file fed, at the size fed (a file rewritten since, by a deferred scorer or by labels, is a
new file). Otherwise, and into any other history (PostgreSQL, an older schema), the file is read
back as before. Nothing reaches the history until the run is recorded whole, in one transaction
(a crash or Ctrl-C leaves no rows of it), and the scratch file, in the temporary folder and never
in the run directory, is removed when the feed closes (or is collected, or the process exits).

Its modules load with the first result written, not before the first request.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evalkit.rundir.files import UNFED

if TYPE_CHECKING:  # the rest loads with the first result written
    import sqlite3
    import weakref

    from evalkit.rundir.files import ResultWriter
    from evalkit.types import CaseResult

# rows inserted FLUSH at a time (about 1 ms of the event loop's time: SQLite's code and pages
# stay warm through one executemany, several times cheaper a row than a batch's few at a time)
FLUSH = 256


class HistoryFeed:
    """The history's rows of the results a `ResultWriter` writes (attach it), in a scratch file.
    `wanted`: whether the run is to be recorded into a SQLite history, asked with the first
    batch (not before the first request); False, and nothing is fed."""

    def __init__(self, wanted: Callable[[], bool] = lambda: True) -> None:
        self.wanted = wanted
        self.writer: ResultWriter | None = None
        self.file: tuple[int, int] | None = None  # results.jsonl's device and inode when attached
        self.n = 0  # results fed
        self.size = 0  # results.jsonl's size after the last batch fed
        self.spoiled: str | None = None  # why the rows are not the file's (None: they are)
        self.path: Path | None = None
        self._db: sqlite3.Connection | None = None
        self._insert = ""  # the scratch table's INSERT, and a result's row: set when it is made
        self._row: Callable[[CaseResult], tuple[Any, ...]] = _unset
        self._pending: list[tuple[Any, ...]] = []  # rows not inserted yet (FLUSH at most)
        self._finalizer: weakref.finalize[Any, HistoryFeed] | None = None

    def attach(self, writer: ResultWriter) -> None:
        """Be told of every batch `writer` writes; only a file that starts empty is fed."""
        stat = writer.path.stat()
        if stat.st_size:
            self.spoil("results.jsonl held results before the run")
        self.writer, self.file = writer, (stat.st_dev, stat.st_ino)
        writer.taps.append(self)

    def written(self, results: Sequence[CaseResult], text: str, exact: bool, size: int) -> None:
        if self.spoiled is not None:
            return
        self.spoiled = UNFED  # kept if feeding it is cut short (an interrupt)
        try:
            if self._db is None:
                if not self.wanted():
                    self.spoil("the run is not recorded into a SQLite history")
                    return
                self._open()
            self._pending += _rows(results, text, exact, self._row)
            if len(self._pending) >= FLUSH:
                self._flush()
        except Exception as exc:  # the feed's failure costs the history a read back, never the run
            self.spoil(f"feeding failed: {type(exc).__name__}: {exc}")
            return
        self.n += len(results)
        self.size, self.spoiled = size, None

    def rows(self, results_file: Path) -> Path | None:
        """The scratch file holding the rows of `results_file` as it is now, its writing done;
        None where they might differ from reading it back (then read it)."""
        writer, db = self.writer, self._db
        if self.spoiled is not None or writer is None or db is None or self.n != writer.count:
            return None
        try:
            stat = results_file.stat()
        except OSError:
            return None
        if (stat.st_dev, stat.st_ino) != self.file or stat.st_size != self.size:
            return None
        try:
            self._flush()
            db.commit()  # the one transaction the rows went in: the history's connection reads them
            db.close()
        except Exception:  # e.g. a full disk: the file is read back
            return None
        return self.path

    def _flush(self) -> None:
        if self._db is not None and self._pending:
            self._db.executemany(self._insert, self._pending)
        self._pending = []

    def spoil(self, why: str) -> None:
        """The rows are not (or might not be) the file's: never used; the scratch file goes."""
        if self.spoiled in (None, UNFED):
            self.spoiled = why
        self.close()

    def close(self) -> None:
        """The scratch file removed (the feed is done with)."""
        if self._finalizer is not None:
            self._finalizer()

    def _open(self) -> sqlite3.Connection:
        import sqlite3
        import weakref

        from evalkit._util.scratch import scratch_file
        from evalkit.history.lite import FED_ROW, FED_SCHEMA, fed_row

        self._insert, self._row = FED_ROW, fed_row

        name = scratch_file("history-", ".sqlite")
        try:  # written on the event loop's thread, then read by the history's connection
            db = sqlite3.connect(name, isolation_level="DEFERRED", check_same_thread=False)
        except sqlite3.Error:
            os.unlink(name)
            raise
        self.path, self._db = Path(name), db
        self._finalizer = weakref.finalize(self, _remove, db, name)
        # no journal, no syncing: nothing in it outlives the process; every row goes in one
        # transaction (begun by the first insert, committed by `rows`), its pages spilled to
        # the file as SQLite's page cache fills
        db.executescript(f"PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; {FED_SCHEMA};")
        return db


def _rows(
    results: Sequence[CaseResult], text: str, exact: bool, row: Callable[[CaseResult], tuple[Any, ...]]
) -> list[tuple[Any, ...]]:
    """The batch's rows (`lite.fed_row`) as its lines read back (`rundir.files.read_back`)."""
    from evalkit.rundir.files import read_back

    return [row(r) for r in read_back(results, text, exact)]


def _unset(r: CaseResult) -> tuple[Any, ...]:
    raise RuntimeError("the scratch file is not made yet")


def _remove(db: sqlite3.Connection, name: str) -> None:
    db.close()
    with contextlib.suppress(OSError):
        os.unlink(name)
