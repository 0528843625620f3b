"""A realistic comparison for renderer tests: three variants, one regressed, one unchanged, one
improved, with slow (tens of seconds) latencies and tiny costs: numbers that used to come out in
scientific notation. Summary and diff are computed by the real aggregate and gate code."""

from __future__ import annotations

import random

from evalkit.compare.aggregate import Summary, summarize_group
from evalkit.compare.baseline import BaselineMeta, CaseRecord, Group
from evalkit.compare.gate import DiffReport, diff_groups
from evalkit.scorers.base import metric_infos
from evalkit.spec.suite import ScorerSpec
from evalkit.types import CaseResult, Message, StoredScore, Threshold, Usage

N = 16
VARIANTS = ("baseline-prompt-v1", "reply-in-french-v2", "terse-answers-v3")
LONG_WARNING = (
    "model version changed: acme-large-2026-01-01-preview-checkpoint → acme-large-2026-02-15-"
    "preview-checkpoint; outputs are not comparable word for word across these versions at all"
)


def _result(variant: str, i: int, good: bool, rng: random.Random, slow: float) -> CaseResult:
    hit = good or i % 4 == 0
    return CaseResult(
        suite="capitals",
        case_id=f"case-{i:02d}",
        variant=variant,
        repeat=0,
        provider="api",
        input_hash=f"h{i}",
        case_hash=f"c{i}",  # the case's own data: pairs it with the baseline
        messages=[Message(role="user", content=f"question {i}")],
        references=["Paris"],
        output="Paris is the capital" if hit else "La capitale est Paris, je crois",
        latency_ms=slow * rng.uniform(0.8, 1.2),
        usage=Usage(input_tokens=12_000 + i, output_tokens=800),
        cost_usd=1.12e-5 * rng.uniform(0.9, 1.1),
        scores={
            "contains": StoredScore(value=float(hit), passed=hit),
            "rougeL": StoredScore(value=(0.9 if hit else 0.2) + rng.uniform(-0.05, 0.05)),
        },
    )


def _group(results: list[CaseResult], run_id: str) -> Group:
    meta = BaselineMeta(
        suite="capitals",
        variant=results[0].variant,
        evalkit_version="0",
        run_id=run_id,
        saved_at="2026-01-01T00:00:00Z",
        cases=len(results),
        results=len(results),
    )
    return Group(
        suite="capitals",
        variant=results[0].variant,
        records=[CaseRecord.from_result(r) for r in results],
        meta=meta,
    )


def make_comparison() -> tuple[Summary, DiffReport, list[CaseResult]]:
    rng = random.Random(3)
    thresholds = {"contains": Threshold(min=0.5)}
    scorers = metric_infos([ScorerSpec(type="contains"), ScorerSpec(type="rouge", types=["rougeL"])])
    base = {v: [_result(v, i, True, rng, 60_000.0) for i in range(N)] for v in VARIANTS}
    cand = {
        VARIANTS[0]: [_result(VARIANTS[0], i, True, rng, 60_000.0) for i in range(N)],
        VARIANTS[1]: [_result(VARIANTS[1], i, False, rng, 66_000.0) for i in range(N)],
        VARIANTS[2]: [_result(VARIANTS[2], i, True, rng, 30_000.0) for i in range(N)],
    }
    # the diff lists groups in another order than the summary: renderers must follow the summary
    order = [VARIANTS[2], VARIANTS[1], VARIANTS[0]]
    pairs = [
        (_group(base[v], "base"), _group(cand[v], "cand"), thresholds, {"contains": True, "rougeL": True})
        for v in order
    ]
    diff = diff_groups(pairs, resamples=300)
    diff.groups[1].warnings.append(LONG_WARNING)
    groups = [summarize_group(cand[v], scorers, thresholds) for v in VARIANTS]
    results = [r for v in VARIANTS for r in cand[v]]
    summary = Summary(
        run_id="cmp",
        status="regressed" if diff.regressed else "passed",
        exit_code=1 if diff.regressed else 0,
        results=len(results),
        errors=0,
        error_budget="max_error_rate=0.1",
        regressions=[
            f"{g.suite} · {g.variant} · {m.metric}"
            for g in diff.groups
            for m in g.metrics
            if m.verdict == "regressed"
        ],
        groups=groups,
    )
    return summary, diff, results
