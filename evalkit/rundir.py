"""The run directory on disk: results.jsonl (append-only, one complete line per case), run.json."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from evalkit import secrets
from evalkit.errors import UserInputError
from evalkit.types import CaseResult

RESULTS = "results.jsonl"
SUMMARY = "summary.json"
RUN_INFO = "run.json"
DIFF = "diff.json"


class ResultWriter:
    """Appends each result as one complete line with a single write, flushed at once and
    fsync'd at most every `sync_interval_s`, so a crash or kill loses no finished case and
    never leaves a half line behind for readers to trip over (see `read_results`)."""

    def __init__(self, path: Path, sync_interval_s: float = 0.5):
        self.path = path
        drop_torn_tail(path)
        self._fh: IO[str] = path.open("a", encoding="utf-8")
        self._last_sync = time.monotonic()
        self.sync_interval_s = sync_interval_s
        self.count = 0

    def append(self, result: CaseResult) -> None:
        line = result.model_dump_json(exclude_none=False)
        self._fh.write(secrets.scrub(line) + "\n")
        self._fh.flush()
        self.count += 1
        now = time.monotonic()
        if now - self._last_sync >= self.sync_interval_s:
            os.fsync(self._fh.fileno())
            self._last_sync = now

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()


def drop_torn_tail(path: Path) -> None:
    """Cut an unfinished last line (a run killed mid-write) so appends start on a fresh line."""
    if not path.exists() or path.stat().st_size == 0:
        return
    with path.open("rb+") as fh:
        data = fh.read()
        if data.endswith(b"\n"):
            return
        fh.truncate(data.rfind(b"\n") + 1)


def read_results(path: Path) -> Iterator[CaseResult]:
    """Stream results back; a torn last line (killed mid-write) is skipped, not fatal."""
    if not path.exists():
        return
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.endswith("\n"):
                return  # an unfinished final line from a killed run
            if not line.strip():
                continue
            try:
                yield CaseResult.model_validate_json(line)
            except ValueError as exc:
                raise UserInputError(f"corrupt result line: {exc}", path=path, line=lineno) from None


def prepare_run_dir(path: Path) -> Path:
    """Create the run directory and prove it is writable, before any model call."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise UserInputError(f"output directory is not writable: {exc.strerror or exc}", path=path) from None
    if (path / RESULTS).exists() and (path / RESULTS).stat().st_size > 0:
        raise UserInputError("output directory already holds results: choose another --out", path=path)
    return path


def rewrite_results(path: Path, results: Iterable[CaseResult]) -> None:
    """Replace results.jsonl atomically (re-scoring): readers see the old file or the new one."""
    tmp = path.with_suffix(".jsonl.tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for result in results:
            fh.write(secrets.scrub(result.model_dump_json()) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def read_json(path: Path, default: Any = None) -> Any:
    """A run-directory JSON file, or `default` when it is missing or unreadable (older runs)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return default


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (temp file + rename), secrets scrubbed."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    text = json.dumps(data, indent=2, sort_keys=True, default=str)
    tmp.write_text(secrets.scrub(text) + "\n", encoding="utf-8")
    os.replace(tmp, path)
