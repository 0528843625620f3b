"""Aggregate results.jsonl into summary.json: per suite × variant figures and threshold checks."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from evalkit.agent.stepstats import StepSummary, summarize_steps
from evalkit.judgecost import judge_totals
from evalkit.numbers import kind_of, number
from evalkit.scorers.base import Scorer
from evalkit.stats import mean_ci, percentiles, wilson_interval
from evalkit.types import CaseResult, JudgeUsage, ScoreInput, Threshold


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MetricSummary(Model):
    name: str
    mean: float | None
    std: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    n: int
    unmeasured: int
    pass_rate: float | None = None  # for pass/fail scores
    higher_is_better: bool = True
    scorer_unmeasured: int = 0  # unmeasured although the output exists (scorer error, bad verdict)


class LatencySummary(Model):
    n: int
    mean_ms: float | None = None
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    ttft_p50_ms: float | None = None  # time to first token, when the provider streams
    ttft_p95_ms: float | None = None


class TokenSummary(Model):
    input: int = 0
    output: int = 0
    cached_input: int = 0
    reasoning: int = 0
    judge_input: int = 0  # what the judges read and wrote (their cost is in the group's cost)
    judge_output: int = 0
    mean_input_per_case: float | None = None
    mean_output_per_case: float | None = None


class CaseConsistency(Model):
    case_id: str
    samples: int
    exact_agreement: float  # share of repeats giving the most common output
    semantic_agreement: float | None = None  # share of repeat pairs with cosine ≥ threshold
    passes: int | None = None  # repeats that passed every pass/fail scorer
    pass_at_k: float | None = None  # chance at least one of k samples passes (unbiased estimator)
    pass_hat_k: float | None = None  # chance all k samples pass
    flaky: bool = False


class ConsistencySummary(Model):
    """Reliability across repeated runs of the same case (only with repeats ≥ 2)."""

    k: int
    exact_agreement: float
    semantic_agreement: float | None = None
    pass_at_1: float | None = None
    pass_at_k: float | None = None
    pass_hat_k: float | None = None
    flaky_share: float
    flaky_cases: list[str] = Field(default_factory=list)
    cases: list[CaseConsistency] = Field(default_factory=list)


class ThresholdCheck(Model):
    metric: str
    min: float | None = None
    max: float | None = None
    actual: float | None
    passed: bool
    reason: str


class GroupSummary(Model):
    suite: str
    variant: str
    provider: str
    models: list[str] = Field(default_factory=list)
    model_versions: list[str] = Field(default_factory=list)
    results: int
    cases: int
    errors: int
    error_rate: float
    cached: int = 0
    fallbacks: int = 0
    retrieval_failures: int | None = None  # RAG variants: cases whose retrieval found nothing (also errors)
    passed: int
    pass_rate: float | None
    pass_rate_ci: tuple[float, float] | None = None
    metrics: dict[str, MetricSummary] = Field(default_factory=dict)
    corpus: dict[str, float] = Field(default_factory=dict)
    latency: LatencySummary
    tokens: TokenSummary
    cost_usd: float | None
    cost_per_case_usd: float | None
    cost_per_passing_case_usd: float | None = None
    thresholds: list[ThresholdCheck] = Field(default_factory=list)
    consistency: ConsistencySummary | None = None
    judges: dict[str, JudgeUsage] = Field(default_factory=dict)  # per judge: calls, tokens, cost
    steps: dict[str, StepSummary] | None = None  # traces: figures per step name (evalkit.agent)

    def special(self, name: str) -> float | None:
        return {
            "pass_rate": self.pass_rate,
            "error_rate": self.error_rate,
            "latency_p50_ms": self.latency.p50_ms,
            "latency_p95_ms": self.latency.p95_ms,
            "latency_p99_ms": self.latency.p99_ms,
            "cost_per_case_usd": self.cost_per_case_usd,
        }.get(name)


Status = Literal["passed", "failed", "regressed", "errors", "interrupted"]


class Summary(Model):
    run_id: str
    status: Status
    exit_code: int
    results: int
    errors: int
    error_budget: str
    aborted: str | None = None
    baseline: str | None = None  # the baselines folder this run was gated against
    regressions: list[str] = Field(default_factory=list)  # "suite · variant · metric"
    groups: list[GroupSummary]

    def metric_names(self) -> list[str]:
        """Every group's metric names, in first-seen order (the order tables show them)."""
        names: list[str] = []
        for g in self.groups:
            names += [n for n in g.metrics if n not in names]
        return names


def summarize_group(
    results: Sequence[CaseResult],
    scorers: Sequence[Scorer],
    thresholds: Mapping[str, Threshold],
) -> GroupSummary:
    first = results[0]
    errors = sum(1 for r in results if r.error is not None)
    verdicts = [r.passed() for r in results]
    judged = [v for v in verdicts if v is not None]
    passed = sum(1 for v in judged if v)
    higher = {name: s.higher_is_better for s in scorers for name in s.names}
    ranges = {name: s.value_range for s in scorers for name in s.names}
    names = [n for s in scorers for n in s.names]
    names += sorted({n for r in results for n in r.scores} - set(names))  # e.g. human labels
    metrics: dict[str, MetricSummary] = {}
    for name in names:
        scores = [r.scores[name] for r in results if name in r.scores]
        values = [s.value for s in scores if s.value is not None]
        unmeasured = len(scores) - len(values)  # a scorer that does not apply to a case gives no score
        flags = [s.passed for s in scores if s.passed is not None]
        scorer_unmeasured = sum(
            1 for r in results if r.error is None and name in r.scores and r.scores[name].value is None
        )
        if values:
            mean, std, lo, hi = mean_ci(values, bounds=ranges.get(name))
            metrics[name] = MetricSummary(
                name=name,
                mean=mean,
                std=std,
                ci_low=lo,
                ci_high=hi,
                n=len(values),
                unmeasured=unmeasured,
                higher_is_better=higher.get(name, True),
                pass_rate=(sum(flags) / len(flags)) if flags else None,
                scorer_unmeasured=scorer_unmeasured,
            )
        else:
            metrics[name] = MetricSummary(
                name=name,
                mean=None,
                n=0,
                unmeasured=unmeasured,
                higher_is_better=higher.get(name, True),
                scorer_unmeasured=scorer_unmeasured,
            )

    ok = [r for r in results if r.error is None and r.output is not None]
    items = [
        ScoreInput(output=r.output or "", references=tuple(r.references), vars={}, case_id=r.case_id)
        for r in ok
        if r.references
    ]
    corpus: dict[str, float] = {}
    if items:
        for scorer in scorers:
            corpus.update(scorer.corpus(items))

    timed = [r.latency_ms for r in ok if r.latency_ms is not None and not r.cached]
    p50, p95, p99 = percentiles(timed, [50, 95, 99])
    ttfts = [r.ttft_ms for r in ok if r.ttft_ms is not None and not r.cached]
    ttft50, ttft95 = percentiles(ttfts, [50, 95])
    latency = LatencySummary(
        n=len(timed),
        mean_ms=(sum(timed) / len(timed)) if timed else None,
        p50_ms=p50,
        p95_ms=p95,
        p99_ms=p99,
        ttft_p50_ms=ttft50,
        ttft_p95_ms=ttft95,
    )
    tokens = TokenSummary(
        input=sum(r.usage.input_tokens or 0 for r in results),
        output=sum(r.usage.output_tokens or 0 for r in results),
        cached_input=sum(r.usage.cached_input_tokens or 0 for r in results),
        reasoning=sum(r.usage.reasoning_tokens or 0 for r in results),
    )
    counted = [r for r in results if r.usage.input_tokens is not None or r.usage.output_tokens is not None]
    if counted:
        tokens.mean_input_per_case = tokens.input / len(counted)
        tokens.mean_output_per_case = tokens.output / len(counted)
    costs = [r.cost_usd for r in results if r.cost_usd is not None]
    cost = sum(costs) if costs else None
    group = GroupSummary(
        suite=first.suite,
        variant=first.variant,
        provider=first.provider,
        models=sorted({r.model for r in results if r.model}),
        model_versions=sorted({r.model_version for r in results if r.model_version}),
        results=len(results),
        cases=len({r.case_id for r in results}),
        errors=errors,
        error_rate=errors / len(results),
        cached=sum(1 for r in results if r.cached),
        fallbacks=sum(1 for r in results if r.fallback_from is not None),
        retrieval_failures=(
            sum(1 for r in results if r.retrieval_ids == [])
            if any(r.retrieval_ids is not None for r in results)
            else None
        ),
        passed=passed,
        pass_rate=(passed / len(judged)) if judged else None,
        pass_rate_ci=wilson_interval(passed, len(judged)) if judged else None,
        metrics=metrics,
        corpus=corpus,
        latency=latency,
        tokens=tokens,
        cost_usd=cost,
        cost_per_case_usd=(cost / len(results)) if cost is not None else None,
        cost_per_passing_case_usd=(cost / passed) if cost is not None and passed else None,
    )
    group.consistency = summarize_consistency(results, scorers)
    group.judges = judge_totals(results)
    group.steps = summarize_steps(results)
    group.tokens.judge_input = sum(j.input_tokens for j in group.judges.values())
    group.tokens.judge_output = sum(j.output_tokens for j in group.judges.values())
    checks = [check_threshold(group, name, t) for name, t in thresholds.items()]
    group.thresholds = [c for c in checks if c is not None]
    return group


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples with c passes (Chen et al., 2021)."""
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def pass_hat_k(n: int, c: int, k: int) -> float:
    """pass^k: the chance that k samples drawn from the n all pass (Yao et al., 2024)."""
    return math.comb(c, k) / math.comb(n, k) if k <= n else 0.0


def summarize_consistency(
    results: Sequence[CaseResult], scorers: Sequence[Scorer]
) -> ConsistencySummary | None:
    by_case: dict[str, list[CaseResult]] = defaultdict(list)
    for r in results:
        if r.error is None and r.output is not None:
            by_case[r.case_id].append(r)
    if not by_case or max(len(v) for v in by_case.values()) < 2:
        return None
    k = min(len(v) for v in by_case.values())
    unwrapped = [getattr(s, "inner", s) for s in scorers]
    embedder = next((s for s in unwrapped if hasattr(s, "agreement")), None)
    cases = []
    for case_id, rows in sorted(by_case.items()):
        outputs = [" ".join((r.output or "").split()) for r in rows]
        modal = max(outputs.count(o) for o in set(outputs))
        verdicts = [r.passed() for r in rows]
        judged = [v for v in verdicts if v is not None]
        entry = CaseConsistency(case_id=case_id, samples=len(rows), exact_agreement=modal / len(rows))
        if embedder is not None:
            entry.semantic_agreement = embedder.agreement(outputs)
        if judged:
            c = sum(judged)
            entry.passes = c
            entry.pass_at_k = pass_at_k(len(judged), c, min(k, len(judged)))
            entry.pass_hat_k = pass_hat_k(len(judged), c, min(k, len(judged)))
            entry.flaky = 0 < c < len(judged)
        cases.append(entry)
    judged_cases = [c for c in cases if c.passes is not None]
    semantic = [c.semantic_agreement for c in cases if c.semantic_agreement is not None]
    flaky = [c.case_id for c in cases if c.flaky]
    return ConsistencySummary(
        k=k,
        exact_agreement=sum(c.exact_agreement for c in cases) / len(cases),
        semantic_agreement=sum(semantic) / len(semantic) if semantic else None,
        pass_at_1=(sum((c.passes or 0) / c.samples for c in judged_cases) / len(judged_cases))
        if judged_cases
        else None,
        pass_at_k=(sum(c.pass_at_k or 0 for c in judged_cases) / len(judged_cases)) if judged_cases else None,
        pass_hat_k=(sum(c.pass_hat_k or 0 for c in judged_cases) / len(judged_cases))
        if judged_cases
        else None,
        flaky_share=len(flaky) / len(cases),
        flaky_cases=flaky,
        cases=cases,
    )


def check_threshold(group: GroupSummary, name: str, threshold: Threshold) -> ThresholdCheck | None:
    if threshold.min is None and threshold.max is None:
        return None  # only a tolerance against the baseline: the diff checks it
    if name in group.metrics:
        actual = group.metrics[name].mean
    elif name in group.corpus:
        actual = group.corpus[name]
    else:
        actual = group.special(name)
    if actual is None:
        return ThresholdCheck(
            metric=name,
            min=threshold.min,
            max=threshold.max,
            actual=None,
            passed=False,
            reason="no measured value to check",
        )
    problems = []
    kind = kind_of(name)
    if threshold.min is not None and actual < threshold.min:
        problems.append(f"{number(actual, kind)} < min {number(threshold.min, kind)}")
    if threshold.max is not None and actual > threshold.max:
        problems.append(f"{number(actual, kind)} > max {number(threshold.max, kind)}")
    return ThresholdCheck(
        metric=name,
        min=threshold.min,
        max=threshold.max,
        actual=actual,
        passed=not problems,
        reason="; ".join(problems) or "ok",
    )


def group_results(results: Iterable[CaseResult]) -> dict[tuple[str, str], list[CaseResult]]:
    groups: dict[tuple[str, str], list[CaseResult]] = defaultdict(list)
    for r in results:
        groups[(r.suite, r.variant)].append(r)
    return groups
