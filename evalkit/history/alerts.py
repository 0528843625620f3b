"""Alert rules: does the newest run break its suite × variant's recent trend?

Pure functions over `Point`s (one run of one suite × variant), so the simulation benchmark
and the tests drive exactly the code that runs after `evalkit run`.

Quality: the same cases are re-run every time, so a run is compared case by case with the
trailing level of each case (the mean over the previous `window` runs). The differences' own
standard error is the noise, and a one-sided paired t-test at `alpha` decides. Pairing removes
the spread between easy and hard cases, which dominates a run's standard error but does not
change from run to run; a control chart on run means (Shewhart, EWMA, CUSUM) has only the
run's standard error to go by and needs several runs to see a 2-SE step at a 1 % false-alert
rate. When too few cases pair up (a suite was rewritten), run means are compared using each
run's own standard error instead.

Spikes: latency P95 and cost per case against `factor` × their trailing median (robust to one
earlier spike); errors, retrieval failures and unmeasured scores with an exact conditional
binomial test of the new run's count against the trailing runs' (two Poisson rates), plus a
minimum increase so that a tiny suite's single error is not an alarm.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from evalkit.history.settings import AlertRules, RateRule, RatioRule

Severity = Literal["warning", "info"]


@dataclass
class Point:
    """One suite × variant in one run: its figures and per-case scores (mean over repeats)."""

    run_id: str
    figures: dict[str, Any]  # a run_groups row
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)  # name → run_metrics row
    cases: dict[str, dict[str, float]] = field(default_factory=dict)  # metric → case id → value


@dataclass
class Alert:
    rule: str
    severity: Severity
    suite: str
    variant: str
    run_id: str
    message: str
    metric: str | None = None
    value: float | None = None
    trailing: float | None = None
    p_value: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def evaluate(current: Point, earlier: Sequence[Point], rules: AlertRules) -> list[Alert]:
    """Every rule on the newest point against up to `rules.window` earlier points."""
    trailing = list(earlier)[-rules.window :]
    out: list[Alert] = []
    if rules.model_change.enabled and earlier:
        out += model_change(current, earlier[-1])
    if len(trailing) < rules.min_history:
        return out
    if rules.quality.enabled:
        for name in current.metrics:
            alert = quality(current, trailing, name, rules)
            if alert is not None:
                out.append(alert)
    for key, rule, label in (
        ("latency_p95_ms", rules.latency_p95, "latency P95"),
        ("cost_per_case_usd", rules.cost_per_case, "cost per case"),
    ):
        alert = ratio_spike(current, trailing, key, rule, label)
        if alert is not None:
            out.append(alert)
    for key, rate_rule, label in (
        ("errors", rules.error_rate, "error rate"),
        ("retrieval_failures", rules.retrieval_failure_rate, "retrieval-failure rate"),
        ("unmeasured", rules.unmeasured_rate, "unmeasured-score rate"),
    ):
        alert = rate_spike(current, trailing, key, rate_rule, label)
        if alert is not None:
            out.append(alert)
    return out


def _alert(current: Point, rule: str, message: str, **kw: Any) -> Alert:
    f = current.figures
    severity: Severity = kw.pop("severity", "warning")
    return Alert(rule, severity, f["suite"], f["variant"], current.run_id, message, **kw)


def quality(current: Point, trailing: Sequence[Point], name: str, rules: AlertRules) -> Alert | None:
    m = current.metrics[name]
    if m.get("mean") is None:
        return None
    higher = bool(m.get("higher_is_better", True))
    past = [p.metrics[name] for p in trailing if p.metrics.get(name, {}).get("mean") is not None]
    if len(past) < rules.min_history:
        return None
    level = statistics.fmean(p["mean"] for p in past)
    diffs = paired_differences(current, trailing, name)
    if len(diffs) >= rules.quality.min_cases:
        p = paired_p_value(diffs, higher)
        how = f"paired over {len(diffs)} cases"
    else:
        p = unpaired_p_value(m, past, higher)
        how = "run means, each with its own standard error"
    if p is None or p >= rules.quality.alpha:
        return None
    word = "below" if higher else "above"
    return _alert(
        current,
        "quality",
        f"{name} {fmt(m['mean'])} {word} its trailing level {fmt(level)} ({how}, p {fmt_p(p)})",
        metric=name,
        value=m["mean"],
        trailing=level,
        p_value=p,
    )


def paired_differences(current: Point, trailing: Sequence[Point], name: str) -> list[float]:
    now = current.cases.get(name, {})
    sums: dict[str, list[float]] = {}
    for point in trailing:
        for case_id, value in point.cases.get(name, {}).items():
            sums.setdefault(case_id, []).append(value)
    return [now[c] - statistics.fmean(v) for c, v in sums.items() if c in now]


def paired_p_value(diffs: Sequence[float], higher_is_better: bool) -> float | None:
    """One-sided p-value that the mean difference is as bad as observed by chance (t-test)."""
    from scipy.stats import t as student_t

    n = len(diffs)
    mean = statistics.fmean(diffs)
    sd = statistics.stdev(diffs) if n > 1 else 0.0
    worse = mean < 0 if higher_is_better else mean > 0
    if sd == 0:
        return 0.0 if worse and mean != 0 else 1.0
    stat = mean / (sd / math.sqrt(n))
    return float(student_t.cdf(stat, n - 1) if higher_is_better else student_t.sf(stat, n - 1))


def unpaired_p_value(m: dict[str, Any], past: Sequence[dict[str, Any]], higher: bool) -> float | None:
    from scipy.stats import norm

    def se(row: dict[str, Any]) -> float | None:
        n, std = row.get("n") or 0, row.get("std")
        return std / math.sqrt(n) if std is not None and n > 1 else None

    errors = [se(p) for p in past]
    own = se(m)
    if own is None or any(e is None for e in errors):
        return None
    level = statistics.fmean(p["mean"] for p in past)
    level_se2 = statistics.fmean(e * e for e in errors if e is not None) / len(errors)
    scale = math.sqrt(own * own + level_se2)
    if scale == 0:
        return None
    z = (m["mean"] - level) / scale
    return float(norm.cdf(z) if higher else norm.sf(z))


def ratio_spike(
    current: Point, trailing: Sequence[Point], key: str, rule: RatioRule, label: str
) -> Alert | None:
    value = current.figures.get(key)
    past = [p.figures[key] for p in trailing if p.figures.get(key) is not None]
    if not rule.enabled or value is None or len(past) < 1:
        return None
    level = statistics.median(past)
    if level <= 0 or value <= rule.factor * level:
        return None
    return _alert(
        current,
        key.removesuffix("_ms").removesuffix("_usd"),
        f"{label} {fmt(value)} is {value / level:.1f}× its trailing median {fmt(level)} "
        f"(rule: above {rule.factor:g}×)",
        metric=key,
        value=value,
        trailing=level,
    )


def rate_spike(
    current: Point, trailing: Sequence[Point], key: str, rule: RateRule, label: str
) -> Alert | None:
    from scipy.stats import binom

    x, n = current.figures.get(key), current.figures.get("results") or 0
    past = [
        (p.figures[key], p.figures.get("results") or 0) for p in trailing if p.figures.get(key) is not None
    ]
    if not rule.enabled or x is None or n == 0 or not past:
        return None
    y, m = sum(c for c, _ in past), sum(r for _, r in past)
    if m == 0:
        return None
    rate, before = x / n, y / m
    if rate - before < rule.min_increase or x == 0:
        return None
    # given x + y events in n + m cases, x is Binomial(x + y, n / (n + m)) when the rate is unchanged
    p = float(binom.sf(x - 1, x + y, n / (n + m)))
    if p >= rule.alpha:
        return None
    return _alert(
        current,
        key if key != "errors" else "error_rate",
        f"{label} {rate:.1%} ({x} of {n}) against {before:.1%} in the trailing {len(past)} runs "
        f"(p {fmt_p(p)})",
        metric=key,
        value=rate,
        trailing=before,
        p_value=p,
    )


def model_change(current: Point, previous: Point) -> list[Alert]:
    now, before = model_identity(current.figures), model_identity(previous.figures)
    if not now or not before or now == before:
        return []
    return [
        _alert(
            current,
            "model_change",
            f"model changed: {', '.join(before)} → {', '.join(now)}",
            severity="info",
        )
    ]


def model_identity(figures: dict[str, Any]) -> list[str]:
    return list(figures.get("model_versions") or figures.get("models") or [])


def fmt(value: float) -> str:
    """A figure for people: fixed-point, never scientific notation."""
    if value == 0 or abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    digits = max(3, 2 - math.floor(math.log10(abs(value))))
    return f"{value:.{min(digits, 8)}f}"


def fmt_p(p: float) -> str:
    return "< 0.0001" if p < 0.0001 else f"= {p:.4f}"
