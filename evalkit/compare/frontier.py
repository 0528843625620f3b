"""The cost–quality frontier of a suite's variants (two or more): each variant's quality (pass
rate and the suite's main metric), cost per case and P95 latency; which variants another one
beats on every figure; and the cheapest variant whose quality is not significantly worse than
the best, by the gate's own paired test on the per-case main metric at the gate's alpha.

Rules, in words (docs/guide/comparing.md says the same):
  - the main metric is the suite's first score that decides a case's pass, else its first
    score that is not informational; the best variant has the best mean of it (ties: the
    higher pass rate, then the lower cost, then the order the config lists them);
  - each other variant is compared with the best case by case (cases measured on both; repeats
    averaged per case): McNemar's exact test for pass/fail scores of one repeat, the paired
    t-test otherwise (`gate.paired_score_test`), Holm-adjusted over the suite's comparisons;
    significantly worse = adjusted p < alpha and a worse mean difference (`gate.metric_verdict`);
  - a variant is dominated when another is at least as good on pass rate, main metric, cost per
    case and P95 latency and strictly better on one; a figure unmeasured on one side only
    decides nothing (no dominance), unmeasured on both sides is a tie;
  - the pick is the cheapest variant not significantly worse than the best, among those with a
    measured cost and no higher error rate than the best (a variant that fails more requests
    is no substitute); equal costs go to the better quality.
A tally keeps one small list per case and variant, never the result lines; past `SPILL_AT` of
them, they go to a scratch SQLite file and the paired values come back from a join, so a run of
a million results × variants concludes in bounded memory."""

from __future__ import annotations

import itertools
import sqlite3
from array import array
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from evalkit._util.models import Record, new_list
from evalkit._util.scratch import scratch_db
from evalkit.types import CaseResult, MetricInfo

if TYPE_CHECKING:  # the summary holds the frontier; the frontier reads the summary's groups
    from evalkit.compare.aggregate import GroupSummary
    from evalkit.compare.gate import MetricDiff

ALPHA = 0.05  # the gate's (evalkit.compare.gate.ALPHA; a test holds them equal)
SPILL_AT = 50_000  # case rows a tally holds in memory before they go to its scratch file


class FrontierVariant(Record):
    variant: str
    pass_rate: float | None
    quality: float | None  # the main metric's mean
    cost_per_case_usd: float | None  # None: unmeasured (never 0)
    latency_p95_ms: float | None
    errors: int = 0
    error_rate: float = 0.0
    dominated_by: list[str] = Field(default_factory=new_list)  # variants at least as good on every figure
    # the paired test of the main metric against the best variant (unset for the best itself)
    test: Literal["paired_t", "mcnemar"] | None = None
    n_paired: int = 0
    delta: float | None = None  # this variant's mean minus the best's, on the paired cases
    p_value: float | None = None
    p_adjusted: float | None = None  # Holm over the suite's comparisons with the best
    worse_than_best: bool | None = None  # significantly worse; None: not compared


class SuiteFrontier(Record):
    suite: str
    metric: str | None  # the main metric (None: the suite has no score to compare)
    higher_is_better: bool = True
    alpha: float = ALPHA
    best: str | None = None
    pick: str | None = None  # the cheapest variant not significantly worse than the best
    why: str  # the pick (or its absence) in words
    variants: list[FrontierVariant]

    @property
    def dominated(self) -> list[str]:
        return [v.variant for v in self.variants if v.dominated_by]


def main_metric(infos: Sequence[MetricInfo]) -> MetricInfo | None:
    """The suite's main metric: its first score that decides a pass, else its first shown one."""
    scored = [m for m in infos if not m.informational]
    return next((m for m in scored if m.counts_for_pass), scored[0] if scored else None)


Paired = tuple["array[float]", "array[float]", list[bool | None], list[bool | None]]


class FrontierTally:
    """Per suite × variant × case: [sum of the main metric, measured repeats, results, its pass
    mark (one repeat; None when unmarked or repeated)], fed one result at a time. Past
    `spill_at` rows held, they are added into a private scratch SQLite file (deleted on close)."""

    def __init__(self, metrics: Mapping[str, Sequence[MetricInfo]], spill_at: int = SPILL_AT):
        self.main = {suite: m for suite, infos in metrics.items() if (m := main_metric(infos))}
        self.cases: dict[tuple[str, str], dict[str, list[Any]]] = {}
        self._held = 0
        self._spill_at = spill_at
        self._db: sqlite3.Connection | None = None

    def add(self, r: CaseResult) -> None:
        info = self.main.get(r.suite)
        if info is None:
            return
        key = (r.suite, r.variant)
        cases = self.cases.get(key)
        if cases is None:
            cases = self.cases[key] = {}
        row = cases.get(r.case_id)
        if row is None:
            row = cases[r.case_id] = [0.0, 0, 0, None]
            self._held += 1
        row[2] += 1
        score = r.scores.get(info.name) if r.error is None else None
        if score is not None and score.value is not None:
            row[0] += score.value
            row[1] += 1
            row[3] = score.passed if row[2] == 1 else None
        else:
            row[3] = None
        if self._held > self._spill_at:
            self._spill()

    def _spill(self) -> None:
        """Add every row held into the scratch file (a case seen again there has more than one
        result: its pass mark goes) and forget them."""
        if self._db is None:
            self._db = scratch_db(
                "CREATE TABLE t (suite TEXT, variant TEXT, case_id TEXT, total REAL, n INTEGER,"
                " results INTEGER, mark INTEGER, PRIMARY KEY (suite, variant, case_id)) WITHOUT ROWID;"
            )
        rows = ((s, v, c, *row) for (s, v), cases in self.cases.items() for c, row in cases.items())
        self._db.execute("BEGIN")
        self._db.executemany(
            "INSERT INTO t VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET total = total + "
            "excluded.total, n = n + excluded.n, results = results + excluded.results, mark = NULL",
            rows,
        )
        self._db.execute("COMMIT")
        self.cases.clear()
        self._held = 0

    def values(self, suite: str, variant: str) -> dict[str, tuple[float, bool | None]]:
        """Each measured case's mean over repeats and its pass mark (one repeat only), of the
        rows held in memory."""
        rows = self.cases.get((suite, variant), {})
        out: dict[str, tuple[float, bool | None]] = {}
        for case_id, (total, n, results, mark) in rows.items():
            if n:
                out[case_id] = (total / n, mark if results == 1 and isinstance(mark, bool) else None)
        return out

    def paired(self, suite: str, best: str, other: str) -> Paired:
        """The cases measured on both variants: their means (best, other) and pass marks."""
        bv, cv, bp, cp = array("d"), array("d"), [], []
        if self._db is None:
            reference, mine = self.values(suite, best), self.values(suite, other)
            for case_id, (value, mark) in reference.items():
                if (theirs := mine.get(case_id)) is not None:
                    bv.append(value)
                    cv.append(theirs[0])
                    bp.append(mark)
                    cp.append(theirs[1])
            return bv, cv, bp, cp
        self._spill()
        query = self._db.execute(
            "SELECT b.total / b.n, CASE WHEN b.results = 1 THEN b.mark END, o.total / o.n,"
            " CASE WHEN o.results = 1 THEN o.mark END FROM t b JOIN t o ON o.suite = b.suite"
            " AND o.variant = ? AND o.case_id = b.case_id WHERE b.suite = ? AND b.variant = ?"
            " AND b.n > 0 AND o.n > 0",
            (other, suite, best),
        )
        for b_value, b_mark, o_value, o_mark in query:
            bv.append(b_value)
            cv.append(o_value)
            bp.append(None if b_mark is None else bool(b_mark))
            cp.append(None if o_mark is None else bool(o_mark))
        return bv, cv, bp, cp


def frontiers(
    groups: Sequence[GroupSummary], tally: FrontierTally, alpha: float = ALPHA
) -> list[SuiteFrontier]:
    """The frontier of every suite that ran two or more variants, in the summary's order."""
    suites: dict[str, list[GroupSummary]] = {}
    for g in groups:
        suites.setdefault(g.suite, []).append(g)
    return [
        suite_frontier(suite, members, tally, alpha) for suite, members in suites.items() if len(members) >= 2
    ]


def _figures(g: GroupSummary, metric: str | None) -> FrontierVariant:
    m = g.metrics.get(metric) if metric else None
    return FrontierVariant(
        variant=g.variant,
        pass_rate=g.pass_rate,
        quality=m.mean if m else None,
        cost_per_case_usd=g.cost_per_case_usd,
        latency_p95_ms=g.latency.p95_ms,
        errors=g.errors,
        error_rate=g.error_rate,
    )


def suite_frontier(
    suite: str, groups: Sequence[GroupSummary], tally: FrontierTally, alpha: float = ALPHA
) -> SuiteFrontier:
    info = tally.main.get(suite)
    rows = [_figures(g, info.name if info else None) for g in groups]
    higher = info.higher_is_better if info else True
    _mark_dominated(rows, higher)
    out = SuiteFrontier(
        suite=suite,
        metric=info.name if info else None,
        higher_is_better=higher,
        alpha=alpha,
        why="",
        variants=rows,
    )
    measured = [v for v in rows if v.quality is not None]
    if info is None or not measured:
        out.why = "no score measured to compare the variants by" if info else "the suite has no score"
        return out
    best = min(measured, key=lambda v: _rank(v, higher, rows))
    out.best = best.variant
    _test_against_best(out, best, tally, alpha)
    _pick(out, best)
    return out


def _rank(
    v: FrontierVariant, higher: bool, rows: Sequence[FrontierVariant]
) -> tuple[float, float, float, int]:
    quality = v.quality if v.quality is not None else 0.0
    cost = v.cost_per_case_usd if v.cost_per_case_usd is not None else float("inf")
    return (-quality if higher else quality, -(v.pass_rate or 0.0), cost, rows.index(v))


def _test_against_best(out: SuiteFrontier, best: FrontierVariant, tally: FrontierTally, alpha: float) -> None:
    """Each variant vs the best, case by case, by the gate's test; Holm over the suite's tests."""
    import numpy as np

    from evalkit.compare.gate import MetricDiff, metric_verdict, paired_score_test
    from evalkit.stats import holm

    assert out.metric is not None
    tested: list[tuple[FrontierVariant, MetricDiff]] = []
    for v in out.variants:
        if v is best:
            continue
        b_values, c_values, bp, cp = tally.paired(out.suite, best.variant, v.variant)
        v.n_paired = len(b_values)
        if not b_values:
            continue
        bv = np.frombuffer(b_values, dtype=float)
        cv = np.frombuffer(c_values, dtype=float)
        marks = None
        if all(isinstance(x, bool) for x in itertools.chain(bp, cp)):
            marks = (np.array(bp, dtype=bool), np.array(cp, dtype=bool))
        diff = MetricDiff(metric=out.metric, kind="score", higher_is_better=out.higher_is_better)
        paired_score_test(diff, bv, cv, marks, alpha)
        v.test = "mcnemar" if diff.kind == "pass_fail" else "paired_t"
        v.delta, v.p_value = diff.delta, diff.p_value
        tested.append((v, diff))
    with_p = [(v, d) for v, d in tested if d.p_value is not None]
    for (v, d), adjusted in zip(with_p, holm([d.p_value or 1.0 for _, d in with_p]), strict=True):
        d.p_adjusted = v.p_adjusted = adjusted
    for v, d in tested:
        metric_verdict(d, alpha, len(with_p))
        v.worse_than_best = d.verdict == "regressed" if d.verdict != "unmeasured" else None


def _pick(out: SuiteFrontier, best: FrontierVariant) -> None:
    fine = [v for v in out.variants if v is best or v.worse_than_best is False]
    eligible = [v for v in fine if v.error_rate <= best.error_rate]
    priced = [v for v in eligible if v.cost_per_case_usd is not None]
    if not priced:
        out.why = (
            "no cost measured for the variants not significantly worse than the best"
            if eligible
            else "no variant could be compared with the best"
        )
        return
    higher = out.higher_is_better
    pick = min(priced, key=lambda v: (v.cost_per_case_usd, _rank(v, higher, out.variants)))
    out.pick = pick.variant
    unpriced = [v.variant for v in eligible if v.cost_per_case_usd is None]
    if pick is best:
        out.why = "the best variant is also the cheapest of those not significantly worse"
    else:
        out.why = f"not significantly worse than {best.variant} (α = {out.alpha:g}, paired) and cheaper"
    if unpriced:
        out.why += f"; cost unmeasured for {', '.join(unpriced)}"


def _mark_dominated(rows: Sequence[FrontierVariant], higher: bool) -> None:
    for v in rows:
        v.dominated_by = [o.variant for o in rows if o is not v and _dominates(o, v, higher)]


_Sense = Literal["high", "low"]


def _dominates(a: FrontierVariant, b: FrontierVariant, higher: bool) -> bool:
    """a is at least as good as b on every figure and strictly better on one."""
    figures: list[tuple[float | None, float | None, _Sense]] = [
        (a.pass_rate, b.pass_rate, "high"),
        (a.quality, b.quality, "high" if higher else "low"),
        (a.cost_per_case_usd, b.cost_per_case_usd, "low"),
        (a.latency_p95_ms, b.latency_p95_ms, "low"),
    ]
    strictly = False
    for x, y, sense in figures:
        if x is None and y is None:
            continue  # unmeasured on both sides: a tie
        if x is None or y is None:
            return False  # measured on one side only: nothing can be said
        better, worse = (x > y, x < y) if sense == "high" else (x < y, x > y)
        if worse:
            return False
        strictly |= better
    return strictly


# -- the words every surface shows (each surface escapes them: they hold variant names) --------


def vs_best_text(f: SuiteFrontier, v: FrontierVariant) -> str:
    """A variant against the best, e.g. 'best', 'not worse (p_adj 0.412)', 'worse (p_adj < 0.001)'."""
    from evalkit._util.numbers import p_value

    if v.variant == f.best:
        return "best"
    if v.worse_than_best is None:
        return "not compared" if v.quality is not None or v.n_paired else "unmeasured"
    words = "worse" if v.worse_than_best else "not worse"
    return f"{words} (p_adj {p_value(v.p_adjusted)})"


def marks_text(f: SuiteFrontier, v: FrontierVariant) -> str:
    """'pick' and 'dominated by a, b' as they apply ('' when neither)."""
    out = ["pick"] if v.variant == f.pick else []
    if v.dominated_by:
        out.append("dominated by " + ", ".join(v.dominated_by))
    return " · ".join(out)


def pick_text(f: SuiteFrontier) -> str:
    """The frontier's conclusion in one line."""
    if f.pick is None:
        return f"no pick: {f.why}"
    return f"pick: {f.pick}: {f.why}"


def rule_text(f: SuiteFrontier) -> str:
    """How to read the frontier, the same words on every surface."""
    metric = f.metric or "the main metric"
    best = "highest" if f.higher_is_better else "lowest"
    return (
        f"best: {best} mean {metric} · vs best: the gate's paired test on each case's {metric} "
        f"(McNemar or paired t), Holm-adjusted, α = {f.alpha:g} · pick: the cheapest not "
        f"significantly worse · dominated: another variant is as good on pass rate, {metric}, "
        "cost and P95, and better on one"
    )
