"""Reliability across repeats: per-case tallies (agreement, passes), pass@k, pass^k and flaky
cases, computed from result lines alone by the aggregate stage."""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import math
import sqlite3
from collections import Counter
from collections.abc import Iterator

from pydantic import Field

from evalkit._util.models import Record, new_list
from evalkit._util.scratch import scratch_db
from evalkit.types import MetricInfo

SPILL_AT = 20_000  # cases whose tallies a group holds in memory; the older half of them beyond


class CaseConsistency(Record):
    case_id: str
    samples: int
    exact_agreement: float  # share of repeats giving the most common output
    semantic_agreement: float | None = None  # share of repeat pairs with cosine ≥ threshold
    passes: int | None = None  # repeats that passed every pass/fail scorer
    pass_at_k: float | None = None  # chance at least one of k samples passes (unbiased estimator)
    pass_hat_k: float | None = None  # chance all k samples pass
    flaky: bool = False


class ConsistencySummary(Record):
    """Reliability across repeated runs of the same case (only with repeats ≥ 2)."""

    k: int
    exact_agreement: float
    semantic_agreement: float | None = None
    pass_at_1: float | None = None
    pass_at_k: float | None = None
    pass_hat_k: float | None = None
    flaky_share: float
    flaky_cases: list[str] = Field(default_factory=new_list)
    cases: list[CaseConsistency] = Field(default_factory=new_list)


class CaseTally:
    """One case's repeats: enough for agreement, pass@k and flakiness, without the outputs
    (those are kept only when a metric measures semantic agreement). Small: one per case."""

    __slots__ = ("digests", "judged", "outputs", "passes", "samples")

    def __init__(self, keep_outputs: bool):
        self.samples = self.judged = self.passes = 0
        self.digests: bytes | Counter[bytes] = b""  # one digest while all repeats agree
        self.outputs: list[str] | None = [] if keep_outputs else None

    def add(self, normalised: str, verdict: bool | None) -> None:
        digest = hashlib.blake2b(normalised.encode(), digest_size=12).digest()
        if self.samples == 0:
            self.digests = digest
        elif isinstance(self.digests, bytes) and digest != self.digests:
            self.digests = Counter({self.digests: self.samples, digest: 1})
        elif isinstance(self.digests, Counter):
            self.digests[digest] += 1
        self.samples += 1
        if self.outputs is not None:
            self.outputs.append(normalised)
        if verdict is not None:
            self.judged += 1
            self.passes += verdict

    def merged(self, later: CaseTally) -> CaseTally:
        """This case's tally with a later one's samples added (its outputs after these)."""
        if later.samples == 0:
            return self
        if self.samples == 0:
            return later
        counts: Counter[bytes] = Counter()
        for t in (self, later):
            counts.update({t.digests: t.samples} if isinstance(t.digests, bytes) else t.digests)
        self.digests = next(iter(counts)) if len(counts) == 1 else counts
        self.samples += later.samples
        self.judged += later.judged
        self.passes += later.passes
        if self.outputs is not None and later.outputs is not None:
            self.outputs += later.outputs
        return self

    @property
    def modal(self) -> int:
        """How many repeats gave the most common output."""
        return self.samples if isinstance(self.digests, bytes) else max(self.digests.values())


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples with c passes (Chen et al., 2021)."""
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def pass_hat_k(n: int, c: int, k: int) -> float:
    """pass^k: the chance that k samples drawn from the n all pass (Yao et al., 2024)."""
    return math.comb(c, k) / math.comb(n, k) if k <= n else 0.0


class CaseTallies:
    """One suite × variant's CaseTally per case, fed one result at a time, in memory that does
    not grow with the run: past `SPILL_AT` cases held, the older half is appended to a scratch
    SQLite file (a case spilled twice has two rows there, merged in arrival order when read),
    read back in case id order (SQLite's binary order of UTF-8 is Python's order of `str`).
    `cases`: the distinct case ids seen, a result with no output included (`touch`)."""

    def __init__(self, keep_outputs: bool):
        self.keep_outputs = keep_outputs
        self._held: dict[str, CaseTally] = {}
        self._db: sqlite3.Connection | None = None
        self._indexed = False

    def touch(self, case_id: str) -> CaseTally:
        """The case's tally, made when new (a result with no output makes one with no sample)."""
        tally = self._held.get(case_id)
        if tally is None:
            tally = self._held[case_id] = CaseTally(self.keep_outputs)
            if len(self._held) > SPILL_AT:
                self._spill(len(self._held) // 2)
        return tally

    def _spill(self, n: int) -> None:
        """Append the `n` oldest tallies held to the scratch file (rowid: the order they left)."""
        if self._db is None:
            self._db = scratch_db(
                "CREATE TABLE t (case_id TEXT, samples INTEGER, judged INTEGER, passes INTEGER,"
                " digest BLOB, more TEXT);"
            )
        if not n:
            return
        if self._indexed:
            self._db.execute("DROP INDEX by_case")
            self._indexed = False
        rows = [(k, *_dumps(self._held.pop(k))) for k in list(itertools.islice(self._held, n))]
        self._db.execute("BEGIN")
        self._db.executemany("INSERT INTO t VALUES (?, ?, ?, ?, ?, ?)", rows)
        self._db.execute("COMMIT")

    def _all_on_disk(self) -> sqlite3.Connection:
        self._spill(len(self._held))
        assert self._db is not None
        if not self._indexed:
            self._db.execute("CREATE INDEX by_case ON t (case_id)")
            self._indexed = True
        return self._db

    @property
    def cases(self) -> int:
        if self._db is None:
            return len(self._held)
        return int(self._all_on_disk().execute("SELECT count(DISTINCT case_id) FROM t").fetchone()[0])

    def samples_range(self) -> tuple[int, int] | None:
        """The fewest and the most samples of a case that has any (None: no case has one)."""
        if self._db is None:
            counts = [t.samples for t in self._held.values() if t.samples]
            return (min(counts), max(counts)) if counts else None
        low, high = (
            self._all_on_disk()
            .execute("SELECT min(s), max(s) FROM (SELECT sum(samples) AS s FROM t GROUP BY case_id) WHERE s")
            .fetchone()
        )
        return (int(low), int(high)) if high else None

    def items(self) -> Iterator[tuple[str, CaseTally]]:
        """Each case with samples, in case id order."""
        if self._db is None:
            yield from ((k, t) for k, t in sorted(self._held.items()) if t.samples)
            return
        cursor = self._all_on_disk().execute(f"SELECT {_COLUMNS} FROM t ORDER BY case_id, rowid")
        rows = (row for batch in iter(lambda: cursor.fetchmany(1000), []) for row in batch)
        for case_id, group in itertools.groupby(rows, key=lambda row: row[0]):
            parts = [_loads(*stored) for _, *stored in group]
            tally = functools.reduce(CaseTally.merged, parts)
            if tally.samples:
                yield case_id, tally

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


_COLUMNS = "case_id, samples, judged, passes, digest, more"
Stored = tuple[int, int, int, bytes | None, str | None]


def _dumps(t: CaseTally) -> Stored:
    """A tally as its row's columns: its counts, and its digest while its repeats agree; only a
    case whose repeats differ (or whose outputs are kept) needs JSON (`more`)."""
    if isinstance(t.digests, bytes) and t.outputs is None:
        return t.samples, t.judged, t.passes, t.digests, None
    digests = t.digests.hex() if isinstance(t.digests, bytes) else {d.hex(): n for d, n in t.digests.items()}
    return t.samples, t.judged, t.passes, None, json.dumps([digests, t.outputs])


def _loads(samples: int, judged: int, passes: int, digest: bytes | None, more: str | None) -> CaseTally:
    t = CaseTally(keep_outputs=False)
    t.samples, t.judged, t.passes = samples, judged, passes
    if more is None:
        t.digests = digest or b""
        return t
    digests, t.outputs = json.loads(more)
    t.digests = (
        bytes.fromhex(digests)
        if isinstance(digests, str)
        else Counter({bytes.fromhex(d): n for d, n in digests.items()})
    )
    return t


def summarize_consistency(
    tallies: CaseTallies, agreement: MetricInfo | None = None
) -> ConsistencySummary | None:
    """Agreement, pass@k, pass^k and flaky cases across repeats (None without repeats)."""
    samples = tallies.samples_range()
    if samples is None or samples[1] < 2:
        return None
    k = samples[0]
    embedder = None
    if agreement is not None:
        from evalkit import plugins

        embedder = plugins.agreement_measures.get(agreement.scorer)(agreement.options)
    cases = []
    for case_id, t in tallies.items():
        entry = CaseConsistency(case_id=case_id, samples=t.samples, exact_agreement=t.modal / t.samples)
        if embedder is not None and t.outputs is not None:
            entry.semantic_agreement = embedder.agreement(t.outputs)
        if t.judged:
            entry.passes = t.passes
            entry.pass_at_k = pass_at_k(t.judged, t.passes, min(k, t.judged))
            entry.pass_hat_k = pass_hat_k(t.judged, t.passes, min(k, t.judged))
            entry.flaky = 0 < t.passes < t.judged
        cases.append(entry)
    return _consistency_totals(k, cases)


def _consistency_totals(k: int, cases: list[CaseConsistency]) -> ConsistencySummary:
    judged = [c for c in cases if c.passes is not None]
    semantic = [c.semantic_agreement for c in cases if c.semantic_agreement is not None]
    flaky = [c.case_id for c in cases if c.flaky]

    def mean(values: list[float]) -> float | None:
        return math.fsum(values) / len(values) if values else None  # exact: any order gives one sum

    return ConsistencySummary(
        k=k,
        exact_agreement=math.fsum(c.exact_agreement for c in cases) / len(cases),
        semantic_agreement=mean(semantic),
        pass_at_1=mean([(c.passes or 0) / c.samples for c in judged]),
        pass_at_k=mean([c.pass_at_k or 0 for c in judged]),
        pass_hat_k=mean([c.pass_hat_k or 0 for c in judged]),
        flaky_share=len(flaky) / len(cases),
        flaky_cases=flaky,
        cases=cases,
    )
