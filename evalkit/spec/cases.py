"""A suite's cases once validated, in memory that does not grow with the suite.

`CaseList` holds the first `SPILL_AT` cases as objects; past that (only cases read from a JSONL
or CSV file, whose values are JSON's) every case is written to a private scratch file as its
row (`case_row`, marshalled a block of rows at a time: several times cheaper than JSON both ways)
and read back a block at a time each time the cases are iterated, so a suite of a million cases
costs what a few thousand do. The scratch file is what the run uses, even if the suite's
own file changes meanwhile; it is deleted when the last reference lets go.

`CaseIds` is the duplicate-id check of a whole suite: a set while small, then a scratch SQLite
table (the same bounded memory at any size). `case_row` / `case_from_row` are the one JSON form
of a case: the scratch file's rows and the run directory's cases.jsonl (`evalkit.rundir.snapshot`).
"""

from __future__ import annotations

import contextlib
import marshal
import os
import sqlite3
import weakref
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Any, Literal, overload

from evalkit._util.models import Spec
from evalkit._util.scratch import scratch_db, scratch_file
from evalkit.tools.expect import ToolExpectations
from evalkit.types import ToolSchema

SPILL_AT = 4096  # cases held as objects; beyond, a spillable list keeps them in its scratch file
BLOCK = 64  # rows written to (and read from) the scratch file at a time


class MessageTemplate(Spec):
    role: Literal["system", "user", "assistant", "tool"]  # system, user, assistant or tool
    content: str  # the message: a jinja2 template over the case's vars


@dataclass(frozen=True)
class Case:
    id: str
    vars: dict[str, Any]
    references: tuple[str, ...]
    tags: tuple[str, ...]
    metadata: dict[str, Any]
    messages: tuple[MessageTemplate, ...] | None
    origin: str  # "file:line", for error messages
    relevant_ids: tuple[str, ...] = ()
    expect: ToolExpectations | None = None  # tool-use expectations, when the case has any
    tools: tuple[ToolSchema, ...] | None = None  # the case's own tools (BFCL-style benchmarks)
    choices: tuple[str, ...] | None = None  # multiple choice: scored by log-likelihood
    gold: int | None = None  # ... the index of the right choice

    @property
    def reference(self) -> str | None:
        return self.references[0] if self.references else None


def tools_json(tools: Sequence[ToolSchema]) -> list[dict[str, Any]]:
    """Tools as plain JSON, for digests and the run directory's case snapshot."""
    return [t.model_dump(mode="json", exclude_none=True) for t in tools]


def case_row(case: Case) -> dict[str, Any]:
    """A case as JSON values (what `case_from_row` reads back to an equal Case)."""
    return {
        "id": case.id,
        "vars": case.vars,
        "references": list(case.references),
        "tags": list(case.tags),
        "metadata": case.metadata,
        "messages": None if case.messages is None else [m.model_dump() for m in case.messages],
        "origin": case.origin,
        "relevant_ids": list(case.relevant_ids),
        **({"expect": case.expect.model_dump(mode="json")} if case.expect is not None else {}),
        **({"tools": tools_json(case.tools)} if case.tools is not None else {}),
        **({"choices": list(case.choices), "gold": case.gold} if case.choices is not None else {}),
    }


def case_from_row(row: dict[str, Any], origin: str) -> Case:
    """The Case of a `case_row` (`origin`: where it was read, when the row names none).
    Raises ValueError, KeyError or TypeError on a malformed row."""
    messages = row.get("messages")
    return Case(
        id=row["id"],
        vars=row.get("vars") or {},
        references=tuple(row.get("references") or ()),
        tags=tuple(row.get("tags") or ()),
        metadata=row.get("metadata") or {},
        messages=None if messages is None else tuple(MessageTemplate.model_validate(m) for m in messages),
        origin=row.get("origin") or origin,
        relevant_ids=tuple(row.get("relevant_ids") or ()),
        expect=None if row.get("expect") is None else ToolExpectations.model_validate(row["expect"]),
        tools=None if row.get("tools") is None else tuple(ToolSchema.model_validate(t) for t in row["tools"]),
        choices=None if row.get("choices") is None else tuple(row["choices"]),
        gold=row.get("gold"),
    )


class CaseList(Sequence["Case"]):
    """A suite's cases, in order: a list while few; with `spill`, a scratch file past SPILL_AT.
    Filled once with `append`, then read (iterating a spilled list reads its file again)."""

    def __init__(self, cases: Iterable[Case] = (), *, spill: bool = False):
        self._held: list[Case] = []
        self._spill = spill
        self._path: str | None = None
        self._writer: IO[bytes] | None = None
        self._pending: list[dict[str, Any]] = []  # rows not yet in the scratch file
        self._n = 0
        self.unreferenced: Case | None = None  # the first case without a reference
        for case in cases:
            self.append(case)

    def append(self, case: Case) -> None:
        if self.takes_rows:
            self.append_row(case_row(case))
            return
        if self.unreferenced is None and not case.references:
            self.unreferenced = case
        self._held.append(case)
        self._n += 1

    @property
    def takes_rows(self) -> bool:
        """Whether the next case goes to the scratch file (`append_row`: no Case needed)."""
        return self._spill and (self._path is not None or len(self._held) >= SPILL_AT)

    def append_row(self, row: dict[str, Any]) -> None:
        """Add a case as its `case_row` (only when `takes_rows`)."""
        assert self.takes_rows
        if self.unreferenced is None and not row["references"]:
            self.unreferenced = case_from_row(row, "")
        if self._writer is None:
            self._path = scratch_file("cases-", ".bin")
            self._writer = open(self._path, "wb")  # noqa: SIM115 (closed by _drop)
            weakref.finalize(self, _drop, self._writer, self._path)
            for start in range(0, len(self._held), BLOCK):  # the file holds them all, in order
                self._pending = [case_row(held) for held in self._held[start : start + BLOCK]]
                self._flush()
            self._held = []
        self._pending.append(row)
        if len(self._pending) >= BLOCK:
            self._flush()
        self._n += 1

    def _flush(self) -> None:
        """The pending rows into the scratch file, as one block: its length, then the rows
        marshalled (the process's own file: values come back exactly as they went, lone
        surrogates, big integers and key order included, and loading one runs nothing)."""
        assert self._writer is not None
        if self._pending:
            block = marshal.dumps(self._pending)
            self._writer.write(len(block).to_bytes(4, "little") + block)
            self._pending = []

    def rows(self) -> Iterator[dict[str, Any]]:
        """Each case as its `case_row`, in order (a spilled list's rows, not made into Cases)."""
        if self._path is None:
            yield from map(case_row, self._held)
            return
        if self._writer is not None:
            self._flush()
            self._writer.flush()
        with open(self._path, "rb") as fh:
            while header := fh.read(4):
                yield from marshal.loads(fh.read(int.from_bytes(header, "little")))

    @property
    def spilled(self) -> bool:
        """Whether the cases live in the scratch file (read back one at a time)."""
        return self._path is not None

    def __len__(self) -> int:
        return self._n

    def __iter__(self) -> Iterator[Case]:
        if self._path is None:
            yield from self._held
            return
        for row in self.rows():
            yield case_from_row(row, "")

    @overload
    def __getitem__(self, index: int) -> Case: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Case]: ...
    def __getitem__(self, index: int | slice) -> Case | Sequence[Case]:
        if self._path is None:
            return self._held[index]
        if isinstance(index, slice):
            return list(self)[index]  # pragma: no cover - nothing slices a spilled list
        if index < 0:
            index += self._n
        if not 0 <= index < self._n:
            raise IndexError(index)
        return next(c for i, c in enumerate(self) if i == index)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, CaseList | tuple | list):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # equal lists compare equal: not hashable


def first_unreferenced(cases: Sequence[Case]) -> Case | None:
    """The first case without a reference (a CaseList knows it without reading its cases)."""
    if isinstance(cases, CaseList):
        return cases.unreferenced
    return next((c for c in cases if not c.references), None)


def _drop(writer: IO[bytes], path: str) -> None:
    writer.close()
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


Duplicate = tuple[str, str, str]  # a case id given twice: (id, where again, where first)


class CaseIds:
    """The ids of a suite's cases seen so far, each with where it was read (its origin): a dict
    while few, then a scratch SQLite table (memory bounded at any size) that takes the ids a
    block at a time. `add` finds a duplicate among the ids not yet in the table; `flush`, among
    the rest: call it before raising any other error of a later case (a duplicate before that
    case comes first) and when every case is in."""

    def __init__(self) -> None:
        self._seen: dict[str, str] = {}  # while few: every id; then those not yet in the table
        self._db: sqlite3.Connection | None = None
        self._n = 0  # ids added: each one's place, to tell it from an earlier one in the table

    def add(self, case_id: str, origin: str) -> Duplicate | None:
        """Record `case_id` (read at `origin`); the first duplicate found so far, if any."""
        first = self._seen.get(case_id)
        if first is not None:
            return self.flush() or (case_id, origin, first)  # an earlier one comes first
        self._seen[case_id] = origin
        self._n += 1
        if self._db is None:
            if len(self._seen) > SPILL_AT:
                self._db = scratch_db(
                    "CREATE TABLE ids (id TEXT PRIMARY KEY, n INTEGER, origin TEXT) WITHOUT ROWID; BEGIN;"
                )
                return self.flush()
        elif len(self._seen) >= BLOCK * 4:
            return self.flush()
        return None

    def first(self, case_id: str, origin: str) -> str | None:
        """Record `case_id` (read at `origin`); if it was seen before, where it was first."""
        found = self.add(case_id, origin) or self.flush()
        return None if found is None else found[2]

    def flush(self) -> Duplicate | None:
        """The ids not yet in the table put there (once past the few a dict holds); the first
        of them (in the order added) that an earlier id already gave, if any."""
        if self._db is None or not self._seen:
            return None
        start = self._n - len(self._seen)
        rows = [(case_id, start + i, origin) for i, (case_id, origin) in enumerate(self._seen.items())]
        self._seen = {}
        before = self._db.total_changes
        self._db.executemany("INSERT OR IGNORE INTO ids VALUES (?, ?, ?)", rows)
        if self._db.total_changes - before == len(rows):
            return None
        for case_id, n, origin in rows:  # rarely: which one was there already
            first_n, first = self._db.execute("SELECT n, origin FROM ids WHERE id = ?", (case_id,)).fetchone()
            if first_n != n:
                return case_id, origin, str(first)
        raise AssertionError("an id was not inserted, yet none was there before")  # pragma: no cover

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
        self._seen = {}
