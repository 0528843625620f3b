"""A group's case records on disk, read back in case order: what lets the gate and `baseline
save` pair and write a run of any size in bounded memory.

Records are written, in arrival order, to a private temporary SQLite file (deleted when the
last reader lets go); reading them back yields each case's records together, cases sorted by id
(SQLite's binary order of UTF-8 is Python's order of `str`), a case's records in arrival order,
so every figure is computed exactly as from a list sorted in memory. results.jsonl and the
baseline files stay the source of truth: this is a scratch index, never part of a run directory.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import weakref
from collections.abc import Iterable, Iterator, Sequence
from itertools import groupby

from pydantic import BaseModel, ConfigDict, Field

from evalkit._util.models import new_list
from evalkit._util.scratch import scratch_file
from evalkit.types import CaseResult

BATCH = 2000  # records inserted per statement batch


class CaseRecord(BaseModel):
    """What a baseline keeps of one result (and what a diff compares)."""

    model_config = ConfigDict(extra="forbid")

    case_id: str
    repeat: int = 0
    case_hash: str | None = None  # the case's own data: what pairs it with the baseline
    input_hash: str | None = None  # the prompt it was asked with (provenance, not a pairing key)
    output: str | None = None
    error: str | None = None
    finish_reason: str | None = None  # "length": cut short (None in baselines saved before it was kept)
    scores: dict[str, float | None] = Field(default_factory=dict)
    passed: dict[str, bool] = Field(default_factory=dict)  # for pass/fail scores
    latency_ms: float | None = None
    cost_usd: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    model_version: str | None = None
    cached: bool = False
    latency_kept_from: str | None = None  # a cached result: the run whose measured latency it keeps
    tags: list[str] = Field(default_factory=new_list)

    @classmethod
    def from_result(cls, r: CaseResult) -> CaseRecord:
        return cls(
            case_id=r.case_id,
            repeat=r.repeat,
            case_hash=r.case_hash,
            input_hash=r.input_hash,
            output=r.output,
            error=r.error,
            finish_reason=r.finish_reason,
            scores={k: s.value for k, s in r.scores.items()},
            passed={k: s.passed for k, s in r.scores.items() if s.passed is not None},
            latency_ms=None if r.latency_ms is None else round(r.latency_ms, 3),
            cost_usd=r.cost_usd,
            input_tokens=r.usage.input_tokens,
            output_tokens=r.usage.output_tokens,
            model_version=r.model_version,
            cached=r.cached,
            tags=r.tags,
        )


class RecordStore:
    """One scratch SQLite file holding the records of any number of groups."""

    def __init__(self) -> None:
        path = scratch_file("records-", ".sqlite")
        self._db = sqlite3.connect(path, check_same_thread=False)
        self._db.executescript(
            "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-8000;"
            "CREATE TABLE records (gid INTEGER, case_id TEXT, repeat INTEGER, seq INTEGER, data TEXT);"
        )
        self._indexed = False
        self._groups = 0
        self._finalizer = weakref.finalize(self, _remove, self._db, path)

    def new_group(self) -> int:
        self._groups += 1
        return self._groups

    def insert(self, rows: list[tuple[int, str, int, int, str]]) -> None:
        if self._indexed:
            self._db.execute("DROP INDEX by_case")
            self._indexed = False
        self._db.executemany("INSERT INTO records VALUES (?, ?, ?, ?, ?)", rows)

    def cases(self, gid: int, by_repeat: bool) -> Iterator[tuple[str, list[CaseRecord]]]:
        """Each case of a group with its records, cases in id order, a case's records in arrival
        order (`by_repeat`: by repeat, then arrival)."""
        self._index()
        order = "case_id, repeat, seq" if by_repeat else "case_id, seq"
        cursor = self._db.execute(f"SELECT case_id, data FROM records WHERE gid = ? ORDER BY {order}", (gid,))
        rows = iter(lambda: cursor.fetchmany(BATCH), [])
        flat = (row for batch in rows for row in batch)
        for case_id, group in groupby(flat, key=lambda row: row[0]):
            yield case_id, [CaseRecord.model_validate_json(data) for _, data in group]

    def case_ids(self, gid: int) -> Iterator[str]:
        """A group's distinct case ids, in order (from the index: no record is parsed)."""
        self._index()
        cursor = self._db.execute(
            "SELECT DISTINCT case_id FROM records WHERE gid = ? ORDER BY case_id", (gid,)
        )
        for batch in iter(lambda: cursor.fetchmany(BATCH), []):
            for (case_id,) in batch:
                yield case_id

    def _index(self) -> None:
        if not self._indexed:
            self._db.execute("CREATE INDEX by_case ON records (gid, case_id, repeat, seq)")
            self._indexed = True

    def close(self) -> None:
        self._finalizer()


def _remove(db: sqlite3.Connection, path: str) -> None:
    db.close()
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


class StoredRecords:
    """A group's records in a `RecordStore`, as a read-only, re-iterable sequence: iterating
    gives them case by case (see `by_case`; `by_repeat`: a case's records by repeat, as a run's
    groups are sorted, else in arrival order, as a baseline file's), `len()` their number. What
    the gate needs of all of them is kept as they are added: the score names, the model
    versions, how many came from the cache."""

    def __init__(self, store: RecordStore | None = None, *, by_repeat: bool = False) -> None:
        self.store = store or RecordStore()
        self.gid = self.store.new_group()
        self.by_repeat = by_repeat
        self.n = 0
        self.model_versions: set[str] = set()
        self.cached = 0
        self._names: dict[tuple[str, ...], tuple[str | int, ...]] = {}  # names → where first seen
        self._pending: list[tuple[int, str, int, int, str]] = []

    @property
    def score_names(self) -> list[str]:
        """Score names in the order they are first seen, reading the records in order."""
        names: dict[str, None] = {}
        for seen in sorted(self._names, key=self._names.__getitem__):
            names.update(dict.fromkeys(seen))
        return list(names)

    def add(self, record: CaseRecord) -> None:
        names = tuple(record.scores)
        where = (record.case_id, record.repeat, self.n) if self.by_repeat else (self.n,)
        if names not in self._names or where < self._names[names]:
            self._names[names] = where
        if record.model_version:
            self.model_versions.add(record.model_version)
        self.cached += record.cached
        self._pending.append((self.gid, record.case_id, record.repeat, self.n, record.model_dump_json()))
        self.n += 1
        if len(self._pending) >= BATCH:
            self.flush()

    def extend(self, records: Iterable[CaseRecord]) -> StoredRecords:
        for record in records:
            self.add(record)
        self.flush()
        return self

    def flush(self) -> None:
        if self._pending:
            self.store.insert(self._pending)
            self._pending = []

    def by_case(self) -> Iterator[tuple[str, list[CaseRecord]]]:
        self.flush()
        return self.store.cases(self.gid, self.by_repeat)

    def case_ids(self) -> Iterator[str]:
        self.flush()
        return self.store.case_ids(self.gid)

    def __iter__(self) -> Iterator[CaseRecord]:
        for _, records in self.by_case():
            yield from records

    def __len__(self) -> int:
        return self.n


Records = Sequence[CaseRecord] | StoredRecords


def by_case(records: Records) -> Iterator[tuple[str, list[CaseRecord]]]:
    """Each case's records together, cases in id order, a case's records in their own order."""
    if isinstance(records, StoredRecords):
        return records.by_case()
    ordered = sorted(records, key=lambda r: r.case_id)  # stable: a case's records keep their order
    return ((case_id, list(group)) for case_id, group in groupby(ordered, key=lambda r: r.case_id))


def score_names(records: Records) -> list[str]:
    """The score names of a group's records, in the order they are first seen."""
    if isinstance(records, StoredRecords):
        return records.score_names
    names: dict[str, None] = {}
    for r in records:
        names.update(dict.fromkeys(r.scores))
    return list(names)


def model_versions(records: Records) -> list[str]:
    if isinstance(records, StoredRecords):
        return sorted(records.model_versions)
    return sorted({r.model_version for r in records if r.model_version})


def cached_count(records: Records) -> int:
    """How many of the records came from the response cache."""
    if isinstance(records, StoredRecords):
        return records.cached
    return sum(1 for r in records if r.cached)
