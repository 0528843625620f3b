"""The suites a run used, kept in its run directory: their settings in run.json (`SuiteRecord`)
and their cases in cases.jsonl, so a copy of the directory can be scored, reported and diffed
anywhere, with no suite files, config or credentials."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from evalkit._util.jsontext import Encoder
from evalkit.errors import UserInputError
from evalkit.rundir.dir import RunDir
from evalkit.rundir.files import jsonl_line
from evalkit.rundir.runinfo import RunInfo, SuiteRecord
from evalkit.spec.cases import Case, CaseList, MessageTemplate, case_from_row, case_row
from evalkit.spec.suite import ScorerSpec, Suite
from evalkit.types import CaseResult, GenerationParams, MetricInfo


def suite_record(suite: Suite, repeats: int, metrics: Sequence[MetricInfo] = ()) -> SuiteRecord:
    return SuiteRecord(
        name=suite.name,
        path=str(suite.source_path),
        content_hash=suite.content_hash,
        cases=len(suite.cases),
        repeats=repeats,
        description=suite.description,
        system=suite.system,
        messages=[m.model_dump() for m in suite.messages],
        params=suite.params.model_dump(exclude_none=True),
        tags=list(suite.tags),
        scorers=[spec.model_dump(mode="json", exclude_none=True) for spec in suite.scorers],
        thresholds=dict(suite.thresholds),
        pass_scores=list(suite.pass_scores) if suite.pass_scores is not None else None,
        max_new_failures=suite.max_new_failures,
        metrics=list(metrics),
    )


def case_vars(path: Path) -> dict[tuple[str, str], str]:
    """(suite, case id) → the case's vars as JSON text, from a run's cases.jsonl (none without
    one; a corrupt line leaves that case without vars)."""
    out: dict[tuple[str, str], str] = {}
    if not path.is_file():
        return out
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            try:
                row = json.loads(line)
                out[(str(row["suite"]), str(row["id"]))] = json.dumps(
                    row.get("vars") or {}, sort_keys=True, ensure_ascii=False
                )
            except (ValueError, KeyError, TypeError):
                continue
    return out


def write_cases(run_dir: RunDir, suites: Sequence[Suite]) -> None:
    """The run's cases.jsonl (see `CasesSnapshot`), written at once."""
    CasesSnapshot(run_dir, suites).finish()


class CasesSnapshot:
    """The run's cases.jsonl, written a block of rows at a time (`step`, or `writing` on the
    event loop while the first requests are in flight) and put in place whole (`finish`): until
    then the directory has no cases.jsonl, and `finish` is called before the first result is
    written (`ResultWriter.before_first`), so a directory with results always has its cases.
    A value JSON has no form for (a date in a YAML suite's vars) is written as its text, as the
    suite's content hash has it."""

    def __init__(self, run_dir: RunDir, suites: Sequence[Suite]):
        self._run_dir, self._suites = run_dir, suites
        self._done = False
        self._error: Exception | None = None  # what writing met (a full disk): raised by `finish`
        self._begin()

    def _begin(self) -> None:
        self._rows = ({"suite": s.name, **row} for s in self._suites for row in _rows(s.cases))
        self._out = self._run_dir.cases_writer()  # an earlier run's cases.jsonl removed first
        self._torn = False  # a step or commit cut short (an interrupt): `finish` begins again

    @property
    def done(self) -> bool:
        return self._done

    def step(self, rows: int) -> bool:
        """Write up to `rows` more rows; False once every row is written (or writing failed)."""
        if self._done or self._error is not None:
            return False
        self._torn = True
        lines = []
        try:
            for row in itertools.islice(self._rows, rows):
                try:
                    lines.append(jsonl_line(row))
                except TypeError:
                    lines.append(jsonl_line(json.loads(_AS_TEXT.encode(row))))
            self._out.write_all(lines)
        except Exception as exc:
            self._error = exc
            raise
        self._torn = False
        return len(lines) == rows

    def finish(self, synced: bool = False) -> None:
        """Write what is left and put cases.jsonl in place (once; a failure is raised again)."""
        if self._error is not None:
            raise self._error
        if self._done:
            return
        if self._torn:
            self._out.abort()
            self._begin()
            synced = False
        while self.step(BLOCK * 64):
            pass
        self._torn = True
        try:
            self._out.commit(synced=synced)
        except Exception as exc:
            self._error = exc
            raise
        self._torn = False
        self._done = True

    def abort(self) -> None:
        """Leave no temp file behind (a run that stopped before it wrote anything)."""
        if not self._done:
            self._out.abort()

    async def writing(self, delay_s: float = 0.0) -> None:
        """`finish`, a block of rows between two turns of the event loop, after `delay_s` (the
        first requests go out first); the fsync runs in a thread. An error waits for `finish`."""
        await asyncio.sleep(delay_s)
        try:
            while self.step(BLOCK):
                await asyncio.sleep(0)
            if self._done or self._error is not None:
                return
            fd = self._out.flushed()
        except Exception as exc:  # kept: `finish` raises it, before the first result is written
            self._error = self._error or exc
            return
        synced = await asyncio.to_thread(fsynced, fd)
        with contextlib.suppress(Exception):  # as above
            self.finish(synced=synced)  # nothing, if `finish` was called meanwhile


def fsynced(fd: int) -> bool:
    """Whether `fd` was fsync'd (False: `finish` fsyncs again, where a failure is raised)."""
    try:
        os.fsync(fd)
    except OSError:
        return False
    return True


_AS_TEXT = Encoder(default=str)
BLOCK = 128  # rows of cases.jsonl written between two turns of the event loop (well under 1 ms)


def _rows(cases: Sequence[Case]) -> Iterator[dict[str, Any]]:
    """A suite's cases as rows: a CaseList's own (a spilled one's lines as they are)."""
    return cases.rows() if isinstance(cases, CaseList) else map(case_row, cases)


def _read_cases(path: Path) -> Iterator[tuple[str, Case]]:
    """Each (suite, case) of a cases.jsonl, read one line at a time (memory does not grow with
    the run). A corrupt line: UserInputError with its line."""
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                yield row["suite"], case_from_row(row, f"{path.name}:{lineno}")
            except (ValueError, KeyError, TypeError) as exc:
                raise UserInputError(f"corrupt case line: {exc}", path=path, line=lineno) from None


def _cases_from_results(results: Sequence[CaseResult]) -> dict[str, list[Case]]:
    """Runs written before cases.jsonl existed: what the result lines tell of each case."""
    out: dict[str, dict[str, Case]] = {}
    for r in results:
        out.setdefault(r.suite, {}).setdefault(
            r.case_id,
            Case(
                id=r.case_id,
                vars={},
                references=tuple(r.references),
                tags=tuple(r.tags),
                metadata={},
                messages=None,
                origin=f"results.jsonl ({r.suite})",
            ),
        )
    return {suite: list(cases.values()) for suite, cases in out.items()}


def suites_from_run(
    run_dir: RunDir | Path, info: RunInfo, results: Sequence[CaseResult], *, cases: bool = True
) -> list[Suite]:
    """Rebuild the suites of a run from its directory alone. `cases=False`: their settings only
    (no case is read: what concluding a run needs, in memory that does not grow with it)."""
    path = RunDir.of(run_dir).cases_file
    by_suite: dict[str, list[Case]] = {}
    if not cases:
        pass
    elif path.exists():
        for suite_name, case in _read_cases(path):
            by_suite.setdefault(suite_name, []).append(case)
    else:
        by_suite = _cases_from_results(results)
    suites = []
    for record in info.suites:
        try:
            suites.append(_suite(record, tuple(by_suite.get(record.name, ()))))
        except ValidationError as exc:  # a crafted or damaged run.json: a usage error, no traceback
            err = exc.errors(include_url=False)[0]
            where = ".".join(str(p) for p in err["loc"])
            raise UserInputError(
                f"run.json: suite '{record.name}' is unreadable: {where}: {err['msg']}", path=run_dir
            ) from None
    return suites


def _suite(record: SuiteRecord, cases: tuple[Case, ...]) -> Suite:
    return Suite(
        name=record.name,
        description=record.description,
        source_path=Path(record.path or f"{record.name}.yaml"),
        system=record.system,
        messages=tuple(MessageTemplate.model_validate(m) for m in record.messages),
        cases=cases,
        scorers=tuple(ScorerSpec.model_validate(s) for s in record.scorers),
        thresholds=dict(record.thresholds),
        params=GenerationParams.model_validate(record.params),
        repeats=record.repeats,
        tags=tuple(record.tags),
        content_hash=record.content_hash or "",
        pass_scores=tuple(record.pass_scores) if record.pass_scores is not None else None,
        max_new_failures=record.max_new_failures,
    )


def read_cases(run_dir: RunDir | Path) -> Iterator[tuple[str, Case]]:
    """The cases of a run's cases.jsonl one at a time, as (suite name, case) in file order, each
    checked as `suites_from_run` checks it: for a reader that must not hold every case."""
    return _read_cases(RunDir.of(run_dir).cases_file)
