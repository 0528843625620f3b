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

import hashlib
import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from evalkit._util.numbers import figure, figure_delta, metric_label
from evalkit.compare.baseline import CaseRecord, Group
from evalkit.stats import (
    PairedResult,
    bootstrap_resample_means,
    holm,
    mcnemar_exact,
    minimum_detectable_effect,
    paired_bootstrap,
    wald_p_value,
)
from evalkit.types import GROUP_VERDICTS, VERDICTS, GroupVerdict, Threshold, Verdict, verdict_words

# The words every surface (terminal, summary.md, junit.xml, report.html) shows for a verdict come
# from the one table evalkit.types.VERDICTS; renderers read them through `verdict_label`.
VERDICT_LABELS: dict[str, str] = {code: label.words for code, label in VERDICTS.items()}
VERDICT_SYMBOLS: dict[str, str] = {code: label.symbol for code, label in VERDICTS.items()}
VERDICT_TONES: dict[str, str] = {code: label.tone for code, label in VERDICTS.items()}
SPECIAL = {"latency_p95_ms": False, "cost_per_case_usd": False}  # name → higher_is_better
# per-case timing and spend scores of traces (the `trace` scorer): like latency and cost, compared
# always but gated only when the suite sets a `max_increase` for them
TIMING_SCORES = ("trace_latency_ms", "trace_tokens", "trace_cost_usd", "step.")


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MetricDiff(Model):
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
    return verdict_words(m.verdict, gated=m.gated, p_adjusted=m.p_adjusted if m.gated else m.p_value)


def group_label(g: GroupDiff) -> str:
    """A suite × variant's gate outcome in words, e.g. '✗ regressed' or '? inconclusive'."""
    label = GROUP_VERDICTS.get(g.verdict)
    return f"{label.symbol} {label.words}" if label else g.verdict


def provenance_text(p: Provenance) -> str:
    return f"{p.what} {p.baseline} → {p.candidate}" + (f" ({p.detail})" if p.detail else "")


class CaseChange(Model):
    case_id: str
    metric: str
    baseline: float | None
    candidate: float | None
    worse_by: float


class Provenance(Model):
    """One thing that differs between the baseline and the candidate (shown beside the verdict)."""

    what: str  # "prompt", "model", "model version", "provider", "params", "retrieval", ...
    baseline: str
    candidate: str
    detail: str | None = None  # e.g. "12 of 16 cases"


class GroupDiff(Model):
    suite: str
    variant: str
    baseline_run: str | None = None
    baseline_variant: str | None = None  # set when it differs from `variant` (evalkit diff --pair)
    paired: int = 0
    added: list[str] = Field(default_factory=list)
    removed: list[str] = Field(default_factory=list)
    changed_input: list[str] = Field(default_factory=list)
    metrics: list[MetricDiff] = Field(default_factory=list)
    top_regressions: list[CaseChange] = Field(default_factory=list)
    pass_to_fail: list[str] = Field(default_factory=list)
    # paired generations (case × repeat) whose output text is the same on both sides: with
    # greedy decoding, the share tells whether two backends of one model really agree
    outputs_compared: int = 0
    outputs_identical: int = 0
    model_versions: tuple[list[str], list[str]] | None = None  # (baseline, candidate) when changed
    provenance: list[Provenance] = Field(default_factory=list)  # what changed since the baseline
    paired_by_id_only: bool = False  # an old baseline without case digests
    warnings: list[str] = Field(default_factory=list)
    verdict: GroupVerdict = "ok"


class DiffReport(Model):
    alpha: float
    resamples: int
    family_size: int
    groups: list[GroupDiff]
    missing_baselines: list[str] = Field(default_factory=list)

    @property
    def regressed(self) -> bool:
        return any(g.verdict == "regressed" for g in self.groups)

    @property
    def inconclusive(self) -> bool:
        """Nothing could be compared: no group, or a group with no paired case."""
        return not self.groups or any(g.verdict == "inconclusive" for g in self.groups)


def _per_case(records: Sequence[CaseRecord]) -> dict[str, list[CaseRecord]]:
    by_case: dict[str, list[CaseRecord]] = defaultdict(list)
    for r in records:
        by_case[r.case_id].append(r)
    return by_case


def _mean(values: Sequence[float | None]) -> float | None:
    measured = [v for v in values if v is not None]
    return sum(measured) / len(measured) if measured else None


def _case_pass(records: Sequence[CaseRecord]) -> bool | None:
    flags = [all(r.passed.values()) for r in records if r.passed and r.error is None]
    return all(flags) if flags else None


def compare_group(
    baseline: Group,
    candidate: Group,
    thresholds: Mapping[str, Threshold],
    directions: Mapping[str, bool],
    *,
    resamples: int = 1000,
    seed: int = 0,
) -> GroupDiff:
    """Everything but the family-wise adjustment and verdicts (see `decide`)."""
    import numpy as np  # here, not at the top: `evalkit run` loads this module before its requests

    base, cand = _per_case(baseline.records), _per_case(candidate.records)
    out = GroupDiff(suite=candidate.suite, variant=candidate.variant, baseline_run=baseline.meta.run_id)
    if baseline.variant != candidate.variant:
        out.baseline_variant = baseline.variant
    out.added = sorted(set(cand) - set(base))
    out.removed = sorted(set(base) - set(cand))
    paired_ids = []
    for case_id in sorted(set(base) & set(cand)):
        hb = {r.case_hash for r in base[case_id]}
        hc = {r.case_hash for r in cand[case_id]}
        if None in hb | hc:
            out.paired_by_id_only = True
        if None not in hb | hc and hb != hc:
            out.changed_input.append(case_id)
        else:
            paired_ids.append(case_id)
    out.paired = len(paired_ids)
    out.provenance = provenance(baseline, candidate, base, cand, paired_ids)
    for case_id in paired_ids:
        base_out = {r.repeat: r.output for r in base[case_id] if r.output is not None}
        for r in cand[case_id]:
            if r.output is not None and r.repeat in base_out:
                out.outputs_compared += 1
                out.outputs_identical += r.output == base_out[r.repeat]

    names: list[str] = []
    for r in (*candidate.records, *baseline.records):
        names += [n for n in r.scores if n not in names]
    single_repeat = all(len(base[c]) == 1 and len(cand[c]) == 1 for c in paired_ids)
    changes: list[CaseChange] = []
    for name in names:
        higher = directions.get(name, True)
        diff = MetricDiff(metric=name, kind="score", higher_is_better=higher)
        declared = candidate.meta.metrics.get(name)
        if declared is not None and declared.informational:
            diff.gated, diff.informational = False, True
        b_vals = {c: _mean([r.scores.get(name) for r in base[c]]) for c in paired_ids}
        c_vals = {c: _mean([r.scores.get(name) for r in cand[c]]) for c in paired_ids}
        both = [c for c in paired_ids if b_vals[c] is not None and c_vals[c] is not None]
        diff.unmeasured_baseline = sum(1 for c in paired_ids if b_vals[c] is None)
        diff.unmeasured_candidate = sum(1 for c in paired_ids if c_vals[c] is None)
        diff.n_paired = len(both)
        diff.tolerance = _tolerance(thresholds.get(name), higher)
        if name.startswith(TIMING_SCORES):
            threshold = thresholds.get(name)
            diff.gated = threshold is not None and threshold.max_increase is not None
        if both:
            bv = np.array([b_vals[c] for c in both], dtype=float)
            cv = np.array([c_vals[c] for c in both], dtype=float)
            result = paired_bootstrap(cv - bv, resamples, seed)
            _fill(diff, float(bv.mean()), float(cv.mean()), result)
            is_pass_fail = single_repeat and all(name in r.passed for c in both for r in (*base[c], *cand[c]))
            if is_pass_fail:
                diff.kind = "pass_fail"
                bp = [base[c][0].passed[name] for c in both]
                cp = [cand[c][0].passed[name] for c in both]
                diff.pass_to_fail, diff.fail_to_pass, diff.p_value = mcnemar_exact(bp, cp)
            sign = 1.0 if higher else -1.0
            for case_id, b, c in zip(both, bv, cv, strict=True):
                worse_by = sign * (b - c)
                if worse_by > 0:
                    changes.append(
                        CaseChange(case_id=case_id, metric=name, baseline=b, candidate=c, worse_by=worse_by)
                    )
        out.metrics.append(diff)

    latency = _latency_diff(base, cand, paired_ids, thresholds, resamples, seed)
    mb, mc = baseline.meta.machine, candidate.meta.machine
    if mb and mc and mb != mc and latency.n_paired:
        if latency.gated:
            out.warnings.append(f"latency compared across machines, as its max_increase asks ({mb} → {mc})")
        else:
            latency = _lower_is_better("latency_p95_ms", "latency_p95", thresholds)
            out.warnings.append(
                f"latency not compared: the baseline ran on another machine ({mb}); "
                "set a max_increase on latency_p95_ms to compare it anyway"
            )
    out.metrics.append(latency)
    out.metrics.append(_cost_diff(base, cand, paired_ids, thresholds, resamples, seed))
    out.top_regressions = sorted(changes, key=lambda ch: -ch.worse_by)[:10]
    for case_id in paired_ids:
        if _case_pass(base[case_id]) is True and _case_pass(cand[case_id]) is False:
            out.pass_to_fail.append(case_id)

    for change in out.provenance:
        if change.what == "model version":
            out.model_versions = (baseline.meta.model_versions, _model_versions(candidate))
    jb, jc = baseline.meta.judge_model, candidate.meta.judge_model
    if jb and jc and jb != jc:  # not a change being evaluated: the scores are measured differently
        out.warnings.append(f"judge changed: {jb} → {jc}")
    if out.paired_by_id_only:
        out.warnings.append("the baseline predates case digests: cases are paired by id alone")
    if out.added or out.removed or out.changed_input:
        out.warnings.append(
            f"{len(out.added)} added, {len(out.removed)} removed, {len(out.changed_input)} changed-data "
            "case(s) are not compared"
        )
    return out


def _model_versions(group: Group) -> list[str]:
    return sorted({r.model_version for r in group.records if r.model_version})


def _short(value: object, width: int = 60) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, ensure_ascii=False)
    return text if len(text) <= width else text[: width - 1] + "…"


def provenance(
    baseline: Group,
    candidate: Group,
    base: Mapping[str, list[CaseRecord]],
    cand: Mapping[str, list[CaseRecord]],
    paired_ids: Sequence[str],
) -> list[Provenance]:
    """What differs between the two sides besides the cases: the change being evaluated."""
    out: list[Provenance] = []
    prompts_b = {c: {r.input_hash for r in base[c]} for c in paired_ids}
    prompts_c = {c: {r.input_hash for r in cand[c]} for c in paired_ids}
    changed = [
        c for c in paired_ids if None not in prompts_b[c] | prompts_c[c] and prompts_b[c] != prompts_c[c]
    ]
    if changed:
        out.append(
            Provenance(
                what="prompt",
                baseline=_digest(prompts_b),
                candidate=_digest(prompts_c),
                detail=f"{len(changed)} of {len(paired_ids)} cases",
            )
        )
    mb, mc = baseline.meta, candidate.meta
    for what, b, c in (
        ("provider", mb.provider, mc.provider),
        ("model", mb.model, mc.model),
        ("model version", ", ".join(mb.model_versions), ", ".join(_model_versions(candidate))),
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


def _digest(prompts: Mapping[str, set[str | None]]) -> str:
    text = "\n".join(f"{c}:{sorted(str(h) for h in hs)}" for c, hs in sorted(prompts.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:8]


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
    base: Mapping[str, list[CaseRecord]],
    cand: Mapping[str, list[CaseRecord]],
    ids: Sequence[str],
    thresholds: Mapping[str, Threshold],
    resamples: int,
    seed: int,
) -> MetricDiff:
    import numpy as np

    diff = _lower_is_better("latency_p95_ms", "latency_p95", thresholds)

    def latency(records: Sequence[CaseRecord]) -> float | None:
        return _mean(
            [r.latency_ms for r in records if r.error is None and (not r.cached or r.latency_kept_from)]
        )

    pairs = [(latency(base[c]), latency(cand[c])) for c in ids]
    both = np.array([(b, c) for b, c in pairs if b is not None and c is not None], dtype=float)
    diff.n_paired = len(both)
    if len(both) < 2:
        return diff
    b95, c95 = (float(np.percentile(both[:, k], 95)) for k in (0, 1))
    reps = bootstrap_resample_means(
        both, resamples, np.random.default_rng(seed), statistic="percentile", q=95.0
    )
    deltas = reps[:, 1] - reps[:, 0]
    lo, hi = np.percentile(deltas, [2.5, 97.5])
    p = wald_p_value(c95 - b95, deltas)
    diff.baseline, diff.candidate, diff.delta = b95, c95, c95 - b95
    diff.ci_low, diff.ci_high, diff.p_value = float(lo), float(hi), p
    diff._sd = float(np.std(deltas, ddof=1)) * float(np.sqrt(len(both)))  # sd-equivalent of the P95 gap
    return diff


def _cost_diff(
    base: Mapping[str, list[CaseRecord]],
    cand: Mapping[str, list[CaseRecord]],
    ids: Sequence[str],
    thresholds: Mapping[str, Threshold],
    resamples: int,
    seed: int,
) -> MetricDiff:
    import numpy as np

    diff = _lower_is_better("cost_per_case_usd", "cost", thresholds)
    pairs = [(_mean([r.cost_usd for r in base[c]]), _mean([r.cost_usd for r in cand[c]])) for c in ids]
    both = [(b, c) for b, c in pairs if b is not None and c is not None]
    diff.n_paired = len(both)
    if both:
        bv = np.array([b for b, _ in both])
        cv = np.array([c for _, c in both])
        _fill(diff, float(bv.mean()), float(cv.mean()), paired_bootstrap(cv - bv, resamples, seed))
    return diff


def decide(groups: list[GroupDiff], alpha: float = 0.05) -> int:
    """Holm-adjust every gated comparison as one family, then give each metric its verdict."""
    gated = [m for g in groups for m in g.metrics if m.gated and m.p_value is not None]
    family = len(gated)
    for m, adjusted in zip(
        gated, holm([1.0 if m.p_value is None else m.p_value for m in gated]), strict=True
    ):
        m.p_adjusted = adjusted
    for g in groups:
        for m in g.metrics:
            _metric_verdict(m, alpha, family)
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
        verdicts = {m.verdict for m in g.metrics if m.gated}
        if "regressed" in verdicts:
            g.verdict = "regressed"
        elif g.paired == 0:
            g.verdict = "inconclusive"
        elif "improved" in verdicts:
            g.verdict = "improved"
        else:
            g.verdict = "ok"
    return family


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


def _metric_verdict(m: MetricDiff, alpha: float, family: int) -> None:
    """What was seen, honestly labelled: the decision uses the Holm-adjusted p-value, and a
    change that only the uncorrected test sees is called so (worse_ns / better_ns)."""
    if m.p_value is None or m.delta is None:
        m.verdict = "unmeasured"
        return
    if m._sd is not None and m.n_paired >= 2:
        m.mde = minimum_detectable_effect(m._sd, m.n_paired, alpha / max(family, 1))
    p = m.p_adjusted if m.gated else m.p_value
    worse_by = -m.delta if m.higher_is_better else m.delta
    significant = p is not None and p < alpha
    raw_significant = m.p_value < alpha
    if significant and worse_by > m.tolerance:
        m.verdict = "regressed" if m.gated else "worse"
    elif significant and worse_by > 0:
        m.verdict = "worse"  # within the tolerance
    elif significant and worse_by < 0:
        m.verdict = "improved"
    elif raw_significant and worse_by > 0:
        m.verdict = "worse_ns"
    elif raw_significant and worse_by < 0:
        m.verdict = "better_ns"
    else:
        m.verdict = "unchanged"


def diff_runs(
    baselines: Sequence[Group | None],
    candidates: Sequence[Group],
    thresholds: Mapping[str, Mapping[str, Threshold]],
    *,
    alpha: float = 0.05,
    resamples: int = 1000,
    seed: int = 0,
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
    report = diff_groups(pairs, alpha=alpha, resamples=resamples, seed=seed)
    report.missing_baselines = missing
    return report


def diff_groups(
    pairs: Sequence[tuple[Group, Group, Mapping[str, Threshold], Mapping[str, bool]]],
    *,
    alpha: float = 0.05,
    resamples: int = 1000,
    seed: int = 0,
) -> DiffReport:
    groups = [compare_group(b, c, t, d, resamples=resamples, seed=seed) for b, c, t, d in pairs]
    family = decide(groups, alpha)
    return DiffReport(alpha=alpha, resamples=resamples, family_size=family, groups=groups)
