"""Compare a candidate with a baseline, case by case, and decide what really changed.

Cases pair by id and by a digest of the case's own data (vars, references, its own messages;
repeats averaged per case). A changed prompt template, system prompt, model, params or
retrieval is the change being evaluated: it is compared, and shown beside the verdict as
provenance. Added, removed and changed-data cases are reported and left out. Per metric:
  - continuous scores: paired bootstrap CI of the mean difference, paired t-test p-value
    (analytic, so it can get as small as the evidence warrants: Holm multiplies it by the
    family size, and a bootstrap count could not go below 2/(resamples+1));
  - pass/fail scores (one repeat): McNemar's exact test on the discordant pairs;
  - latency P95: paired bootstrap of the P95 difference, p-value from its bootstrap standard
    error (normal tail); cost: paired mean difference, as for continuous scores.
All gated comparisons of a diff form one family: p-values are Holm-adjusted so the whole
gate's false-alarm rate stays at `alpha`. A metric is *regressed* only when the adjusted
p-value is below alpha AND it got worse by more than its tolerance (`max_drop` /
`max_increase`, default 0). Latency and cost are gated only when a tolerance is set;
otherwise a significant worsening is reported as *worse* and warned about. Latency is not
compared at all when the baseline was measured on another machine, unless a tolerance asks.
Verdict labels come from one table (evalkit.types.VERDICTS), whatever renders them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from pydantic import Field, PrivateAttr

from evalkit._util.models import Record, new_list
from evalkit._util.numbers import figure, figure_delta, metric_label
from evalkit.compare.baseline import Group
from evalkit.compare.records import model_versions, score_names
from evalkit.stats import (
    PairedResult,
    bootstrap_resample_means,
    holm,
    mcnemar_exact,
    mcnemar_interval,
    minimum_detectable_effect,
    paired_t,
    wald_interval,
    wald_p_value,
)
from evalkit.types import GROUP_VERDICTS, VERDICTS, GroupVerdict, Threshold, Verdict, verdict_words

if TYPE_CHECKING:
    import numpy as np

    from evalkit.compare.pairing import Column, Paired

# The words every surface (terminal, summary.md, junit.xml, report.html) shows for a verdict come
# from the one table evalkit.types.VERDICTS; renderers read them through `verdict_label`.
VERDICT_LABELS: dict[str, str] = {code: label.words for code, label in VERDICTS.items()}
VERDICT_SYMBOLS: dict[str, str] = {code: label.symbol for code, label in VERDICTS.items()}
VERDICT_TONES: dict[str, str] = {code: label.tone for code, label in VERDICTS.items()}
ALPHA = 0.05  # the gate's significance level (family-wise, Holm-adjusted); the frontier's too
SPECIAL = {"latency_p95_ms": False, "cost_per_case_usd": False}  # name → higher_is_better
# per-case timing and spend scores of traces (the `trace` scorer): like latency and cost, compared
# always but gated only when the suite sets a `max_increase` for them
TIMING_SCORES = ("trace_latency_ms", "trace_tokens", "trace_cost_usd", "step.")


class MetricDiff(Record):
    metric: str
    kind: Literal["score", "pass_fail", "latency_p95", "cost"]
    higher_is_better: bool
    baseline: float | None = None
    candidate: float | None = None
    delta: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    p_value: float | None = None
    p_adjusted: float | None = None
    n_paired: int = 0
    pass_to_fail: int | None = None
    fail_to_pass: int | None = None
    unmeasured_baseline: int = 0
    unmeasured_candidate: int = 0
    tolerance: float = 0.0
    mde: float | None = None
    gated: bool = True
    informational: bool = False  # an informational scorer: compared and shown, never gated
    verdict: Verdict = "unmeasured"
    _sd: float | None = PrivateAttr(default=None)  # sd of the paired differences, for the MDE


def verdict_label(m: MetricDiff) -> str:
    """What a person reads for a metric's verdict: what was seen, qualified (not gated, within
    tolerance, p_adj of a change the correction does not confirm)."""
    if m.verdict not in VERDICTS:  # a code this version does not know
        return m.verdict
    counts = None
    if m.kind == "pass_fail" and m.pass_to_fail is not None and m.fail_to_pass is not None:
        counts = (m.pass_to_fail, m.fail_to_pass, m.n_paired)
    return verdict_words(
        m.verdict,
        gated=m.gated,
        p_adjusted=m.p_adjusted if m.gated else None,
        p_value=m.p_value,
        cases=counts,
    )


def gate_footnote(diff: DiffReport) -> str:
    """How to read the gate's numbers, the same words on every surface."""
    level = f"{100 * (1 - diff.alpha):g}%"
    return (
        f"α = {diff.alpha:g}, verdicts Holm-adjusted over {diff.family_size} gated comparisons; "
        f"{level} intervals are unadjusted and come from each verdict's own test (paired t for "
        "scores and cost, exact McNemar for pass/fail, bootstrap standard error for latency P95)"
    )


def case_list(ids: Sequence[str], limit: int = 20) -> str:
    """Case ids for a line a person reads: the first `limit`, then how many more."""
    shown = ", ".join(ids[:limit])
    return shown + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


def case_lines(g: GroupDiff) -> list[str]:
    """The regression test's outcome of a suite × variant, one line each, for every surface:
    which cases passed in the baseline and fail now, and the reverse."""
    lines = []
    if g.pass_to_fail or g.max_new_failures is not None:
        mark = "✗ " if g.too_many_new_failures else ""
        ids = f": {case_list(g.pass_to_fail)}" if g.pass_to_fail else ""
        lines.append(f"{mark}{g.new_failures_text()}{ids}")
    if g.fail_to_pass:
        n = len(g.fail_to_pass)
        lines.append(f"{n} case{'' if n == 1 else 's'} fail → pass: {case_list(g.fail_to_pass)}")
    if g.still_failing:
        n = len(g.still_failing)
        lines.append(
            f"{n} case{'' if n == 1 else 's'} failed in the baseline too: {case_list(g.still_failing)}"
        )
    return lines


def group_label(g: GroupDiff) -> str:
    """A suite × variant's gate outcome in words, e.g. '✗ regressed' or '? inconclusive'."""
    label = GROUP_VERDICTS.get(g.verdict)
    return f"{label.symbol} {label.words}" if label else g.verdict


def provenance_text(p: Provenance) -> str:
    return f"{p.what} {p.baseline} → {p.candidate}" + (f" ({p.detail})" if p.detail else "")


class CaseChange(Record):
    case_id: str
    metric: str
    baseline: float | None
    candidate: float | None
    worse_by: float


class Provenance(Record):
    """One thing that differs between the baseline and the candidate (shown beside the verdict)."""

    what: str  # "prompt", "model", "model version", "provider", "params", "retrieval", ...
    baseline: str
    candidate: str
    detail: str | None = None  # e.g. "12 of 16 cases"
    diff: str | None = None  # a prompt change: the unified diff of the templates' text


class TruncationChange(Record):
    """Answers cut short (finish reason `length`) of the generated ones, on each side: the rate
    per suite × variant, as the summary counts it, beside the baseline's."""

    baseline_truncated: int = 0
    baseline_generated: int = 0  # answers with a known finish reason (0: a baseline saved before)
    candidate_truncated: int = 0
    candidate_generated: int = 0

    @property
    def baseline_rate(self) -> float | None:
        return self.baseline_truncated / self.baseline_generated if self.baseline_generated else None

    @property
    def candidate_rate(self) -> float | None:
        return self.candidate_truncated / self.candidate_generated if self.candidate_generated else None

    @property
    def change(self) -> float | None:
        b, c = self.baseline_rate, self.candidate_rate
        return None if b is None or c is None else c - b


def truncation_text(g: GroupDiff) -> str | None:
    """The truncation rate against the baseline's, in words for every gate surface (None when
    neither side cut an answer short)."""
    from evalkit._util.numbers import number, signed

    t = g.truncation
    if t is None or not (t.baseline_truncated or t.candidate_truncated):
        return None
    now = f"{number(t.candidate_rate, 'rate')} ({t.candidate_truncated} of {t.candidate_generated})"
    if t.baseline_rate is None:
        return f"truncated answers: {now}; the baseline kept no finish reasons"
    before = f"{number(t.baseline_rate, 'rate')} ({t.baseline_truncated} of {t.baseline_generated})"
    return f"truncated answers: {before} in the baseline → {now} ({signed(t.change, 'rate')})"


class GroupDiff(Record):
    suite: str
    variant: str
    baseline_run: str | None = None
    baseline_variant: str | None = None  # set when it differs from `variant` (evalkit diff --pair)
    paired: int = 0
    added: list[str] = Field(default_factory=new_list)
    removed: list[str] = Field(default_factory=new_list)
    changed_input: list[str] = Field(default_factory=new_list)
    metrics: list[MetricDiff] = Field(default_factory=new_list)
    top_regressions: list[CaseChange] = Field(default_factory=new_list)
    pass_to_fail: list[str] = Field(default_factory=new_list)  # passed in the baseline, fail now
    fail_to_pass: list[str] = Field(default_factory=new_list)  # failed in the baseline, pass now
    still_failing: list[str] = Field(default_factory=new_list)  # failed in both: known, not new
    # the suite's `max_new_failures` (thresholds): more pass → fail cases than this regress the
    # group, whatever the statistics say
    max_new_failures: int | None = None
    # paired generations (case × repeat) whose output text is the same on both sides: with
    # greedy decoding, the share tells whether two backends of one model really agree
    outputs_compared: int = 0
    outputs_identical: int = 0
    model_versions: tuple[list[str], list[str]] | None = None  # (baseline, candidate) when changed
    provenance: list[Provenance] = Field(default_factory=new_list)  # what changed since the baseline
    truncation: TruncationChange | None = None  # answers cut short, against the baseline
    paired_by_id_only: bool = False  # an old baseline without case digests
    warnings: list[str] = Field(default_factory=new_list)
    verdict: GroupVerdict = "ok"

    @property
    def too_many_new_failures(self) -> bool:
        return self.max_new_failures is not None and len(self.pass_to_fail) > self.max_new_failures

    def new_failures_text(self) -> str:
        """The case-level rule's outcome in words, e.g. '4 cases pass → fail (max_new_failures 0)'."""
        rule = f" (max_new_failures {self.max_new_failures})" if self.max_new_failures is not None else ""
        n = len(self.pass_to_fail)
        return f"{n} case{'' if n == 1 else 's'} pass → fail{rule}"


class DiffReport(Record):
    alpha: float
    resamples: int
    family_size: int
    groups: list[GroupDiff]
    missing_baselines: list[str] = Field(default_factory=new_list)

    @property
    def regressed(self) -> bool:
        return any(g.verdict == "regressed" for g in self.groups)

    @property
    def inconclusive(self) -> bool:
        """Nothing could be compared: no group, or a group with no paired case."""
        return not self.groups or any(g.verdict == "inconclusive" for g in self.groups)


def compare_group(
    baseline: Group,
    candidate: Group,
    thresholds: Mapping[str, Threshold],
    directions: Mapping[str, bool],
    *,
    resamples: int = 1000,
    seed: int = 0,
    alpha: float = ALPHA,
    pass_metrics: Sequence[str] | None = None,
) -> GroupDiff:
    """Everything but the family-wise adjustment and verdicts (see `decide`): the cases paired in
    one pass over both sides (`pairing.pair`), then each metric diffed, then the warnings."""
    from evalkit.compare.pairing import pair  # loaded once a group has a baseline to pair with

    names = list(dict.fromkeys([*score_names(candidate.records), *score_names(baseline.records)]))
    paired = pair(baseline.records, candidate.records, names, directions, pass_metrics)
    out = GroupDiff(
        suite=candidate.suite,
        variant=candidate.variant,
        baseline_run=baseline.meta.run_id,
        baseline_variant=baseline.variant if baseline.variant != candidate.variant else None,
        paired=paired.n,
        added=paired.added,
        removed=paired.removed,
        changed_input=paired.changed_input,
        pass_to_fail=paired.pass_to_fail,
        fail_to_pass=paired.fail_to_pass,
        still_failing=paired.still_failing,
        outputs_compared=paired.outputs_compared,
        outputs_identical=paired.outputs_identical,
        paired_by_id_only=paired.paired_by_id_only,
    )
    out.truncation = TruncationChange(
        baseline_truncated=paired.truncated[0],
        baseline_generated=paired.generated[0],
        candidate_truncated=paired.truncated[1],
        candidate_generated=paired.generated[1],
    )
    out.provenance = provenance(baseline, candidate, paired)
    for name in names:
        out.metrics.append(_score_diff(name, paired, candidate, thresholds, directions, alpha))
    latency, note = _latency_across(baseline, candidate, paired, thresholds, resamples, seed, alpha)
    out.metrics += [latency, _cost_diff(paired.cost, thresholds, alpha)]
    out.top_regressions = [
        CaseChange(case_id=case_id, metric=name, baseline=b, candidate=c, worse_by=worse_by)
        for case_id, name, b, c, worse_by in paired.top_changes()
    ]
    if any(change.what == "model version" for change in out.provenance):
        out.model_versions = (baseline.meta.model_versions, model_versions(candidate.records))
    out.warnings = _warnings(out, baseline, candidate, note)
    return out


def _warnings(out: GroupDiff, baseline: Group, candidate: Group, latency_note: str | None) -> list[str]:
    """What a person should know about a comparison before reading its verdicts."""
    warnings = [latency_note] if latency_note else []
    jb, jc = baseline.meta.judge_model, candidate.meta.judge_model
    if jb and jc and jb != jc:  # not a change being evaluated: the scores are measured differently
        warnings.append(f"judge changed: {jb} → {jc}")
    if out.paired_by_id_only:
        warnings.append("the baseline predates case digests: cases are paired by id alone")
    if out.added or out.removed or out.changed_input:
        warnings.append(
            f"{len(out.added)} added, {len(out.removed)} removed, {len(out.changed_input)} changed-data "
            "case(s) are not compared"
        )
    return warnings


def _latency_across(
    baseline: Group,
    candidate: Group,
    paired: Paired,
    thresholds: Mapping[str, Threshold],
    resamples: int,
    seed: int,
    alpha: float,
) -> tuple[MetricDiff, str | None]:
    """Latency P95 compared, and what a person should know when the machines differ."""
    latency = _latency_diff(paired.latency, thresholds, resamples, seed, alpha)
    mb, mc = baseline.meta.machine, candidate.meta.machine
    if not (mb and mc and mb != mc and latency.n_paired):
        return latency, None
    if latency.gated:
        return latency, f"latency compared across machines, as its max_increase asks ({mb} → {mc})"
    note = (
        f"latency not compared: the baseline ran on another machine ({mb}); "
        "set a max_increase on latency_p95_ms to compare it anyway"
    )
    return _lower_is_better("latency_p95_ms", "latency_p95", thresholds), note


def _score_diff(
    name: str,
    paired: Paired,
    candidate: Group,
    thresholds: Mapping[str, Threshold],
    directions: Mapping[str, bool],
    alpha: float,
) -> MetricDiff:
    """One score compared case by case: pass/fail scores (0/1 with a pass mark, one repeat) by
    McNemar's exact test and its exact interval; every other score by the paired t-test and its
    t interval: one method per family for both the test and the interval."""
    import numpy as np  # here, not at the top: `evalkit run` loads this module before its requests

    column = paired.scores[name]
    higher = directions.get(name, True)
    diff = MetricDiff(metric=name, kind="score", higher_is_better=higher)
    declared = candidate.meta.metrics.get(name)
    if declared is not None and declared.informational:
        diff.gated, diff.informational = False, True
    diff.unmeasured_baseline, diff.unmeasured_candidate = column.unmeasured_base, column.unmeasured_cand
    diff.n_paired = len(column.base)
    diff.tolerance = _tolerance(thresholds.get(name), higher)
    if name.startswith(TIMING_SCORES):
        threshold = thresholds.get(name)
        diff.gated = threshold is not None and threshold.max_increase is not None
    if not diff.n_paired:
        return diff
    bv, cv = np.frombuffer(column.base, dtype=float), np.frombuffer(column.cand, dtype=float)
    marks = None
    if paired.single_repeat and column.marked:
        marks = (
            np.frombuffer(column.base_pass, dtype=np.uint8).astype(bool),
            np.frombuffer(column.cand_pass, dtype=np.uint8).astype(bool),
        )
    paired_score_test(diff, bv, cv, marks, alpha)
    return diff


def paired_score_test(
    diff: MetricDiff,
    bv: np.ndarray,
    cv: np.ndarray,
    marks: tuple[np.ndarray, np.ndarray] | None,
    alpha: float,
) -> None:
    """The gate's paired test of one score on paired per-case values (`bv`, `cv`: repeats
    averaged per case): McNemar's exact test and interval when every case has one repeat with a
    0/1 value that is its pass mark (`marks`: boolean arrays), else the paired t-test and its t
    interval. Fills means, Δ, CI and p-value into `diff` (the frontier uses it too)."""
    import numpy as np

    _fill(diff, float(bv.mean()), float(cv.mean()), paired_t(cv - bv, alpha))
    if marks is None:
        return
    bp, cp = marks
    diff.pass_to_fail, diff.fail_to_pass, p = mcnemar_exact(bp.tolist(), cp.tolist())
    zero_one = bool(np.all((bv == 0.0) | (bv == 1.0)) and np.all((cv == 0.0) | (cv == 1.0)))
    if zero_one and np.array_equal(bp, bv == 1.0) and np.array_equal(cp, cv == 1.0):
        diff.kind, diff.p_value = "pass_fail", p
        diff.ci_low, diff.ci_high = mcnemar_interval(diff.pass_to_fail, diff.fail_to_pass, len(bv), alpha)


def _short(value: object, width: int = 60) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, ensure_ascii=False)
    return text if len(text) <= width else text[: width - 1] + "…"


def provenance(baseline: Group, candidate: Group, paired: Paired) -> list[Provenance]:
    """What differs between the two sides besides the cases: the change being evaluated."""
    out: list[Provenance] = []
    if paired.prompts_changed:
        digest_b, digest_c = paired.prompt_digests()
        out.append(
            Provenance(
                what="prompt",
                baseline=digest_b,
                candidate=digest_c,
                detail=f"{paired.prompts_changed} of {paired.n} cases",
                diff=text_diff(baseline.meta.prompt_text, candidate.meta.prompt_text),
            )
        )
    mb, mc = baseline.meta, candidate.meta
    for what, b, c in (
        ("provider", mb.provider, mc.provider),
        ("model", mb.model, mc.model),
        ("model version", ", ".join(mb.model_versions), ", ".join(model_versions(candidate.records))),
    ):
        if b and c and b != c:
            out.append(Provenance(what=what, baseline=b, candidate=c))
    keys = sorted(set(mb.params) | set(mc.params))
    if any(mb.params.get(k) != mc.params.get(k) for k in keys):
        out.append(Provenance(what="params", baseline=_short(mb.params), candidate=_short(mc.params)))
    if mb.retrieval != mc.retrieval and (mb.retrieval or mc.retrieval):
        out.append(
            Provenance(
                what="retrieval",
                baseline=_short(mb.retrieval or "none"),
                candidate=_short(mc.retrieval or "none"),
            )
        )
    latency_on_both = mb.latency_measured and mc.latency_measured  # the machine only matters then
    if latency_on_both and mb.machine and mc.machine and mb.machine != mc.machine:
        out.append(Provenance(what="machine", baseline=mb.machine, candidate=mc.machine))
    return out


def text_diff(before: str | None, after: str | None) -> str | None:
    """The unified diff of two prompt texts (None when either is unknown or they are equal: a
    changed digest with equal templates is a change in the cases' rendering)."""
    if before is None or after is None or before == after:
        return None
    import difflib

    lines = difflib.unified_diff(
        before.splitlines(), after.splitlines(), "baseline", "candidate", lineterm="", n=1
    )
    return "\n".join(lines)


def diff_preview(diff: str, lines: int = 6) -> list[str]:
    """The changed lines of a prompt diff, at most `lines` of them (the terminal's short form)."""
    changed = [line for line in diff.splitlines() if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    return changed[:lines] + (
        [f"… {len(changed) - lines} more changed lines"] if len(changed) > lines else []
    )


def _tolerance(threshold: Threshold | None, higher: bool) -> float:
    if threshold is None:
        return 0.0
    value = threshold.max_drop if higher else threshold.max_increase
    return value or 0.0


def _fill(diff: MetricDiff, baseline: float, candidate: float, result: PairedResult) -> None:
    diff.baseline, diff.candidate = baseline, candidate
    diff.delta, diff.ci_low, diff.ci_high, diff.p_value = (
        result.mean,
        result.ci_low,
        result.ci_high,
        result.p_value,
    )
    diff._sd = result.sd


def _lower_is_better(
    metric: str, kind: Literal["latency_p95", "cost"], thresholds: Mapping[str, Threshold]
) -> MetricDiff:
    """Latency and cost: compared always, gated only when the suite sets `max_increase`."""
    threshold = thresholds.get(metric)
    return MetricDiff(
        metric=metric,
        kind=kind,
        higher_is_better=False,
        gated=threshold is not None and threshold.max_increase is not None,
        tolerance=_tolerance(threshold, False),
    )


def _latency_diff(
    column: Column,
    thresholds: Mapping[str, Threshold],
    resamples: int,
    seed: int,
    alpha: float,
) -> MetricDiff:
    import numpy as np

    diff = _lower_is_better("latency_p95_ms", "latency_p95", thresholds)
    diff.n_paired = len(column.base)
    if diff.n_paired < 2:
        return diff
    both = np.column_stack((np.frombuffer(column.base, dtype=float), np.frombuffer(column.cand, dtype=float)))
    b95, c95 = (float(np.percentile(both[:, k], 95)) for k in (0, 1))
    reps = bootstrap_resample_means(
        both, resamples, np.random.default_rng(seed), statistic="percentile", q=95.0
    )
    deltas = reps[:, 1] - reps[:, 0]
    lo, hi = wald_interval(c95 - b95, deltas, alpha)
    p = wald_p_value(c95 - b95, deltas)
    diff.baseline, diff.candidate, diff.delta = b95, c95, c95 - b95
    diff.ci_low, diff.ci_high, diff.p_value = float(lo), float(hi), p
    diff._sd = float(np.std(deltas, ddof=1)) * float(np.sqrt(len(both)))  # sd-equivalent of the P95 gap
    return diff


def _cost_diff(column: Column, thresholds: Mapping[str, Threshold], alpha: float) -> MetricDiff:
    import numpy as np

    diff = _lower_is_better("cost_per_case_usd", "cost", thresholds)
    diff.n_paired = len(column.base)
    if diff.n_paired:
        bv, cv = np.frombuffer(column.base, dtype=float), np.frombuffer(column.cand, dtype=float)
        _fill(diff, float(bv.mean()), float(cv.mean()), paired_t(cv - bv, alpha))
    return diff


def decide(groups: list[GroupDiff], alpha: float = ALPHA) -> int:
    """Holm-adjust every gated comparison as one family, then give each metric its verdict."""
    gated = [m for g in groups for m in g.metrics if m.gated and m.p_value is not None]
    family = len(gated)
    for m, adjusted in zip(
        gated, holm([1.0 if m.p_value is None else m.p_value for m in gated]), strict=True
    ):
        m.p_adjusted = adjusted
    for g in groups:
        for m in g.metrics:
            metric_verdict(m, alpha, family)
            if m.verdict == "worse" and not m.gated:
                why = "informational: not gated" if m.informational else "not gated without max_increase"
                g.warnings.append(
                    f"{metric_label(m.metric)} got significantly worse ({figure_delta(m.metric, m.delta)}); "
                    + why
                )
            if m.gated and m.tolerance > 0 and m.mde is not None and m.mde > m.tolerance:
                g.warnings.append(
                    f"{metric_label(m.metric)}: with {m.n_paired} cases the gate only detects changes ≥ "
                    f"{figure(m.metric, m.mde)}, more than the tolerance {figure(m.metric, m.tolerance)}: "
                    "add cases or raise the tolerance"
                )
        g.verdict = _group_verdict(g)
    return family


def _group_verdict(g: GroupDiff) -> GroupVerdict:
    verdicts = {m.verdict for m in g.metrics if m.gated}
    if "regressed" in verdicts or g.too_many_new_failures:
        return "regressed"
    if g.paired == 0:
        return "inconclusive"
    return "improved" if "improved" in verdicts else "ok"


def in_order(
    diff: DiffReport, groups: Sequence[tuple[str, str]], metric_names: Sequence[str]
) -> list[GroupDiff]:
    """The diff's groups and metrics in the order the summary shows them (suite × variant,
    then its metrics; latency and cost last), so every surface lists them alike."""
    where = {key: k for k, key in enumerate(groups)}
    names = list(metric_names)

    def rank(m: MetricDiff) -> int:
        return names.index(m.metric) if m.metric in names else len(names)

    ordered = sorted(diff.groups, key=lambda g: where.get((g.suite, g.variant), len(where)))
    return [g.model_copy(update={"metrics": sorted(g.metrics, key=rank)}) for g in ordered]


def metric_verdict(m: MetricDiff, alpha: float, family: int) -> None:
    """What was seen, honestly labelled: the decision uses the Holm-adjusted p-value; a change
    it does not confirm is 'worse/better, not significant' (never 'no change': the interval
    beside it may exclude 0 when only the correction removes it); 'unchanged' is a zero change."""
    if m.p_value is None or m.delta is None:
        m.verdict = "unmeasured"
        return
    if m._sd is not None and m.n_paired >= 2:
        m.mde = minimum_detectable_effect(m._sd, m.n_paired, alpha / max(family, 1))
    p = m.p_adjusted if m.gated else m.p_value
    worse_by = -m.delta if m.higher_is_better else m.delta
    significant = p is not None and p < alpha
    if significant and worse_by > m.tolerance:
        m.verdict = "regressed" if m.gated else "worse"
    elif significant and worse_by > 0:
        m.verdict = "worse"  # within the tolerance
    elif significant and worse_by < 0:
        m.verdict = "improved"
    elif worse_by > 0:
        m.verdict = "worse_ns"  # seen, not significant (after the correction, or at all)
    elif worse_by < 0:
        m.verdict = "better_ns"
    else:
        m.verdict = "unchanged"


@dataclass(frozen=True)
class CaseRule:
    """How a suite × variant judges cases: its pass rule (None: every pass mark) and the most
    cases that may go pass → fail (None: no such rule)."""

    pass_metrics: Sequence[str] | None = None
    max_new_failures: int | None = None


def diff_runs(
    baselines: Sequence[Group | None],
    candidates: Sequence[Group],
    thresholds: Mapping[str, Mapping[str, Threshold]],
    *,
    alpha: float = ALPHA,
    resamples: int = 1000,
    seed: int = 0,
    case_rules: Mapping[tuple[str, str], CaseRule] | None = None,
) -> DiffReport:
    """Pair each candidate group with its baseline (None: reported as missing) and diff them."""
    pairs = []
    missing = []
    for base, cand in zip(baselines, candidates, strict=True):
        if base is None:
            missing.append(f"{cand.suite} · {cand.variant}")
            continue
        directions = {n: m.higher_is_better for n, m in {**base.meta.metrics, **cand.meta.metrics}.items()}
        pairs.append((base, cand, thresholds.get(cand.suite, {}), directions))
    report = diff_groups(pairs, alpha=alpha, resamples=resamples, seed=seed, case_rules=case_rules)
    report.missing_baselines = missing
    return report


def diff_groups(
    pairs: Sequence[tuple[Group, Group, Mapping[str, Threshold], Mapping[str, bool]]],
    *,
    alpha: float = ALPHA,
    resamples: int = 1000,
    seed: int = 0,
    case_rules: Mapping[tuple[str, str], CaseRule] | None = None,
) -> DiffReport:
    groups = []
    for b, c, t, d in pairs:
        rule = (case_rules or {}).get((c.suite, c.variant), CaseRule())
        g = compare_group(
            b, c, t, d, resamples=resamples, seed=seed, alpha=alpha, pass_metrics=rule.pass_metrics
        )
        g.max_new_failures = rule.max_new_failures
        groups.append(g)
    family = decide(groups, alpha)
    return DiffReport(alpha=alpha, resamples=resamples, family_size=family, groups=groups)
