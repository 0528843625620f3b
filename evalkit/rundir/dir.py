"""A run directory as one object: `RunDir` owns every file name in it, reads each file through its
typed reader (run.json and result lines through the migrations), writes each through the one
atomic, secret-scrubbing write path, and holds the lock that every writer takes.

    results.jsonl        one line per case × variant × repeat, appended as each finishes
    run.json             RunInfo: options, config and suites snapshot, versions, timings
    cases.jsonl          the cases the run used (vars, references, gold ids): re-scoring needs no suite files
    summary.json         per suite × variant figures, status, exit code
    diff.json            the gate's comparison with the baselines
    baseline.jsonl       the compared baseline cases, copied in at gate time (the report needs no baselines)
    baseline.meta.json   the compared baselines' provenance and folder (the gate is redone from files)
    labels.jsonl         human labels (`evalkit labels import`)
    calibration.json     judges vs people (`evalkit calibrate`)
    alerts.json          trend alerts, written when the run is recorded in the history
    report.html · junit.xml · summary.md   rendered from the files above (`evalkit report`)

Writers: `with run_dir.lock("evalkit score"):` — one writer at a time (a second one stops at
once, exit 2, told who holds it); every write method refuses to run without the lock, so a writer
that forgets it fails in the tests, not in a user's run directory.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from pydantic import BaseModel, ValidationError

from evalkit._util.secrets import scrub_json_text
from evalkit.errors import UserInputError
from evalkit.rundir.files import (
    AtomicFile,
    ResultWriter,
    read_json,
    read_results,
    write_json,
    write_jsonl,
    write_lines,
    write_text,
    write_text_pieces,
)
from evalkit.rundir.migrations import NewerSchemaError, migrate
from evalkit.rundir.runinfo import RunInfo
from evalkit.types import CaseResult

RESULTS = "results.jsonl"
RUN_INFO = "run.json"
CASES = "cases.jsonl"
SUMMARY = "summary.json"
DIFF = "diff.json"
BASELINE_OUTPUTS = "baseline.jsonl"
BASELINE_META = "baseline.meta.json"
LABELS = "labels.jsonl"
CALIBRATION = "calibration.json"
ALERTS = "alerts.json"
REPORT = "report.html"
JUNIT = "junit.xml"
SUMMARY_MD = "summary.md"
LOCK = ".lock"
# every file evalkit writes into a run directory (`--overwrite` removes exactly these)
RUN_FILES = (
    RESULTS,
    RUN_INFO,
    CASES,
    SUMMARY,
    DIFF,
    BASELINE_OUTPUTS,
    BASELINE_META,
    LABELS,
    CALIBRATION,
    ALERTS,
    REPORT,
    JUNIT,
    SUMMARY_MD,
)
# what each file is, for people (docs/reference/run-directory.md is generated from this)
PURPOSE: dict[str, str] = {
    RESULTS: "one line per case × variant × repeat, appended as each finishes (a crash loses nothing "
    "finished)",
    RUN_INFO: "the options, the config (no secrets), each suite's settings and scorers, versions, "
    "git sha and timings",
    CASES: "the cases the run used: re-scoring and reports need no suite files",
    SUMMARY: "per suite × variant: each score's mean and CI, pass rate, latency, tokens, cost, errors, "
    "threshold checks; the run's status and exit code",
    DIFF: "the gate's comparison with the baselines, metric by metric",
    BASELINE_OUTPUTS: "the baseline cases the run was compared with, copied in at gate time",
    BASELINE_META: "the compared baselines' provenance and folder, copied in at gate time",
    LABELS: "human labels imported with evalkit labels import (or a suite's calibration set)",
    CALIBRATION: "judges against the human labels, from evalkit calibrate",
    ALERTS: "the trend alerts of the history check, when the run was recorded in the history",
    REPORT: "the self-contained HTML report",
    JUNIT: "JUnit XML for CI: a test case per suite × variant × gate and threshold, and per failing case",
    SUMMARY_MD: "a Markdown summary for a CI job summary or a pull-request comment",
}


class RunDir:
    """One run directory. Paths are attributes (`results_file`, `summary_file`, ...); readers
    return typed values or raw JSON for records defined above this layer; writers need the lock."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.results_file = self.path / RESULTS
        self.info_file = self.path / RUN_INFO
        self.cases_file = self.path / CASES
        self.summary_file = self.path / SUMMARY
        self.diff_file = self.path / DIFF
        self.baseline_file = self.path / BASELINE_OUTPUTS
        self.baseline_meta_file = self.path / BASELINE_META
        self.labels_file = self.path / LABELS
        self.calibration_file = self.path / CALIBRATION
        self.alerts_file = self.path / ALERTS
        self.report_file = self.path / REPORT
        self.junit_file = self.path / JUNIT
        self.summary_md_file = self.path / SUMMARY_MD
        self.lock_file = self.path / LOCK

    @classmethod
    def of(cls, where: RunDir | Path | str) -> RunDir:
        """A RunDir from a path given on the command line (or the RunDir itself)."""
        return where if isinstance(where, RunDir) else cls(where)

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    def __str__(self) -> str:  # messages name the directory as the user gave it
        return str(self.path)

    def __fspath__(self) -> str:
        return os.fspath(self.path)

    # -- the lock -----------------------------------------------------------------------------
    def lock(self, holder: str) -> RunDirLock:
        """`with run_dir.lock("evalkit score"):` — the exclusive right to write this directory."""
        return RunDirLock(self.path, holder)

    @property
    def locked(self) -> bool:
        """Whether this process holds the lock."""
        return _held_key(self.path) in _HELD

    def _writing(self) -> None:
        if not self.locked:
            raise RuntimeError(f"{self.path}: written without its lock (take `RunDir.lock` first)")

    # -- readers ------------------------------------------------------------------------------
    def exists(self) -> bool:
        """Whether this holds a run (results.jsonl is there)."""
        return self.results_file.exists()

    def require_results(self) -> None:
        if not self.exists():
            raise UserInputError("not a run directory (no results.jsonl)", path=self.path)

    def check_contained(self) -> None:
        """A run directory is data: none of its files may lead outside it (a `results.jsonl` that
        is a link to /proc/self/environ, say), so reading it reads nothing else."""
        root = self.path.resolve()
        for name in RUN_FILES:
            path = self.path / name
            if path.is_symlink() and not path.resolve().is_relative_to(root):
                raise UserInputError(
                    f"{name} is a link to a file outside the run directory: refused", path=self.path
                )

    def info(self) -> RunInfo:
        """run.json, migrated from older versions; a missing or garbled one is a usage error.
        Every file of the directory is checked to stay inside it first."""
        self.check_contained()
        try:
            data = json.loads(self.info_file.read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
            return RunInfo.model_validate(migrate("run_info", data))
        except FileNotFoundError:
            raise UserInputError("not a run directory (no run.json)", path=self.path) from None
        except NotADirectoryError:
            raise UserInputError("not a run directory: a file, not a folder", path=self.path) from None
        except OSError as exc:
            raise UserInputError(f"run.json cannot be read: {exc.strerror or exc}", path=self.path) from None
        except (ValueError, ValidationError, NewerSchemaError, KeyError, TypeError) as exc:
            first = str(exc).splitlines()[0]
            raise UserInputError(f"run.json is unreadable: {first}", path=self.path) from None

    def info_or_none(self) -> RunInfo | None:
        """run.json when there is a readable one (a report of a half-written run still renders)."""
        try:
            return self.info()
        except UserInputError:
            return None

    def results(self) -> Iterator[CaseResult]:
        """results.jsonl, migrated line by line; a torn last line is skipped."""
        return read_results(self.results_file)

    def summary_data(self) -> dict[str, Any] | None:
        """summary.json as JSON, migrated to the current schema (the typed `Summary` lives in
        evalkit.compare.aggregate); one from a newer evalkit is refused, naming the directory."""
        data = _json_object(self.summary_file)
        if data is None:
            return None
        try:
            return migrate("summary", data)
        except NewerSchemaError as exc:
            raise UserInputError(f"summary.json is unreadable: {exc}", path=self.path) from None

    def diff_data(self) -> dict[str, Any] | None:
        return _json_object(self.diff_file)

    def calibration_data(self) -> dict[str, Any] | None:
        return _json_object(self.calibration_file)

    def alerts(self) -> list[dict[str, Any]]:
        return list((_json_object(self.alerts_file) or {}).get("alerts", []))

    def baseline_rows(self) -> Iterator[dict[str, Any]]:
        """The compared baseline cases copied into the run (suite, variant and the case record)."""
        if not self.baseline_file.exists():
            return
        with self.baseline_file.open(encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    yield json.loads(line)

    def baseline_meta_data(self) -> dict[str, Any] | None:
        return _json_object(self.baseline_meta_file)

    # -- writers (under the lock) -------------------------------------------------------------
    def prepare(self, *, overwrite: bool = False, allow_existing: bool = False) -> RunDir:
        """Create the directory and prove it is writable, before any model call. A directory that
        holds a run is refused, unless `overwrite`: then that run's files are removed (only
        with the lock held)."""
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            probe = self.path / ".write-test"
            probe.write_text("ok")
            probe.unlink()
        except FileExistsError:  # mkdir on a path that is there but no folder
            raise UserInputError("is a file, not a folder", path=self.path) from None
        except NotADirectoryError:  # a file where a parent folder should be
            raise UserInputError("a part of this path is a file, not a folder", path=self.path) from None
        except OSError as exc:
            raise UserInputError(
                f"output directory is not writable: {exc.strerror or exc}", path=self.path
            ) from None
        if overwrite:
            self._writing()
            for name in RUN_FILES:
                (self.path / name).unlink(missing_ok=True)
        if not allow_existing and self.exists() and self.results_file.stat().st_size > 0:
            raise UserInputError(
                "output directory already holds results: pass --overwrite to replace that run, "
                "or --runs-dir DIR to put each run in a fresh DIR/<run-id>",
                path=self.path,
            )
        return self

    def result_writer(self) -> ResultWriter:
        """Appends to results.jsonl, one complete line per result."""
        self._writing()
        return ResultWriter(self.results_file)

    def write_info(self, info: RunInfo) -> None:
        self._writing()
        write_json(self.info_file, info)

    def rewrite_results(self, results: Iterable[CaseResult]) -> None:
        """Replace results.jsonl atomically (re-scoring): readers see the old file or the new one."""
        self._writing()
        write_jsonl(self.results_file, results)

    def write_result_lines(self, lines: Iterable[str]) -> None:
        """Replace results.jsonl atomically with result lines as written (a merge of shards)."""
        self._writing()
        write_lines(self.results_file, lines)

    def write_cases(self, rows: Iterable[dict[str, Any]]) -> None:
        self._writing()
        write_jsonl(self.cases_file, rows)

    def cases_writer(self) -> AtomicFile:
        """cases.jsonl written a piece at a time (`jsonl_line` each row), in place at `commit`;
        until then the directory has none (an earlier run's is removed first)."""
        self._writing()
        self.cases_file.unlink(missing_ok=True)
        return AtomicFile(self.cases_file)

    def copy_cases_from(self, other: RunDir) -> None:
        """cases.jsonl of another run (a shard), through the atomic write path, line by line (a
        line is a unit no secret spans)."""
        self._writing()
        with other.cases_file.open(encoding="utf-8") as lines:
            write_text_pieces(self.cases_file, lines)

    def write_summary(self, summary: BaseModel) -> None:
        self._writing()
        write_json(self.summary_file, summary)

    def write_diff(self, diff: BaseModel) -> None:
        self._writing()
        write_json(self.diff_file, diff)

    def remove_gate(self) -> None:
        """A run that is not gated keeps no earlier gate's verdicts or baseline copies."""
        self._writing()
        for path in (self.diff_file, self.baseline_file, self.baseline_meta_file):
            path.unlink(missing_ok=True)

    def write_baseline_copy(self, rows: Iterable[dict[str, Any]], meta: dict[str, Any]) -> None:
        """The compared baselines, copied in: their cases and their provenance."""
        self._writing()
        write_jsonl(self.baseline_file, rows)
        write_json(self.baseline_meta_file, meta)

    def write_labels(self, rows: Iterable[dict[str, Any]]) -> None:
        self._writing()
        write_jsonl(self.labels_file, rows)

    def write_label_lines(self, lines: Iterable[str]) -> None:
        """labels.jsonl from JSON lines already written with sorted keys (no newline), each
        scrubbed value by value like `write_labels`' rows."""
        self._writing()
        write_lines(
            self.labels_file,
            (scrub_json_text(line, sort_keys=True, ensure_ascii=False) + "\n" for line in lines),
        )

    def write_calibration(self, calibration: BaseModel) -> None:
        self._writing()
        write_json(self.calibration_file, calibration)

    def write_alerts(self, alerts: list[dict[str, Any]]) -> Path:
        self._writing()
        write_json(self.alerts_file, {"alerts": alerts})
        return self.alerts_file

    def write_report(self, pieces: Iterable[str]) -> Path:
        """report.html, written as it is rendered (each piece scrubbed on its own)."""
        self._writing()
        write_text_pieces(self.report_file, pieces)
        return self.report_file

    def write_junit(self, xml: str | Iterable[str]) -> Path:
        """junit.xml, whole or in pieces as it is rendered (each piece a whole test case)."""
        self._writing()
        if isinstance(xml, str):
            write_text(self.junit_file, xml)
        else:
            write_text_pieces(self.junit_file, xml)
        return self.junit_file

    def write_summary_md(self, markdown: str) -> Path:
        self._writing()
        write_text(self.summary_md_file, markdown)
        return self.summary_md_file


def _json_object(path: Path) -> dict[str, Any] | None:
    data = read_json(path)
    return data if isinstance(data, dict) else None


_HELD: dict[Path, IO[str]] = {}  # the run directories this process holds, by resolved path
_HELD_GUARD = threading.Lock()


def _held_key(path: Path) -> Path:
    return path.resolve()


class RunDirLock:
    """An exclusive lock on a run directory for as long as a process writes in it: a second
    writer (another process, or another operation in this one) stops at once with a clear
    message naming the directory and who holds it (exit 2). The operating system drops the
    lock when its process dies (kill -9 leaves no stale lock)."""

    def __init__(self, run_dir: Path, holder: str = "evalkit"):
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / LOCK
        self.holder = holder
        self._key: Path | None = None

    def acquire(self) -> RunDirLock:
        key = _held_key(self.run_dir)
        try:
            fh = self.path.open("a+", encoding="utf-8")
        except NotADirectoryError:
            raise UserInputError("not a run directory: a file, not a folder", path=self.run_dir) from None
        except OSError as exc:  # a read-only file system, say: nothing can be written there
            raise UserInputError(
                f"this run directory cannot be written: {exc.strerror or exc}", path=self.run_dir
            ) from None
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            fh.close()
            if exc.errno in (errno.EAGAIN, errno.EACCES):
                raise UserInputError(
                    f"this run directory is in use by {holder}: one process at a time writes a run "
                    "directory; wait for it to finish (or write to another directory)",
                    path=self.run_dir,
                ) from None
            raise
        fh.seek(0)
        fh.truncate()
        fh.write(f"{self.holder} (pid {os.getpid()})\n")
        fh.flush()
        with _HELD_GUARD:
            _HELD[key] = fh
        self._key = key
        return self

    def release(self) -> None:
        key, self._key = self._key, None
        if key is None:
            return
        with _HELD_GUARD:
            fh = _HELD.pop(key, None)
        if fh is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
            fh.close()

    def __enter__(self) -> RunDirLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
