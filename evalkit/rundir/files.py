"""The one write path for evalkit's files (atomic: temp file + rename; secrets scrubbed value by
value), the append-only results writer (one complete line per case) and the results reader
(migrations, torn tails). The run directory's own names and lock live in `evalkit.rundir.dir`."""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any, Protocol, TypeVar

from pydantic import BaseModel

from evalkit._util import secrets
from evalkit._util.jsontext import Encoder
from evalkit._util.textsafe import clean_text, model_json
from evalkit.errors import DiskFullError, UserInputError
from evalkit.rundir.migrations import CURRENT, NewerSchemaError, migrate
from evalkit.types import CaseResult

T = TypeVar("T")


class WriteTap(Protocol):
    """What is told of each batch `ResultWriter.extend` wrote: the results, the text written,
    whether each of its lines is its result's own JSON (`exact`: no secret scrubbed from it, no
    lone surrogate cleaned), and the file's size after it."""

    def written(self, results: Sequence[CaseResult], text: str, exact: bool, size: int) -> None: ...


# a tap's `spoiled` while it takes in a batch: kept if an interrupt cuts the batch short
UNFED = "a batch was written and not all fed (interrupted)"


def read_back(results: Sequence[CaseResult], text: str, exact: bool) -> Sequence[CaseResult]:
    """`results` as their lines in `text` (a `WriteTap`'s batch) read back: themselves where that
    is the same to every reader of the line, else parsed from it (`parse_result_line`)."""
    if exact and all(_faithful(r) for r in results):
        return results
    lines = text.split("\n")[:-1]  # JSON escapes every newline inside a value: a line a result
    return [
        r if exact and _faithful(r) else parse_result_line(line)
        for r, line in zip(results, lines, strict=True)
    ]


def _faithful(r: CaseResult) -> bool:
    """Whether every float a reader takes of `r` is finite (JSON writes NaN and infinities as
    null) and it has no trace (its steps hold any JSON, whose floats are not checked here).
    One sum: NaN and infinities carry through it (an overflow to infinity only parses a line)."""
    if r.steps:
        return False
    total = (r.latency_ms or 0.0) + (r.ttft_ms or 0.0) + (r.cost_usd or 0.0)
    for score in r.scores.values():
        total += score.value or 0.0
    for judge in r.judges.values():
        total += judge.cost_usd or 0.0
    return math.isfinite(total)


class ResultWriter:
    """Appends results as complete lines with a single write, flushed at once (a crash or
    kill of the process loses no finished case and never leaves a half line behind for readers
    to trip over, see `read_results`), and fsync'd at most every `sync_interval_s` in a
    background thread: an fsync takes 5-15 ms on a busy disk, and on the event loop's thread it
    held up every request in flight (a power loss may cost the last interval; --resume redoes it)."""

    def __init__(self, path: Path, sync_interval_s: float = 0.5):
        self.path = path
        drop_torn_tail(path)
        self._fh: IO[str] = path.open("a", encoding="utf-8")
        self._last_sync = time.monotonic()
        self.sync_interval_s = sync_interval_s
        self.count = 0
        self._failed = False
        self._syncing: threading.Thread | None = None
        self._sync_error: OSError | None = None
        self.taps: list[WriteTap] = []  # told of each batch once it is written, in order
        # called before the first line is written (e.g. the run's cases.jsonl put in place)
        self.before_first: Callable[[], None] | None = None

    def append(self, result: CaseResult) -> None:
        self.extend([result])

    def extend(self, results: Sequence[CaseResult]) -> None:
        """Append results (a scored batch) with one write, flushed at once: one system call
        for the batch, not one per line. Then each of `taps` is told what was written."""
        if not results:
            return
        if self.before_first is not None:
            self.before_first()
            self.before_first = None
        try:  # each line pydantic's own JSON of its result
            lines, exact = [result.model_dump_json(exclude_none=False) for result in results], True
        except ValueError:  # rarely: a lone surrogate somewhere, cleaned (`model_json`)
            lines, exact = [model_json(result, exclude_none=False) for result in results], False
        text = "\n".join(lines) + "\n"
        if secrets.may_contain_secret(text):  # rarely: then line by line, as `result_line` does
            text, exact = "".join([_scrubbed(line) + "\n" for line in lines]), False
        try:
            if self._sync_error is not None:  # the last background fsync failed (a full disk)
                raise self._sync_error
            self._fh.write(text)
            self._fh.flush()
            now = time.monotonic()
            if now - self._last_sync >= self.sync_interval_s and not self._sync_running():
                self._sync_in_background()
                self._last_sync = now
        except OSError as exc:
            self._failed = True
            raise disk_error(exc, self.path) from None
        self.count += len(results)
        if self.taps:
            size = os.fstat(self._fh.fileno()).st_size
            for tap in self.taps:
                tap.written(results, text, exact, size)

    def _sync_running(self) -> bool:
        return self._syncing is not None and self._syncing.is_alive()

    def _sync_in_background(self) -> None:
        fd = self._fh.fileno()

        def sync() -> None:
            try:
                os.fsync(fd)
            except OSError as exc:
                self._sync_error = exc

        self._syncing = threading.Thread(target=sync, name="evalkit-results-fsync", daemon=True)
        self._syncing.start()

    def close(self) -> None:
        if self._fh.closed:
            return
        if self._syncing is not None:
            self._syncing.join()  # before the file closes under it
        try:
            if self._sync_error is not None:
                raise self._sync_error
            self._fh.flush()
            os.fsync(self._fh.fileno())
        except OSError as exc:
            if not self._failed:  # already reported: the torn line is dropped on --resume
                self._failed = True
                self._close_quietly()
                raise disk_error(exc, self.path) from None
        self._close_quietly()

    def _close_quietly(self) -> None:
        with contextlib.suppress(OSError):  # its buffer could not be flushed: the disk is full, as said
            self._fh.close()


def result_line(result: CaseResult) -> str:
    """One results.jsonl line: compact JSON (as pydantic writes it), secrets scrubbed value by
    value, lone surrogates made valid (see evalkit._util.textsafe)."""
    return _scrubbed(model_json(result, exclude_none=False))


def _scrubbed(line: str) -> str:
    return secrets.scrub_json_text(line, ensure_ascii=False, separators=(",", ":"))


def disk_error(exc: OSError, path: Path) -> Exception:
    """A full disk (or quota) becomes a clear DiskFullError (exit 3); a path that cannot be
    written (a folder where a file belongs, no permission) a UserInputError (exit 2) naming it."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return DiskFullError(
            f"{path}: no space left on the device: the results written so far are kept; free "
            f"some space, then finish the run with `evalkit run --resume {path.parent}`"
        )
    if isinstance(exc, IsADirectoryError | NotADirectoryError | PermissionError):
        return UserInputError(f"cannot write {path.name}: {exc.strerror or exc}", path=path)
    return exc


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
    for result, _offset, _size in read_results_at(path):
        yield result


def read_results_at(path: Path) -> Iterator[tuple[CaseResult, int, int]]:
    """`read_results` with each result's byte offset and line length in the file (to copy the
    line later without holding it: `evalkit merge`)."""
    return read_lines_at(path, _parse_result)


def read_lines_at(path: Path, parse: Callable[[str], T]) -> Iterator[tuple[T, int, int]]:
    """results.jsonl's lines parsed by `parse` (a reader that needs less than CaseResult: the
    report's), with read_results_at's checks and errors (file and line, a torn tail skipped)."""
    if not path.exists():
        return
    offset = 0
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            at, offset = offset, offset + len(raw)
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise UserInputError(
                    f"not valid UTF-8 (column {exc.start + 1})", path=path, line=lineno
                ) from None
            if not line.endswith("\n"):
                return  # an unfinished final line from a killed run
            if line.isspace():  # a blank line (it ends with its newline); not strip(), which copies it
                continue
            try:
                yield parse(line), at, len(raw)
            except (ValueError, NewerSchemaError) as exc:  # one line of the reason, not pydantic's essay
                reason = " ".join(str(exc).splitlines()[:2])
                raise UserInputError(f"not a result line: {reason}", path=path, line=lineno) from None


def current_result_line(line: str) -> str:
    """A stored result line as this evalkit writes it: a line in the current schema as it is
    (secrets scrubbed), an older one migrated and written again."""
    if _CURRENT_RESULT_MARK in line[:40]:
        return secrets.scrub_json_text(line.rstrip("\n"), ensure_ascii=False, separators=(",", ":"))
    return result_line(_parse_result(line))


def parse_result_line(line: str) -> CaseResult:
    """One stored result line, validated (migrated when an older evalkit wrote it)."""
    return _parse_result(line)


def write_lines(path: Path, lines: Iterable[str]) -> None:
    """Write a whole file of lines atomically (each line must end with a newline)."""
    _write_atomic(path, lines)


_CURRENT_RESULT_MARK = f'"schema_version":{CURRENT["result"]},'


def _parse_result(line: str) -> CaseResult:
    if _CURRENT_RESULT_MARK in line[:40]:  # the fast path: a line this version wrote
        return CaseResult.model_validate_json(line)
    return CaseResult.model_validate(migrate("result", json.loads(line)))


def read_json(path: Path, default: Any = None) -> Any:
    """A run-directory JSON file, or `default` when it is missing or unreadable (older runs)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # missing, a folder, unreadable, not UTF-8, not JSON
        return default


def _write_atomic(path: Path, lines: Iterable[str]) -> None:
    """Atomic (temp file, fsync, rename); a full disk is a DiskFullError, the old file kept."""
    out = AtomicFile(path)
    try:
        out.write_all(lines)
    except BaseException:
        out.abort()
        raise
    out.commit()


class AtomicFile:
    """A file written in pieces, then put in place at once (`commit`: fsync, rename): readers
    see the old file (or none) until then, never a part. A full disk is a DiskFullError, the
    temp file removed and the old file kept."""

    def __init__(self, path: Path):
        self.path = path
        self._tmp = path.with_name(f".{path.name}.tmp")
        try:
            self._fh: IO[str] = self._tmp.open("w", encoding="utf-8", errors="surrogatepass")
        except OSError as exc:
            raise disk_error(exc, path) from None

    def write_all(self, pieces: Iterable[str]) -> None:
        try:
            for text in pieces:
                self._fh.write(text)
        except OSError as exc:
            self.abort()
            raise disk_error(exc, self.path) from None

    def sync(self) -> None:
        """Flush and fsync what is written (a thread may run this: it holds no lock)."""
        try:
            self._fh.flush()
            os.fsync(self._fh.fileno())
        except OSError as exc:
            self.abort()
            raise disk_error(exc, self.path) from None

    def flushed(self) -> int:
        """Flush what is written to the operating system; the file descriptor, to fsync it."""
        try:
            self._fh.flush()
        except OSError as exc:
            self.abort()
            raise disk_error(exc, self.path) from None
        return self._fh.fileno()

    def commit(self, synced: bool = False) -> None:
        """Put the file in place (fsync'd first, unless `synced` says it just was)."""
        if not synced:
            self.sync()
        try:
            self._fh.close()
            os.replace(self._tmp, self.path)
        except OSError as exc:
            self.abort()
            raise disk_error(exc, self.path) from None

    def abort(self) -> None:
        """Give up: the temp file removed, the old file (if any) left as it was."""
        with contextlib.suppress(OSError):
            self._fh.close()
        self._tmp.unlink(missing_ok=True)


def write_text(path: Path, text: str) -> None:
    """The one write path for whole text files (HTML, XML, Markdown): secrets scrubbed. JSON goes
    through `write_json` / `write_jsonl`, which scrub values, so scrubbing never breaks syntax."""
    _write_atomic(path, [secrets.scrub(text)])


def write_text_pieces(path: Path, pieces: Iterable[str]) -> None:
    """`write_text` for a file written as it is produced (a large report): each piece scrubbed
    on its own, so a piece must be a whole unit a secret cannot span (a JSON block, a template
    part)."""
    _write_atomic(path, (secrets.scrub(piece) for piece in pieces))


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically, secrets scrubbed value by value."""
    if isinstance(data, BaseModel):
        data = data.model_dump(mode="json")
    _write_atomic(path, [json.dumps(secrets.scrub_data(data), indent=2, sort_keys=True, default=str) + "\n"])


# json.dumps(row, sort_keys=True, ensure_ascii=False), without building an encoder per row
_SORTED_JSON = Encoder(sort_keys=True, ensure_ascii=False)


def write_jsonl(path: Path, rows: Iterable[BaseModel | dict[str, Any]]) -> None:
    """Write a whole JSON Lines file atomically, secrets scrubbed value by value, line by line."""

    def lines() -> Iterator[str]:
        for row in rows:
            if isinstance(row, CaseResult):
                yield result_line(row) + "\n"
                continue
            if isinstance(row, BaseModel):
                compact = secrets.scrub_json_text(model_json(row), ensure_ascii=False, separators=(",", ":"))
                yield compact + "\n"
            else:
                yield jsonl_line(row)

    _write_atomic(path, lines())


def jsonl_line(row: dict[str, Any]) -> str:
    """A dict as `write_jsonl` writes it: sorted keys, a lone surrogate (JSON allows `\ud800`) as
    U+FFFD, as result lines have it, secrets scrubbed value by value, and its newline."""
    line = clean_text(_SORTED_JSON.encode(row))
    return secrets.scrub_json_text(line, sort_keys=True, ensure_ascii=False) + "\n"
