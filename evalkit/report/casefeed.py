"""report.html's case blocks, built while a run writes results.jsonl.

A fresh `evalkit run` spends most of its time waiting for answers. `CaseFeed` is told of each
batch the results writer wrote (`stages.fedpass.FedPass`) and, a turn of about a millisecond at a
time on the event loop (each a few milliseconds after the batch or the last turn, so the requests
the answers freed go out first), reads the new lines back from the file (the bytes `evalkit report`
reads, so every row is what the file gives), builds each chunk of CHUNK rows as
`html.render_pieces` builds it, serializes it a slice at a time (`html.json_sliced`) and has it
gzipped and spooled on a thread of its own (zlib lets go of the GIL). Before the first row it
loads the lookup the rows need, a slice at a time too: each case's vars from cases.jsonl and,
for a gated run, each baseline record as the copy `finish` will make of it (`_copied_rows`).

The gate is decided only when the run concludes, so the rows are built as if no case flipped
or regressed; `html.render_pieces` rebuilds, from their byte ranges of results.jsonl, only the
chunks holding a case the gate flipped or lists among the top regressions (a hash of each row's
suite, variant and case id is kept per chunk for that: 8 bytes a result, gated runs only).

`take` hands the blocks to `html.render_pieces` only where they are what reading the directory
gives: every batch fed (the caller checks that conclude took the fed pass: `FedPass.taken`),
read to the size fed, nothing failed, the secrets known unchanged since the first chunk,
cases.jsonl and each baseline file unchanged since they were read, and the baselines copied
into the directory those read (from the same folder, the same groups). Otherwise the report is
written from the directory alone, as `evalkit report` writes it.
"""

from __future__ import annotations

import asyncio
import os
import time
from array import array
from collections.abc import Generator, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import pydantic_core

from evalkit._util import secrets
from evalkit.rundir.dir import RunDir

if TYPE_CHECKING:
    from evalkit.report.html import Fed, _Chunk, _Series
    from evalkit.report.lookup import Lookup

BUDGET_S = 0.001  # the time one turn may take on the event loop (its last slice may end past it)
DELAY_S = 0.002  # a turn comes this long after a batch is written, or after the last turn
LINES = 16  # result lines read into rows per slice (~30 µs each)
LOAD_ROWS = 32  # lookup rows loaded per slice
READ_BYTES = 1 << 16  # results.jsonl read this much at a time
_WAIT = "wait"  # what a slice yields to wait for more of the file


class Unlike(Exception):
    """What was read changed while it was read: the blocks are not used."""


class CaseFeed:
    """report.html's case blocks built as `run_dir`'s results.jsonl is written (see the module).
    `deciding`: each (suite, variant)'s pass rule (the metrics that count for a pass, as
    summary.json will say); `baselines`: the folder the run is gated against (None: not gated);
    `groups`: the run's suites × variants, in `finish`'s order."""

    def __init__(
        self,
        run_dir: RunDir,
        deciding: dict[tuple[str, str], list[str]],
        baselines: Path | None,
        groups: list[tuple[str, str]],
    ) -> None:
        self.run_dir = run_dir
        self.deciding = deciding
        self.folder = baselines
        self.groups = groups
        self.size = 0  # results.jsonl's size after the last batch fed
        self.spoiled: str | None = None
        self.ended = False
        self.ranges: list[tuple[int, int]] = []
        self.keys: list[array[int]] | None = [] if baselines is not None else None
        self.sources: list[tuple[str, str, Path, tuple[int, ...]]] = []  # the baseline files read
        self.cases_stat: tuple[int, ...] | None = None
        self.known: tuple[str, ...] | None = None  # the secrets scrubbed when the work began
        self.lookup: Lookup | None = None
        self.series: _Series | None = None
        self._steps: Generator[str | None] | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._packed: list[Future[None]] = []
        self._spools: tuple[IO[str], IO[str]] | None = None
        self._timer: asyncio.TimerHandle | None = None

    @classmethod
    def for_run(
        cls,
        run_dir: RunDir,
        metrics: Mapping[str, Sequence[Any]],
        variants: Sequence[str],
        baselines: Path | None,
    ) -> CaseFeed:
        """The feed of a run of these suites' metrics (`MetricInfo`s, by suite) and variants."""
        groups = [(suite, v) for suite in metrics for v in variants]
        deciding = {(s, v): [m.name for m in metrics[s] if m.counts_for_pass] for s, v in groups}
        return cls(run_dir, deciding, baselines, groups)

    def fed(self, size: int) -> None:
        """A batch was written and results.jsonl is now `size` bytes. On an event loop the work
        waits DELAY_S (the requests the answers freed go out first), then takes a slice of
        BUDGET_S at a time, DELAY_S apart, until it has caught up; without a loop, one slice now."""
        if self.spoiled is not None:
            return
        self.size = size
        if self._timer is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._advance(time.perf_counter() + BUDGET_S)
            return
        self._timer = loop.call_later(DELAY_S, self._tick)

    def _tick(self) -> None:
        self._timer = None
        if self.spoiled is None and not self.ended and self._advance(time.perf_counter() + BUDGET_S):
            self._timer = asyncio.get_running_loop().call_later(DELAY_S, self._tick)

    def _advance(self, deadline: float) -> bool:
        """Work until `deadline`; whether work is left that needs nothing more (a slice stopped
        by the deadline, not waiting for more of the file or for the modules)."""
        try:
            steps = self._steps = self._steps or self._work()
            for step in steps:
                if step is _WAIT and not self.ended:
                    return False
                if time.perf_counter() > deadline:
                    return True
        except BaseException as exc:  # a bug costs the fed blocks, never the run: the file is read
            self.spoil(f"building failed: {type(exc).__name__}: {exc}")
            if not isinstance(exc, Exception):
                raise
        return False

    def spoil(self, why: str) -> None:
        """The blocks will not be used: their scratch files, lookup and thread go."""
        if self.spoiled is None:
            self.spoiled = why
        self.close()

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._steps is not None:
            self._steps.close()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        if self._spools is not None:
            for spool in self._spools:
                spool.close()
            self._spools = None
        if self.lookup is not None:
            self.lookup.close()
            self.lookup = None

    def take(self) -> Fed | None:
        """The blocks, once everything fed is built, where they are what the directory gives
        (see the module); else None (and everything is released)."""
        from evalkit.report.html import Fed

        if self._timer is not None:  # its loop has ended
            self._timer.cancel()
            self._timer = None
        if self.spoiled is None:
            self.ended = True
            self._advance(float("inf"))
        why = self.spoiled or self._unlike()
        if why is not None:
            self.spoil(why)
            return None
        assert self._spools is not None and self.lookup is not None and self.series is not None
        return Fed(*self._spools, self.series, self.lookup, self.deciding, self.ranges, self.keys, self.close)

    def _unlike(self) -> str | None:
        """Why the blocks may differ from those the directory gives now (None: they cannot)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        for job in self._packed:
            if (exc := job.exception()) is not None:
                return f"packing failed: {type(exc).__name__}: {exc}"
        if self._spools is None:
            return "no result was fed"
        if _stat(self.run_dir.results_file)[:1] != (self.size,):
            return "results.jsonl is not what was fed"
        if secrets.known() != self.known:
            return "a secret was registered since the blocks were packed"
        if _stat(self.run_dir.cases_file) != self.cases_stat:
            return "cases.jsonl changed"
        return self._baselines_unlike()

    def _baselines_unlike(self) -> str | None:
        meta = self.run_dir.baseline_meta_data()
        copied = self.run_dir.baseline_file.exists() and meta is not None
        if self.folder is None or not copied:
            return None if self.folder is None and not copied else "the baselines copied are not those read"
        assert meta is not None
        named = [(g.get("suite"), g.get("variant")) for g in meta.get("groups") or [] if isinstance(g, dict)]
        if meta.get("folder") != str(self.folder) or named != [(s, v) for s, v, _, _ in self.sources]:
            return "the baselines copied are not those read"
        from evalkit.compare.baseline import saved_paths

        for suite, variant, path, stat in self.sources:
            paths = saved_paths(self.folder, suite, variant)
            if paths is None or paths[0] != path or _stat(path) != stat:
                return "a baseline changed since it was read"
        return None

    def _work(self) -> Generator[str | None]:
        """Every slice of the work, in order: the lookup, then the rows as the file grows."""
        # the report's modules load here, on the event loop, in the first turn (about 20 ms, once
        # a run). On a thread they held the GIL against the loop while the first requests went:
        # a short run's loop slowed enough that the fake server went idle between its requests,
        # and the wake-ups cost the run's socket sends and receives ~40 ms of CPU at 1,000 cases
        _import_report()
        yield None
        from evalkit.report import html
        from evalkit.report.lookup import Lookup, vars_rows

        self.known = secrets.known()  # the baselines' copy and the blocks are scrubbed of these
        lookup = self.lookup = Lookup()
        self.cases_stat = _stat(self.run_dir.cases_file)
        yield from lookup.loading("vars", vars_rows(self.run_dir.cases_file), LOAD_ROWS)
        if _stat(self.run_dir.cases_file) != self.cases_stat:
            raise Unlike("cases.jsonl changed while it was read")
        if self.folder is not None:
            self.sources = _sources(self.folder, self.groups)
            yield from lookup.loading("base", _copied_rows(self.sources), LOAD_ROWS // 2)
            if any(_stat(path) != stat for _, _, path, stat in self.sources):
                raise Unlike("a baseline changed while it was read")
        ctx = html._Context({}, None, None, lookup, set(), set(), dict(self.deciding))
        self.series = html._Series()
        yield from self._rows(ctx)

    def _rows(self, ctx: Any) -> Iterator[str | None]:
        """Each line of results.jsonl made a row as `html.case_chunks` makes it, a chunk packed
        whenever CHUNK rows are in (and the last one at the end)."""
        from evalkit.report import html
        from evalkit.report.rows import parse_row

        assert self.series is not None
        add_series, keys = self.series.add, self.keys
        chunk, hashes, start, at, tail = html._Chunk(ctx), array("q"), 0, 0, b""
        rows: list[bytes] = []  # the chunk's case rows as JSON, a slice of them a piece
        with self.run_dir.results_file.open("rb") as fh:
            while True:
                if at + len(tail) >= self.size:
                    if self.ended:
                        break
                    yield _WAIT
                    continue
                lines = (tail + fh.read(min(READ_BYTES, self.size - at - len(tail)))).split(b"\n")
                tail = lines.pop()
                for first in range(0, len(lines), LINES):
                    batch = []
                    for raw in lines[first : first + LINES]:
                        at += len(raw) + 1
                        line = (raw + b"\n").decode("utf-8")
                        if line.isspace():
                            continue
                        r = parse_row(line)
                        add_series(r)
                        if keys is not None:
                            hashes.append(hash((r["suite"], r["variant"], r["case_id"])))
                        batch.append(r)
                        if chunk.n + len(batch) >= html.CHUNK:
                            _add(chunk, batch, rows)
                            batch = []
                            yield from self._pack(chunk, rows, hashes, (start, at))
                            chunk, rows, hashes, start = html._Chunk(ctx), [], array("q"), at
                    if batch:
                        _add(chunk, batch, rows)
                    yield None
        if tail:
            raise Unlike("results.jsonl ends with an unfinished line")
        if chunk.n:
            yield from self._pack(chunk, rows, hashes, (start, at))

    def _pack(
        self, chunk: _Chunk, rows: list[bytes], hashes: array[int], where: tuple[int, int]
    ) -> Iterator[str | None]:
        """A chunk's blocks made JSON a slice at a time (its case rows already are), then
        gzipped and spooled on the thread."""
        from evalkit.report import html

        building = chunk.index.building()
        while (index := next(building)) is None:
            yield None
        packed: list[bytes] = []
        for part in html.json_sliced(index):
            if part is not None:
                packed.append(part)
            yield None
        strings = chunk.strings.table
        pieces = []
        for some in html.json_slices(strings):
            pieces.append(pydantic_core.to_json(some)[1:-1])
            yield None
        # as `html._json` writes {"strings": ..., "keys": ..., "cases": ...}: pydantic-core's
        # compact JSON, each list its items' JSON joined; where `_json` would go another way
        # (a secret to scrub), the rows are gone: the report is written from the file
        keys = b'],"keys":' + pydantic_core.to_json(html.CASE_KEYS) + b',"cases":['
        cases = b'{"strings":[' + b",".join(pieces) + keys + b",".join(rows) + b"]}"
        if secrets.may_contain_secret(cases.decode("utf-8")):
            raise Unlike("a chunk's cases hold a secret to scrub")
        self.ranges.append(where)
        if self.keys is not None:
            self.keys.append(hashes)
        self._packed.append(self._thread().submit(self._spool, index["n"], packed[0], cases))

    def _thread(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="evalkit-report-gzip")
        return self._pool

    def _spool(self, n: int, index: bytes, cases: bytes) -> None:
        """On the thread: a chunk gzipped and written to the scratch files, in order."""
        import tempfile

        from evalkit.report import html

        if self._spools is None:  # closed by `close`
            self._spools = (
                tempfile.SpooledTemporaryFile(html.SPOOL_BYTES, "w+", encoding="ascii"),  # noqa: SIM115
                tempfile.SpooledTemporaryFile(html.SPOOL_BYTES, "w+", encoding="ascii"),  # noqa: SIM115
            )
        indexes, cases_file = self._spools
        indexes.write(f"{n} {html._gzip64(index)}\n")
        cases_file.write(html._gzip64(cases) + "\n")


def _add(chunk: _Chunk, batch: list[Any], rows: list[bytes]) -> None:
    """Results added to the chunk, their case rows kept as JSON (not as ~15 objects each, that
    the collector would walk for as long as the chunk is built)."""
    chunk.add(batch)
    rows.append(pydantic_core.to_json(chunk.rows)[1:-1])  # a lone surrogate: Unlike (see _pack)
    chunk.rows.clear()


def _import_report() -> None:
    from evalkit.report import html, lookup  # noqa: F401


def _stat(path: Path) -> tuple[int, ...]:
    """A file's size, identity and last change (a file rewritten reads differently): empty
    when there is none."""
    try:
        st = os.stat(path)
    except OSError:
        return ()
    return st.st_size, st.st_ino, st.st_dev, st.st_mtime_ns, st.st_ctime_ns


def _sources(folder: Path, groups: list[tuple[str, str]]) -> list[tuple[str, str, Path, tuple[int, ...]]]:
    """The baseline files `finish` will copy from `folder` (`_copy_baselines`), as they are now."""
    from evalkit.compare.baseline import saved_paths

    out = []
    for suite, variant in groups:
        paths = saved_paths(folder, suite, variant)
        if paths is not None:
            out.append((suite, variant, paths[0], _stat(paths[0])))
    return out


def _copied_rows(sources: list[tuple[str, str, Path, tuple[int, ...]]]) -> Iterator[tuple[Any, str]]:
    """Each baseline record's lookup row as the copy in the run directory will give it: read as
    `baseline.load` reads it, written as `baseline.copy_into` writes it, read back as the
    report reads the copy (the copy orders a group's records by case, which changes no row)."""
    from evalkit.compare.baseline import copied_row, saved_records
    from evalkit.report.lookup import baseline_row
    from evalkit.rundir.files import jsonl_line

    for suite, variant, path, _ in sources:
        for record in saved_records(path):
            yield baseline_row(jsonl_line(copied_row(suite, variant, record)))
