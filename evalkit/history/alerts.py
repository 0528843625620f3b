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
minimum increase; truncated answers (finish reason `length`) the same way, as a share of the
generated answers so that a tiny suite's single error is not an alarm.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from evalkit.spec.history import AlertRules, RateRule, RatioRule

Severity = Literal["warning", "info"]
SHRINK = 4  # pseudo-runs of the suite's average variance added to each case's own


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
    unit: str | None = None  # of value and trailing: "ms", "USD", "share"; None for a score

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def evaluate(current: Point, earlier: Sequence[Point], rules: AlertRules) -> list[Alert]:
    """Every rule on the newest point against up to `rules.window` earlier points (one more
    for the two-run quality test)."""
    trailing = list(earlier)[-rules.window :]
    out: list[Alert] = []
    if rules.model_change.enabled and earlier:
        out += model_change(current, earlier[-1])
    if len(trailing) < rules.min_history:
        return out
    if rules.quality.enabled:
        for name in current.metrics:
            alert = quality(current, earlier, name, rules)
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
        ("truncated", rules.truncation_rate, "truncation rate"),
    ):
        alert = rate_spike(current, earlier, key, rate_rule, label, rules.window)
        if alert is not None:
            out.append(alert)
    return out


def _alert(current: Point, rule: str, message: str, **kw: Any) -> Alert:
    f = current.figures
    severity: Severity = kw.pop("severity", "warning")
    return Alert(rule, severity, f["suite"], f["variant"], current.run_id, message, **kw)


def quality(current: Point, earlier: Sequence[Point], name: str, rules: AlertRules) -> Alert | None:
    """The newest run alone, or the last two runs together (Stouffer's z: a step is confirmed
    by the run after it), below the trailing level by more than their own noise."""
    trailing = list(earlier)[-rules.window :]
    now = quality_z(current, trailing, name, rules)
    if now is None:
        return None
    z, how, level = now
    p = _phi(z)
    before = None
    if len(earlier) > rules.min_history:
        before = quality_z(earlier[-1], list(earlier)[-rules.window - 1 : -1], name, rules)
    if before is not None and z < -1:  # the newest run must itself lean the same way
        paired = _phi((z + before[0]) / math.sqrt(2))
        if paired < p:
            p, how = paired, how + ", with the run before"
    if p >= rules.quality.alpha:
        return None
    m = current.metrics[name]
    word = "below" if m.get("higher_is_better", True) else "above"
    return _alert(
        current,
        "quality",
        f"{name} {fmt(m['mean'])} {word} its trailing level {fmt(level)} ({how}, p {fmt_p(p)})",
        metric=name,
        value=m["mean"],
        trailing=level,
        p_value=p,
    )


def quality_z(
    current: Point, trailing: Sequence[Point], name: str, rules: AlertRules
) -> tuple[float, str, float] | None:
    """(z, how it was measured, trailing level): z < 0 means worse than the trailing level."""
    m = current.metrics.get(name)
    if m is None or m.get("mean") is None:
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
    if p is None:
        return None
    return _z(p), how, level


def _z(p: float) -> float:
    """The standard normal quantile (the standard library's, as exact as scipy's: importing
    scipy.stats cost a second per run for two functions)."""
    return statistics.NormalDist().inv_cdf(min(max(p, 1e-300), 1 - 1e-16))


def _phi(z: float) -> float:
    """The standard normal CDF through erfc, exact far into the lower tail (unlike 1 + erf)."""
    return 0.5 * math.erfc(-z / math.sqrt(2))


def paired_differences(current: Point, trailing: Sequence[Point], name: str) -> list[tuple[float, float]]:
    """Per case in both: (score − its trailing mean, the variance of that difference as the
    trailing runs show it). A case's own run-to-run variance from a few runs is often 0 (a
    case that passed 10 times in a row), so it is shrunk towards the suite's average variance."""
    now = current.cases.get(name, {})
    seen: dict[str, list[float]] = {}
    for point in trailing:
        for case_id, value in point.cases.get(name, {}).items():
            seen.setdefault(case_id, []).append(value)
    stats = []
    for case_id, values in seen.items():
        if case_id in now:
            k = len(values)
            mean = sum(values) / k
            spread = sum((v - mean) ** 2 for v in values) / (k - 1) if k > 1 else None
            stats.append((now[case_id] - mean, spread, k))
    known = [v for _, v, _ in stats if v is not None]
    pooled = sum(known) / len(known) if known else 0.0
    return [
        (d, ((k - 1) * (v if v is not None else pooled) + SHRINK * pooled) / (k - 1 + SHRINK) * (1 + 1 / k))
        for d, v, k in stats
    ]


def paired_p_value(pairs: Sequence[tuple[float, float]], higher_is_better: bool) -> float | None:
    """One-sided p-value of a mean difference this bad by chance, with the noise of the run's
    mean difference taken from the trailing runs' run-to-run variance of each case."""
    n = len(pairs)
    mean = sum(d for d, _ in pairs) / n
    se = math.sqrt(sum(v for _, v in pairs)) / n
    worse = mean < 0 if higher_is_better else mean > 0
    if se == 0:
        return 0.0 if worse and mean != 0 else 1.0
    return _phi(mean / se if higher_is_better else -mean / se)


def unpaired_p_value(m: dict[str, Any], past: Sequence[dict[str, Any]], higher: bool) -> float | None:
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
    return _phi(z) if higher else _phi(-z)


def ratio_spike(
    current: Point, trailing: Sequence[Point], key: str, rule: RatioRule, label: str
) -> Alert | None:
    """Above `factor` × the trailing median, and outside the trailing runs' own spread (a
    one-sided t prediction interval on the log scale at `alpha`)."""
    value = current.figures.get(key)
    past = [p.figures[key] for p in trailing if p.figures.get(key) is not None and p.figures[key] > 0]
    if not rule.enabled or value is None or len(past) < 2:
        return None
    level = statistics.median(past)
    if value <= rule.factor * level:
        return None
    p = _prediction_p(math.log(value), [math.log(v) for v in past])
    if p >= rule.alpha:
        return None
    unit = "ms" if key.endswith("_ms") else "USD"
    return _alert(
        current,
        key.removesuffix("_ms").removesuffix("_usd"),
        f"{label} {with_unit(value, unit)} is {value / level:.1f}× its trailing median "
        f"{with_unit(level, unit)} (rule: above {rule.factor:g}×, p {fmt_p(p)})",
        metric=key,
        value=value,
        trailing=level,
        p_value=p,
        unit=unit,
    )


def with_unit(value: float, unit: str) -> str:
    """A figure with its unit, as every other surface writes it: '314 ms', '$0.00123'."""
    from evalkit._util.numbers import number

    return f"{number(value, 'ms')} ms" if unit == "ms" else number(value, "cost")


def _prediction_p(x: float, past: Sequence[float]) -> float:
    """How likely a new value this high is, given the earlier ones (Student t prediction)."""
    from scipy.special import stdtr  # Student t CDF; only a spiking ratio gets here

    k = len(past)
    sd = statistics.stdev(past)
    if sd == 0:
        return 0.0 if x > past[0] else 1.0
    return float(stdtr(k - 1, -(x - statistics.fmean(past)) / (sd * math.sqrt(1 + 1 / k))))


def rate_spike(
    current: Point, earlier: Sequence[Point], key: str, rule: RateRule, label: str, window: int
) -> Alert | None:
    """The newest run's count against the trailing runs' (exact conditional binomial test); if
    that is not enough, the last two runs' counts together against the runs before them."""
    if not rule.enabled or current.figures.get(key) is None or not trials(current.figures, key):
        return None
    x, n = current.figures[key], trials(current.figures, key)
    test = _rate_test(x, n, list(earlier)[-window:], key, rule)
    if test is None and len(earlier) > 1 and earlier[-1].figures.get(key) is not None:
        prev = earlier[-1].figures
        two = _rate_test(x + prev[key], n + trials(prev, key), list(earlier)[-window - 1 : -1], key, rule)
        if two is not None and x / n > two[1]:
            test = (two[0], two[1], len(list(earlier)[-window - 1 : -1]), " with the run before")
    if test is None:
        return None
    p, before, runs, how = test
    return _alert(
        current,
        {"errors": "error_rate", "truncated": "truncation_rate"}.get(key, key),
        f"{label} {x / n:.1%} ({x} of {n}) against {before:.1%} in the trailing {runs} runs "
        f"(p {fmt_p(p)}{how})",
        metric=key,
        value=x / n,
        trailing=before,
        p_value=p,
        unit="share",
    )


def trials(figures: dict[str, Any], key: str) -> int:
    """What a count is a share of: the results, or for truncated answers the generated ones
    (an error generated nothing to cut short)."""
    results = int(figures.get("results") or 0)
    return results - int(figures.get("errors") or 0) if key == "truncated" else results


def _rate_test(
    x: int, n: int, trailing: Sequence[Point], key: str, rule: RateRule
) -> tuple[float, float, int, str] | None:
    past = [(p.figures[key], trials(p.figures, key)) for p in trailing if p.figures.get(key) is not None]
    y, m = sum(c for c, _ in past), sum(r for _, r in past)
    if m == 0 or n == 0 or x == 0 or x / n - y / m < rule.min_increase:
        return None
    from scipy.special import bdtrc  # binomial survival; only a rising rate gets here

    # given x + y events in n + m cases, x is Binomial(x + y, n / (n + m)) when the rate is unchanged
    p = float(bdtrc(x - 1, x + y, n / (n + m)))
    return (p, y / m, len(past), "") if p < rule.alpha else None


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
