"""The plan a run's cases snapshot gives, held compact for `evalkit merge`: each result's place in
it is one integer (its position in the order an unsharded run makes its requests: suite,
variant, case, repeat), and each case's index in its suite is found in a scratch SQLite table,
so a million cases cost a few MB, not a Python object each."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path

from evalkit.errors import UserInputError
from evalkit.rundir.runinfo import RunInfo
from evalkit.rundir.snapshot import read_cases, suites_from_run
from evalkit.types import CaseResult

Key = tuple[int, int, int, int]  # (suite, variant, case, repeat) indexes; an unknown one: its count
MAX_POSITIONS = 1 << 62  # a plan larger than this is a crafted run.json, not a run


@dataclass(frozen=True)
class Place:
    """Where a result falls in the plan: `position` (None: the plan does not have it) and its
    `key`; `known_case`: its (suite, case id) is a case of the snapshot."""

    position: int | None
    key: Key
    known_case: bool


class CaseIndex:
    """(suite, case id) → the case's index in its suite, as cases.jsonl lists them (a case id
    given twice: its last line, as a dict would keep). A private temporary SQLite database:
    SQLite keeps a few MB of it in memory and the rest on disk, deleted on close."""

    def __init__(self, run_dir: Path, suite_names: Sequence[str]):
        self.counts = dict.fromkeys(suite_names, 0)  # cases per suite, a repeated id counted twice
        self.db = sqlite3.connect("")
        self.db.execute("PRAGMA cache_size = -16384")  # KiB
        self.db.execute(
            "CREATE TABLE c (suite TEXT, id TEXT, i INTEGER, PRIMARY KEY (suite, id)) WITHOUT ROWID"
        )
        self.db.executemany("INSERT OR REPLACE INTO c VALUES (?, ?, ?)", self._rows(run_dir))

    def _rows(self, run_dir: Path) -> Iterator[tuple[str, str, int]]:
        counts = self.counts
        for suite, case in read_cases(run_dir):  # every line is checked, even other suites'
            if suite in counts:
                yield _text(suite), _text(case.id), counts[suite]
                counts[suite] += 1

    def find(self, suite: str, case_id: str) -> int | None:
        row = self.db.execute(
            "SELECT i FROM c WHERE suite = ? AND id = ?", (_text(suite), _text(case_id))
        ).fetchone()
        return None if row is None else int(row[0])

    def close(self) -> None:
        self.db.close()


def _text(value: object) -> str:
    """A key as SQLite stores it: JSON (ASCII, so a lone surrogate is stored; 5 is not "5")."""
    return json.dumps(value)


class MergePlan:
    """The run's plan from its run.json (suites, repeats, variants) and cases.jsonl (cases)."""

    def __init__(self, run_dir: Path, info: RunInfo):
        self.run_dir = run_dir
        self.suites = suites_from_run(run_dir, info, (), cases=False)  # run.json's, checked
        self.variants = list(info.options.variants)
        self.suite_at = {s.name: i for i, s in enumerate(self.suites)}
        self.variant_at = {v: i for i, v in enumerate(self.variants)}
        self.cases = CaseIndex(run_dir, [s.name for s in self.suites])
        self.n_cases = [self.cases.counts[s.name] for s in self.suites]
        self.repeats = [s.repeats for s in self.suites]
        sizes = [len(self.variants) * n * r for n, r in zip(self.n_cases, self.repeats, strict=True)]
        self.start = [0, *accumulate(sizes)]  # each suite's first position
        self.planned = self.start[-1]  # results the plan has
        if self.planned >= MAX_POSITIONS:
            raise UserInputError(f"run.json: a plan of {self.planned} results cannot be a run", path=run_dir)

    def __enter__(self) -> MergePlan:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cases.close()

    def place(self, r: CaseResult) -> Place:
        si = self.suite_at.get(r.suite, len(self.suites))
        vi = self.variant_at.get(r.variant, len(self.variants))
        ci = self.cases.find(r.suite, r.case_id) if si < len(self.suites) else None
        key = (si, vi, -1 if ci is None else ci, r.repeat)
        if ci is None or vi == len(self.variants) or not 0 <= r.repeat < self.repeats[si]:
            return Place(None, key, ci is not None)
        return Place(self.start[si] + (vi * self.n_cases[si] + ci) * self.repeats[si] + r.repeat, key, True)

    def key_at(self, position: int) -> Key:
        """The (suite, variant, case, repeat) at a position of the plan."""
        si = next(i for i in range(len(self.suites)) if position < self.start[i + 1])
        rest, rep = divmod(position - self.start[si], self.repeats[si])
        vi, ci = divmod(rest, self.n_cases[si])
        return si, vi, ci, rep

    def name(self, position: int) -> str:
        """suite/case/variant/repeat of a position, for messages (reads cases.jsonl again)."""
        si, vi, ci, rep = self.key_at(position)
        suite = self.suites[si].name
        seen = -1
        for name, case in read_cases(self.run_dir):
            if name == suite:
                seen += 1
                if seen == ci:
                    return f"{suite}/{case.id}/{self.variants[vi]}/{rep}"
        raise AssertionError(f"no case {ci} in suite {suite}")
