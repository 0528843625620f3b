"""Aggregate results.jsonl into summary.json: per suite × variant figures and threshold checks.

Works from result lines and the run's MetricInfo alone (no scorer objects), in one streaming
pass: a group keeps numbers (scores, latencies), per-case tallies and corpus statistics, never
the result lines themselves. Corpus BLEU/chrF sum sacrebleu's segment statistics; pass@k,
flakiness and agreement come from per-case tallies."""

from __future__ import annotations

import math
from array import array
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import Field

from evalkit import plugins
from evalkit._util.causes import CauseTally
from evalkit._util.models import Record, new_list
from evalkit._util.numbers import kind_of, number
from evalkit.compare.consistency import (
    CaseConsistency,
    CaseTallies,
    CaseTally,
    ConsistencySummary,
    pass_at_k,
    pass_hat_k,
    summarize_consistency,
)
from evalkit.compare.frontier import SuiteFrontier
from evalkit.compare.judgecost import add_judge_usage
from evalkit.errors import ExitCode
from evalkit.plugins import CorpusAccumulator
from evalkit.rundir.migrations import CURRENT
from evalkit.stats import mean_ci, percentiles, wilson_interval
from evalkit.tools.stepstats import StepSummary, summarize_steps
from evalkit.types import CaseResult, JudgeUsage, MetricInfo, Threshold

__all__ = [  # the consistency figures are part of a group's summary
    "CaseConsistency",
    "ConsistencySummary",
    "GroupSummary",
    "Summary",
    "group_results",
    "pass_at_k",
    "pass_hat_k",
    "summarize_group",
    "summarize_groups",
]


class MetricSummary(Record):
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
    informational: bool = False  # shown, never part of a case's pass


class LatencySummary(Record):
    n: int
    mean_ms: float | None = None
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    ttft_p50_ms: float | None = None  # time to first token, when the provider streams
    ttft_p95_ms: float | None = None


class TokenSummary(Record):
    input: int = 0
    output: int = 0
    cached_input: int = 0
    cache_write: int = 0
    reasoning: int = 0
    judge_input: int = 0  # what the judges read and wrote (their cost is in the group's cost)
    judge_output: int = 0
    mean_input_per_case: float | None = None
    mean_output_per_case: float | None = None


class ThresholdCheck(Record):
    metric: str
    min: float | None = None
    max: float | None = None
    actual: float | None
    passed: bool
    reason: str


class GroupSummary(Record):
    suite: str
    variant: str
    provider: str
    models: list[str] = Field(default_factory=new_list)
    model_versions: list[str] = Field(default_factory=new_list)
    results: int
    cases: int
    errors: int
    error_rate: float
    # answers cut short (finish_reason `length`: max_tokens, or an agent's max_steps), of the
    # generated ones; None when nothing was generated
    truncated: int = 0
    truncation_rate: float | None = None
    cached: int = 0
    fallbacks: int = 0
    retrieval_failures: int | None = None  # RAG variants: cases whose retrieval found nothing (also errors)
    passed: int
    pass_rate: float | None
    pass_metrics: list[str] | None = None  # the scores that decide a case's pass (None: all marks)
    pass_rate_ci: tuple[float, float] | None = None
    metrics: dict[str, MetricSummary] = Field(default_factory=dict)
    corpus: dict[str, float] = Field(default_factory=dict)
    latency: LatencySummary
    tokens: TokenSummary
    cost_usd: float | None
    cost_per_case_usd: float | None
    cost_per_passing_case_usd: float | None = None
    thresholds: list[ThresholdCheck] = Field(default_factory=new_list)
    consistency: ConsistencySummary | None = None
    judges: dict[str, JudgeUsage] = Field(default_factory=dict)  # per judge: calls, tokens, cost
    steps: dict[str, StepSummary] | None = None  # traces: figures per step name (evalkit.agent)
    error_causes: dict[str, int] = Field(default_factory=dict)  # failed requests, by cause
    # scores unmeasured on an existing output, by "metric: cause" (e.g. a judge's unparseable reply)
    unmeasured_causes: dict[str, int] = Field(default_factory=dict)

    def special(self, name: str) -> float | None:
        return {
            "pass_rate": self.pass_rate,
            "error_rate": self.error_rate,
            "truncation_rate": self.truncation_rate,
            "latency_p50_ms": self.latency.p50_ms,
            "latency_p95_ms": self.latency.p95_ms,
            "latency_p99_ms": self.latency.p99_ms,
            "cost_per_case_usd": self.cost_per_case_usd,
        }.get(name)


Status = Literal["passed", "failed", "regressed", "errors", "interrupted"]


def verdict(
    *, interrupted: int | None, errors: bool, regressions: Sequence[str], failed: bool
) -> tuple[Status, ExitCode]:
    """A run's status and exit code from what it found, first match wins: interrupted, errors
    (aborted, or over the error budget), regressed, a failed threshold check, else passed. One
    rule for a conclusion and for a summary whose checks changed later (`labels import`)."""
    if interrupted is not None:
        return "interrupted", ExitCode(interrupted)
    if errors:
        return "errors", ExitCode.INFRA
    if regressions:
        return "regressed", ExitCode.FAILED
    if failed:
        return "failed", ExitCode.FAILED
    return "passed", ExitCode.OK


class Summary(Record):
    schema_version: int = CURRENT["summary"]
    run_id: str
    status: Status
    exit_code: int
    results: int
    errors: int
    error_budget: str
    aborted: str | None = None
    baseline: str | None = None  # the baselines folder this run was gated against
    regressions: list[str] = Field(default_factory=new_list)  # "suite · variant · metric"
    groups: list[GroupSummary]
    # per suite that ran two or more variants: quality vs cost and P95, dominated variants, and the
    # cheapest variant not significantly worse than the best (evalkit.compare.frontier)
    frontier: list[SuiteFrontier] = Field(default_factory=new_list)
    alerts: int = 0  # trend alerts the history raised for this run (set after it is recorded)

    def error_causes(self) -> dict[str, int]:
        """Failed requests of every group, by cause, most frequent first."""
        total: Counter[str] = Counter()
        for g in self.groups:
            total.update(g.error_causes)
        return dict(total.most_common())

    def unmeasured_causes(self) -> dict[str, int]:
        total: Counter[str] = Counter()
        for g in self.groups:
            total.update(g.unmeasured_causes)
        return dict(total.most_common())

    def with_checks_redone(self) -> Summary:
        """The status and exit code again once the threshold checks changed (a `<judge>_kappa`
        floor after `labels import`): an interrupted run or one with errors stays so, and the
        history's --fail-on-alert exit stays while nothing worse is found."""
        if self.status in ("interrupted", "errors"):
            return self
        failed = any(not t.passed for g in self.groups for t in g.thresholds)
        status, code = verdict(interrupted=None, errors=False, regressions=self.regressions, failed=failed)
        if code == ExitCode.OK and self.exit_code == ExitCode.ALERT:
            code = ExitCode.ALERT
        return self.model_copy(update={"status": status, "exit_code": int(code)})

    def headline(self) -> str:
        """The run's outcome in words, the same on every surface: 'PASSED with 4 alerts'."""
        alerts = f" with {self.alerts} alert{'' if self.alerts == 1 else 's'}" if self.alerts else ""
        return f"{self.status.upper()}{alerts}"

    def metric_names(self) -> list[str]:
        """Every group's metric names, in first-seen order (the order tables show them)."""
        names: list[str] = []
        for g in self.groups:
            names += [n for n in g.metrics if n not in names]
        return names


@dataclass
class _MetricTally:
    values: array[float] = field(default_factory=lambda: array("d"))
    scored: int = 0  # results that carry this score (a scorer that does not apply gives none)
    passes: int = 0
    marked: int = 0
    scorer_unmeasured: int = 0

    def summary(self, info: MetricInfo, results: int) -> MetricSummary:
        n = len(self.values)
        common: dict[str, Any] = {
            "name": info.name,
            "n": n,
            "unmeasured": self.scored - n,
            "higher_is_better": info.higher_is_better,
            "scorer_unmeasured": self.scorer_unmeasured,
            "informational": info.informational,
        }
        if not n:
            return MetricSummary(mean=None, **common)
        mean, std, lo, hi = mean_ci(self.values, bounds=info.value_range)
        rate = self.passes / self.marked if self.marked else None
        return MetricSummary(mean=mean, std=std, ci_low=lo, ci_high=hi, pass_rate=rate, **common)


class GroupAccumulator:
    """The figures of one suite × variant, fed one result line at a time."""

    def __init__(self, metrics: Sequence[MetricInfo], thresholds: Mapping[str, Threshold]):
        self.metrics = list(metrics)
        self.thresholds = thresholds
        self.pass_names = [m.name for m in self.metrics if m.counts_for_pass]
        self._among = set(self.pass_names)
        self.tallies = {m.name: _MetricTally() for m in self.metrics}
        self.agreement = next((m for m in self.metrics if m.agreement), None)
        self.corpus = {f"corpus_{m.name}": _corpus_stats(m) for m in self.metrics if m.corpus}
        self.cases = CaseTallies(keep_outputs=self.agreement is not None)  # bounded: spills to disk
        self.first: CaseResult | None = None
        self.counts: Counter[str] = Counter()
        self.models: set[str] = set()
        self.versions: set[str] = set()
        self.latency, self.ttft = array("d"), array("d")
        # costs kept as numbers and summed exactly at the end (math.fsum): a merged run's lines
        # come in plan order, an unsharded run's as they finished, and the sums must agree
        self.costs = array("d")
        self.judge_costs: dict[str, array[float]] = {}
        self.judges: dict[str, JudgeUsage] = {}
        self.extra: dict[str, _MetricTally] = {}  # scores no scorer declared (e.g. human labels)
        self.traced: list[CaseResult] = []  # agent results, reduced to their steps
        self.error_causes = CauseTally()
        self.unmeasured_causes = CauseTally()

    def add(self, r: CaseResult) -> None:
        # runs once per result: a count is only touched when it grows (a Counter reads 0 for the rest)
        if self.first is None:
            self.first = r
        case = self.cases.touch(r.case_id)
        c = self.counts
        c["results"] += 1
        if r.error is not None:
            c["errors"] += 1
            self.error_causes.add(r.error)
        elif r.finish_reason == "length":
            c["truncated"] += 1
        if r.cached:
            c["cached"] += 1
        if r.fallback_from is not None:
            c["fallbacks"] += 1
        if r.retrieval_ids is not None:
            c["retrieves"] += 1
            c["retrieval_failures"] += not r.retrieval_ids
        verdict = r.passed(self._among)
        if verdict is not None:
            c["judged"] += 1
            c["passed"] += verdict
        self._add_usage(r)
        if r.scores:
            self._add_scores(r)
        if r.error is None and r.output is not None:
            self._add_output(r, verdict, case)

    def _add_usage(self, r: CaseResult) -> None:
        u, c = r.usage, self.counts
        if u.input_tokens is not None or u.output_tokens is not None:
            c["counted"] += 1
            c["input"] += u.input_tokens or 0
            c["output"] += u.output_tokens or 0
        if u.cached_input_tokens:
            c["cached_input"] += u.cached_input_tokens
        if u.cache_write_tokens:
            c["cache_write"] += u.cache_write_tokens
        if u.reasoning_tokens:
            c["reasoning"] += u.reasoning_tokens
        if r.cost_usd is not None:
            self.costs.append(r.cost_usd)
        if r.model:
            self.models.add(r.model)
        if r.model_version:
            self.versions.add(r.model_version)
        if r.judges:
            add_judge_usage(self.judges, r)
            for name, spent in r.judges.items():
                if spent.cost_usd is not None:
                    self.judge_costs.setdefault(name, array("d")).append(spent.cost_usd)
        if r.steps:
            self.traced.append(_steps_only(r))

    def _add_scores(self, r: CaseResult) -> None:
        for name, score in r.scores.items():
            tally = self.tallies.get(name)
            if tally is None:
                tally = self.extra.setdefault(name, _MetricTally())
            tally.scored += 1
            if score.value is not None:
                tally.values.append(score.value)
            elif r.error is None:
                tally.scorer_unmeasured += 1
                self.unmeasured_causes.add(score.reason or "no reason given", prefix=f"{name}: ")
            if score.passed is not None:
                tally.marked += 1
                tally.passes += score.passed

    def _add_output(self, r: CaseResult, verdict: bool | None, case: CaseTally) -> None:
        output = r.output or ""
        if not r.cached:
            if r.latency_ms is not None:
                self.latency.append(r.latency_ms)
            if r.ttft_ms is not None:
                self.ttft.append(r.ttft_ms)
        if r.references:
            for stats in self.corpus.values():
                stats.add(output, r.references)
        case.add(" ".join(output.split()), verdict)

    def summary(self) -> GroupSummary:
        assert self.first is not None, "an empty group has no summary"
        c, cost = self.counts, math.fsum(self.costs) if self.costs else None
        results, passed, judged = c["results"], c["passed"], c["judged"]
        corpus = {name: value for name, stats in self.corpus.items() if (value := stats.score()) is not None}
        group = GroupSummary(
            suite=self.first.suite,
            variant=self.first.variant,
            provider=self.first.provider,
            models=sorted(self.models),
            model_versions=sorted(self.versions),
            results=results,
            cases=self.cases.cases,
            errors=c["errors"],
            error_rate=c["errors"] / results,
            truncated=c["truncated"],
            truncation_rate=c["truncated"] / (results - c["errors"]) if results > c["errors"] else None,
            cached=c["cached"],
            fallbacks=c["fallbacks"],
            retrieval_failures=c["retrieval_failures"] if c["retrieves"] else None,
            passed=passed,
            pass_rate=(passed / judged) if judged else None,
            pass_rate_ci=wilson_interval(passed, judged) if judged else None,
            pass_metrics=self.pass_names,
            error_causes=self.error_causes.named(),
            unmeasured_causes=self.unmeasured_causes.named(),
            metrics=self._metrics(results),
            corpus=corpus,
            latency=self._latency(),
            tokens=self._tokens(),
            cost_usd=cost,
            cost_per_case_usd=(cost / results) if cost is not None else None,
            cost_per_passing_case_usd=(cost / passed) if cost is not None and passed else None,
        )
        group.consistency = summarize_consistency(self.cases, self.agreement)
        self.cases.close()
        for name, costs in self.judge_costs.items():
            self.judges[name].cost_usd = math.fsum(costs)
        group.judges = dict(sorted(self.judges.items()))
        group.steps = summarize_steps(self.traced)
        group.tokens.judge_input = sum(j.input_tokens for j in group.judges.values())
        group.tokens.judge_output = sum(j.output_tokens for j in group.judges.values())
        checks = [check_threshold(group, name, t) for name, t in self.thresholds.items()]
        group.thresholds = [check for check in checks if check is not None]
        return group

    def _metrics(self, results: int) -> dict[str, MetricSummary]:
        """The declared metrics in order, then any other score found (e.g. human labels; higher is
        better, and never part of a case's pass)."""
        out = {m.name: self.tallies[m.name].summary(m, results) for m in self.metrics}
        for name in sorted(self.extra):
            out[name] = self.extra[name].summary(MetricInfo(name=name, scorer=""), results)
        return out

    def _latency(self) -> LatencySummary:
        timed = self.latency
        p50, p95, p99 = percentiles(timed, [50, 95, 99])
        ttft50, ttft95 = percentiles(self.ttft, [50, 95])
        return LatencySummary(
            n=len(timed),
            mean_ms=(math.fsum(timed) / len(timed)) if timed else None,
            p50_ms=p50,
            p95_ms=p95,
            p99_ms=p99,
            ttft_p50_ms=ttft50,
            ttft_p95_ms=ttft95,
        )

    def _tokens(self) -> TokenSummary:
        c = self.counts
        tokens = TokenSummary(
            input=c["input"],
            output=c["output"],
            cached_input=c["cached_input"],
            cache_write=c["cache_write"],
            reasoning=c["reasoning"],
        )
        if c["counted"]:
            tokens.mean_input_per_case = tokens.input / c["counted"]
            tokens.mean_output_per_case = tokens.output / c["counted"]
        return tokens


def _steps_only(r: CaseResult) -> CaseResult:
    """What per-step figures need of a traced result: its key and its steps."""
    keep = {"suite", "case_id", "variant", "repeat", "provider", "steps"}
    return CaseResult.model_validate({"messages": [], "output": None, **r.model_dump(include=keep)})


def _corpus_stats(info: MetricInfo) -> CorpusAccumulator:
    """The corpus metric the scorer declared (`@scorer(..., corpus=NAME)`), by its name."""
    assert info.corpus is not None
    return plugins.corpus_metrics.get(info.corpus)(info.options)


def summarize_group(
    results: Iterable[CaseResult],
    metrics: Sequence[MetricInfo],
    thresholds: Mapping[str, Threshold],
) -> GroupSummary:
    """The summary of one suite × variant from its result lines (streamed) and its metrics."""
    acc = GroupAccumulator(metrics, thresholds)
    for r in results:
        acc.add(r)
    return acc.summary()


def summarize_groups(
    results: Iterable[CaseResult],
    metrics: Mapping[str, Sequence[MetricInfo]],
    thresholds: Mapping[str, Mapping[str, Threshold]],
) -> dict[tuple[str, str], GroupSummary]:
    """Every suite × variant of a run in one streaming pass (keyed by suite and variant, in
    the order first seen); `metrics` and `thresholds` are per suite."""
    groups: dict[tuple[str, str], GroupAccumulator] = {}
    for r in results:
        acc = groups.get((r.suite, r.variant))
        if acc is None:
            acc = GroupAccumulator(metrics.get(r.suite, ()), thresholds.get(r.suite, {}))
            groups[(r.suite, r.variant)] = acc
        acc.add(r)
    return {key: acc.summary() for key, acc in groups.items()}


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
