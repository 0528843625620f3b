"""Pairing a baseline's cases with a candidate's, from two streams sorted by case id: cases pair
by id and by a digest of their own data (repeats averaged per case). One pass keeps only what
the statistics need, compactly: per score, the paired per-case means (8 bytes a case and side);
latency and cost likewise; the case lists people read; the ten worst per-case changes. No
record is held beyond its own case, so a gate of any size runs in bounded memory."""

from __future__ import annotations

import hashlib
from array import array
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from evalkit.compare.records import CaseRecord, Records, by_case

TOP = 10  # the worst per-case changes kept for people to read


def mean(values: Sequence[float | None]) -> float | None:
    measured = [v for v in values if v is not None]
    return sum(measured) / len(measured) if measured else None


def case_pass(records: Sequence[CaseRecord], among: Sequence[str] | None = None) -> bool | None:
    """Whether a case passed on one side (every repeat; `among`: the suite's pass rule), None
    when nothing judges it (no pass mark, or only errors: those count in the error budget)."""
    flags = []
    for r in records:
        marks = [v for k, v in r.passed.items() if among is None or k in among]
        if marks and r.error is None:
            flags.append(all(marks))
    return all(flags) if flags else None


def latency(records: Sequence[CaseRecord]) -> float | None:
    """A case's measured latency (a cached result counts only with the latency it kept)."""
    return mean([r.latency_ms for r in records if r.error is None and (not r.cached or r.latency_kept_from)])


@dataclass
class Column:
    """One figure over the paired cases measured on both sides, in case order."""

    base: array[float] = field(default_factory=lambda: array("d"))
    cand: array[float] = field(default_factory=lambda: array("d"))
    unmeasured_base: int = 0
    unmeasured_cand: int = 0

    def add(self, b: float | None, c: float | None) -> bool:
        self.unmeasured_base += b is None
        self.unmeasured_cand += c is None
        if b is None or c is None:
            return False
        self.base.append(b)
        self.cand.append(c)
        return True


@dataclass
class ScoreColumn(Column):
    """A score's column, with each side's pass mark (one repeat) for McNemar's test."""

    marked: bool = True  # every record of a measured pair carries this score's pass mark
    base_pass: bytearray = field(default_factory=bytearray)
    cand_pass: bytearray = field(default_factory=bytearray)


@dataclass
class Paired:
    """What one pass over two sorted streams keeps of a comparison."""

    names: Sequence[str]
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed_input: list[str] = field(default_factory=list)
    n: int = 0  # paired cases
    paired_by_id_only: bool = False
    single_repeat: bool = True
    outputs_compared: int = 0
    outputs_identical: int = 0
    prompts_changed: int = 0
    scores: dict[str, ScoreColumn] = field(default_factory=dict)
    latency: Column = field(default_factory=Column)
    cost: Column = field(default_factory=Column)
    pass_to_fail: list[str] = field(default_factory=list)
    fail_to_pass: list[str] = field(default_factory=list)
    still_failing: list[str] = field(default_factory=list)
    # answers cut short (finish reason `length`) and answers with a known finish reason, per side,
    # over every case of the side (the suite × variant's truncation rate, as its summary counts it)
    truncated: list[int] = field(default_factory=lambda: [0, 0])
    generated: list[int] = field(default_factory=lambda: [0, 0])
    # (-worse_by, metric index, pair index) → (case id, metric, baseline, candidate, worse_by)
    worst: dict[tuple[float, int, int], tuple[str, str, float, float, float]] = field(default_factory=dict)
    _prompts: tuple[hashlib._Hash, hashlib._Hash] = field(
        default_factory=lambda: (hashlib.sha256(), hashlib.sha256())
    )

    def prompt_digests(self) -> tuple[str, str]:
        """Each side's digest of the prompts of the paired cases (case id: its input hashes)."""
        return self._prompts[0].hexdigest()[:8], self._prompts[1].hexdigest()[:8]

    def top_changes(self) -> list[tuple[str, str, float, float, float]]:
        """The worst per-case changes, worst first (ties: metric order, then case order)."""
        return [self.worst[k] for k in sorted(self.worst)[:TOP]]


def merged(
    base: Iterator[tuple[str, list[CaseRecord]]], cand: Iterator[tuple[str, list[CaseRecord]]]
) -> Iterator[tuple[str, list[CaseRecord] | None, list[CaseRecord] | None]]:
    """Two streams of cases sorted by id, walked together: each case id with each side's records."""
    b, c = next(base, None), next(cand, None)
    while b is not None or c is not None:
        if c is None or (b is not None and b[0] < c[0]):
            assert b is not None
            yield b[0], b[1], None
            b = next(base, None)
        elif b is None or c[0] < b[0]:
            yield c[0], None, c[1]
            c = next(cand, None)
        else:
            yield b[0], b[1], c[1]
            b, c = next(base, None), next(cand, None)


def pair(
    baseline: Records,
    candidate: Records,
    names: Sequence[str],
    higher: Mapping[str, bool],
    among: Sequence[str] | None = None,
) -> Paired:
    """Pair two groups' cases (id, then the digest of the case's own data) in one pass."""
    out = Paired(names, scores={name: ScoreColumn() for name in names})
    for case_id, base, cand in merged(by_case(baseline), by_case(candidate)):
        _count_finishes(out, base, cand)
        if base is None:
            out.added.append(case_id)
        elif cand is None:
            out.removed.append(case_id)
        else:
            hashes = {r.case_hash for r in base} | {r.case_hash for r in cand}
            if None in hashes:
                out.paired_by_id_only = True
            if None not in hashes and {r.case_hash for r in base} != {r.case_hash for r in cand}:
                out.changed_input.append(case_id)
            else:
                _add_pair(out, case_id, base, cand, higher, among)
    return out


def _count_finishes(out: Paired, base: list[CaseRecord] | None, cand: list[CaseRecord] | None) -> None:
    for side, records in enumerate((base, cand)):
        for r in records or ():
            if r.error is None and r.finish_reason is not None:
                out.generated[side] += 1
                out.truncated[side] += r.finish_reason == "length"


def _add_pair(
    out: Paired,
    case_id: str,
    base: list[CaseRecord],
    cand: list[CaseRecord],
    higher: Mapping[str, bool],
    among: Sequence[str] | None,
) -> None:
    k = out.n
    out.n += 1
    out.single_repeat &= len(base) == 1 and len(cand) == 1
    base_out = {r.repeat: r.output for r in base if r.output is not None}
    for r in cand:
        if r.output is not None and r.repeat in base_out:
            out.outputs_compared += 1
            out.outputs_identical += r.output == base_out[r.repeat]
    _add_prompts(out, case_id, {r.input_hash for r in base}, {r.input_hash for r in cand})
    for i, name in enumerate(out.names):
        _add_score(out, i, k, case_id, name, base, cand, higher.get(name, True))
    out.latency.add(latency(base), latency(cand))
    out.cost.add(mean([r.cost_usd for r in base]), mean([r.cost_usd for r in cand]))
    was, now = case_pass(base, among), case_pass(cand, among)
    if was is True and now is False:
        out.pass_to_fail.append(case_id)
    elif was is False and now is True:
        out.fail_to_pass.append(case_id)
    elif was is False and now is False:
        out.still_failing.append(case_id)


def _add_prompts(out: Paired, case_id: str, pb: set[str | None], pc: set[str | None]) -> None:
    if None not in pb | pc and pb != pc:
        out.prompts_changed += 1
    sep = "\n" if out.n > 1 else ""
    for digest, hashes in zip(out._prompts, (pb, pc), strict=True):
        digest.update(f"{sep}{case_id}:{sorted(str(h) for h in hashes)}".encode())


def _add_score(
    out: Paired,
    index: int,
    k: int,
    case_id: str,
    name: str,
    base: list[CaseRecord],
    cand: list[CaseRecord],
    higher: bool,
) -> None:
    column = out.scores[name]
    b, c = mean([r.scores.get(name) for r in base]), mean([r.scores.get(name) for r in cand])
    if not column.add(b, c):
        return
    assert b is not None and c is not None
    column.marked = column.marked and all(name in r.passed for r in (*base, *cand))
    column.base_pass.append(bool(base[0].passed.get(name, False)))
    column.cand_pass.append(bool(cand[0].passed.get(name, False)))
    worse_by = (1.0 if higher else -1.0) * (b - c)
    if worse_by > 0:
        out.worst[(-worse_by, index, k)] = (case_id, name, b, c, worse_by)
        if len(out.worst) > 64 * TOP:
            out.worst = {key: out.worst[key] for key in sorted(out.worst)[:TOP]}
