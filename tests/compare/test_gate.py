"""The regression gate's statistics, by simulation (seeded), and its case bookkeeping."""

from __future__ import annotations

import time

import numpy as np
import pytest

from evalkit.compare.baseline import BaselineMeta, CaseRecord, Group
from evalkit.compare.gate import compare_group, decide, diff_groups, verdict_label
from evalkit.stats import holm, mcnemar_exact, mcnemar_interval, minimum_detectable_effect, paired_t
from evalkit.types import Threshold, verdict_words


def group(
    values: dict[str, np.ndarray], *, pass_fail: set[str] = frozenset(), name: str = "v", **extra: object
) -> Group:  # type: ignore[assignment]
    n = len(next(iter(values.values())))
    records = []
    for i in range(n):
        scores = {k: float(v[i]) for k, v in values.items()}
        passed = {k: bool(v[i] >= 0.5) for k, v in values.items() if k in pass_fail}
        records.append(CaseRecord(case_id=f"c{i}", case_hash=f"h{i}", scores=scores, passed=passed, **extra))  # type: ignore[arg-type]
    meta = BaselineMeta(
        suite="s", variant=name, evalkit_version="t", run_id=name, saved_at="now", cases=n, results=n
    )
    return Group(suite="s", variant=name, records=records, meta=meta)


def aa_pair(rng: np.random.Generator, n: int, pass_rate: float) -> tuple[Group, Group]:
    """Two runs of the same system: per-case difficulty fixed, outcomes re-sampled."""
    p = np.clip(rng.beta(pass_rate * 4, (1 - pass_rate) * 4, n), 0.01, 0.99)
    mu = rng.uniform(0.2, 0.8, n)

    def draw() -> Group:
        return group(
            {"exact": (rng.random(n) < p).astype(float), "rougeL": np.clip(mu + rng.normal(0, 0.1, n), 0, 1)},
            pass_fail={"exact"},
        )

    return draw(), draw()


@pytest.mark.parametrize("n", [20, 60, 200, 1000])
@pytest.mark.parametrize("pass_rate", [0.5, 0.9])
def test_false_alarm_rate_is_at_most_5_percent(n: int, pass_rate: float) -> None:
    rng = np.random.default_rng(1000 * n + int(pass_rate * 10))
    sims, alarms = 200, 0
    for k in range(sims):
        base, cand = aa_pair(rng, n, pass_rate)
        report = diff_groups([(base, cand, {}, {})], resamples=400, seed=k)
        alarms += report.regressed
    assert alarms / sims <= 0.05, f"{alarms}/{sims} false alarms"


@pytest.mark.parametrize("n", [30, 200, 1000])
def test_power_at_twice_the_mde(n: int) -> None:
    """A true drop of 2× the printed minimum detectable effect is caught ≥ 80% of the time."""
    rng = np.random.default_rng(n)
    sims, caught = 100, 0
    for k in range(sims):
        mu = rng.uniform(0.2, 0.8, n)
        base = group({"rougeL": mu + rng.normal(0, 0.1, n)})
        probe = group({"rougeL": mu + rng.normal(0, 0.1, n)})  # an A/A run gives evalkit's MDE
        report = diff_groups([(base, probe, {}, {})], resamples=400, seed=k)
        mde = next(m for m in report.groups[0].metrics if m.metric == "rougeL").mde
        assert mde is not None
        cand = group({"rougeL": mu + rng.normal(0, 0.1, n) - 2 * mde})
        caught += diff_groups([(base, cand, {}, {})], resamples=400, seed=k).regressed
    assert caught / sims >= 0.8, f"caught {caught}/{sims}"


def test_identical_rerun_is_ok_and_degraded_is_regressed() -> None:
    rng = np.random.default_rng(7)
    vals = rng.uniform(0, 1, 100)
    base = group({"rougeL": vals, "exact": (vals > 0.5).astype(float)}, pass_fail={"exact"})
    same = group({"rougeL": vals, "exact": (vals > 0.5).astype(float)}, pass_fail={"exact"})
    assert diff_groups([(base, same, {}, {})]).groups[0].verdict == "ok"
    worse_vals = vals.copy()
    worse_vals[:30] = 0.0
    worse = group({"rougeL": worse_vals, "exact": (worse_vals > 0.5).astype(float)}, pass_fail={"exact"})
    g = diff_groups([(base, worse, {}, {})]).groups[0]
    assert g.verdict == "regressed"
    metrics = {m.metric: m for m in g.metrics}
    assert metrics["rougeL"].verdict == "regressed" and metrics["exact"].kind == "pass_fail"
    assert (
        metrics["exact"].pass_to_fail == int((vals[:30] > 0.5).sum()) and metrics["exact"].fail_to_pass == 0
    )
    assert {c.case_id for c in g.top_regressions} <= {f"c{i}" for i in range(30)}
    assert set(g.pass_to_fail) == {f"c{i}" for i in range(30) if vals[i] > 0.5}


def test_small_change_within_noise_passes_and_tolerance_is_respected() -> None:
    rng = np.random.default_rng(3)
    vals = rng.uniform(0, 1, 200)
    base = group({"rougeL": vals})
    noisy = group({"rougeL": np.clip(vals + rng.normal(0, 0.05, 200), 0, 1)})
    assert diff_groups([(base, noisy, {}, {})]).groups[0].verdict == "ok"
    # a real but small drop (0.03): regressed without tolerance, ok with max_drop 0.05
    dropped = group({"rougeL": vals - 0.03})
    assert diff_groups([(base, dropped, {}, {})]).groups[0].verdict == "regressed"
    tolerant = diff_groups([(base, dropped, {"rougeL": Threshold(max_drop=0.05)}, {})]).groups[0]
    assert tolerant.verdict == "ok"
    m = next(m for m in tolerant.metrics if m.metric == "rougeL")
    assert m.verdict == "worse" and m.delta == pytest.approx(-0.03)  # seen, and within the tolerance
    assert verdict_words(m.verdict, gated=m.gated) == "worse, within tolerance"


def test_lower_is_better_metrics_flip_direction() -> None:
    vals = np.linspace(1, 2, 50)
    base = group({"length": vals})
    shorter = group({"length": vals - 0.5})
    g = diff_groups([(base, shorter, {}, {"length": False})]).groups[0]
    assert next(m for m in g.metrics if m.metric == "length").verdict == "improved"


def test_added_removed_changed_and_unmeasured_cases() -> None:
    base = group({"rougeL": np.full(10, 0.8)})
    cand = group({"rougeL": np.full(10, 0.8)})
    cand.records[0].case_hash = "changed"
    cand.records[1].scores["rougeL"] = None  # unmeasured: not a regression, not a pass
    del cand.records[2]
    cand.records.append(CaseRecord(case_id="new", case_hash="x", scores={"rougeL": 0.0}))
    g = compare_group(base, cand, {}, {})
    decide([g])
    assert g.added == ["new"] and g.removed == ["c2"] and g.changed_input == ["c0"]
    m = next(m for m in g.metrics if m.metric == "rougeL")
    assert m.n_paired == 7 and m.unmeasured_candidate == 1 and m.verdict == "unchanged"
    assert any("1 added, 1 removed, 1 changed-data" in w for w in g.warnings)


def test_model_version_change_and_latency_gate() -> None:
    rng = np.random.default_rng(5)
    base = group({"rougeL": np.full(80, 0.5)}, model_version="m-2026-01")
    for r in base.records:
        r.latency_ms = float(rng.normal(100, 10))
    base.meta.model_versions = ["m-2026-01"]
    cand = group({"rougeL": np.full(80, 0.5)}, model_version="m-2026-06")
    for r in cand.records:
        r.latency_ms = float(rng.normal(300, 10))  # a latency spike
    ungated = diff_groups([(base, cand, {}, {})]).groups[0]
    lat = next(m for m in ungated.metrics if m.metric == "latency_p95_ms")
    assert lat.verdict == "worse" and not lat.gated and ungated.verdict == "ok"
    assert [(p.what, p.baseline, p.candidate) for p in ungated.provenance] == [
        ("model version", "m-2026-01", "m-2026-06")
    ]
    assert any("latency P95 ms got significantly worse" in w for w in ungated.warnings)
    gated = diff_groups([(base, cand, {"latency_p95_ms": Threshold(max_increase=50)}, {})]).groups[0]
    assert gated.verdict == "regressed"
    assert (
        diff_groups([(base, cand, {"latency_p95_ms": Threshold(max_increase=500)}, {})]).groups[0].verdict
        == "ok"
    )


def test_mde_warning_when_suite_too_small() -> None:
    rng = np.random.default_rng(9)
    base = group({"rougeL": rng.uniform(0, 1, 15)})
    cand = group({"rougeL": rng.uniform(0, 1, 15)})
    g = diff_groups([(base, cand, {"rougeL": Threshold(max_drop=0.01)}, {})]).groups[0]
    assert any("only detects changes" in w for w in g.warnings)


def test_statistics_against_hand_computed_values() -> None:
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    b, c, p = mcnemar_exact([True] * 10 + [False] * 5, [False] * 8 + [True] * 2 + [True] * 1 + [False] * 4)
    assert (b, c) == (8, 1) and p == pytest.approx(0.0390625)  # 2 × P(X ≤ 1 | n=9, ½) = 2 × 10/512
    assert minimum_detectable_effect(1.0, 100) == pytest.approx((1.959964 + 0.841621) / 10, rel=1e-5)
    r = paired_t([0.1] * 50)
    assert r.mean == pytest.approx(0.1) and r.p_value < 0.01
    assert paired_t([0.0] * 50).p_value == 1.0


def test_diff_of_two_10k_case_runs_is_fast() -> None:
    rng = np.random.default_rng(11)
    metrics = {f"m{i}": rng.uniform(0, 1, 10_000) for i in range(5)}
    base = group(metrics)
    cand = group({k: np.clip(v + rng.normal(0, 0.05, 10_000), 0, 1) for k, v in metrics.items()})
    started = time.perf_counter()
    report = diff_groups([(base, cand, {}, {})], resamples=1000)
    assert len(report.groups[0].metrics) == 7
    assert time.perf_counter() - started < 30  # measured, not asserted tightly: see benchmarks/bench_diff.py


def variants_with_one_drop(
    rng: np.random.Generator, count: int, n: int = 30
) -> list[tuple[Group, Group, dict, dict]]:
    """`count` variants of one suite; the first one's rougeL falls from 1.00 to about 0.43,
    the others are re-runs of the same system (A/A)."""
    pairs = []
    for v in range(count):
        if v == 0:
            base = group({"rougeL": np.ones(n)}, name="v0")
            cand = group({"rougeL": np.clip(0.43 + rng.normal(0, 0.2, n), 0, 1)}, name="v0")
        else:
            mu = rng.uniform(0.2, 0.8, n)
            base = group({"rougeL": np.clip(mu + rng.normal(0, 0.1, n), 0, 1)}, name=f"v{v}")
            cand = group({"rougeL": np.clip(mu + rng.normal(0, 0.1, n), 0, 1)}, name=f"v{v}")
        pairs.append((base, cand, {}, {}))
    return pairs


@pytest.mark.parametrize("variants", [1, 13, 50])
def test_gate_power_does_not_vanish_with_many_variants(variants: int) -> None:
    """Holm multiplies p by the family size: the p-value must be able to get small enough
    (a bootstrap p-value stopped at 2/1001, so 13 variants hid a 1.00 → 0.43 drop)."""
    rng = np.random.default_rng(variants)
    report = diff_groups(variants_with_one_drop(rng, variants), resamples=1000)
    assert report.family_size == variants
    dropped = report.groups[0]
    m = next(m for m in dropped.metrics if m.metric == "rougeL")
    assert m.ci_high is not None and m.ci_high < 0
    assert m.verdict == "regressed" and dropped.verdict == "regressed", (m.p_value, m.p_adjusted)
    assert m.p_value is not None and m.p_value < 1e-8  # as small as the evidence warrants
    assert all(g.verdict != "regressed" for g in report.groups[1:])


def test_family_wise_false_alarm_rate_with_13_variants() -> None:
    rng = np.random.default_rng(13)
    sims, alarms = 100, 0
    for k in range(sims):
        pairs = [(*aa_pair(rng, 40, 0.7), {}, {}) for _ in range(13)]
        alarms += diff_groups(pairs, resamples=200, seed=k).regressed  # type: ignore[arg-type]
    assert alarms / sims <= 0.05, f"{alarms}/{sims} false alarms"


def test_a_prompt_change_is_compared_and_shown_as_provenance() -> None:
    """Issue 14.1: the same cases asked with another prompt pair by case, not by rendered prompt."""
    vals = np.linspace(0.2, 1.0, 16)
    base = group({"contains": (vals > 0.3).astype(float)}, pass_fail={"contains"})
    cand = group({"contains": (vals > 0.9).astype(float)}, pass_fail={"contains"})  # "Reply in French"
    for r in base.records:
        r.input_hash = f"english-{r.case_id}"
    for r in cand.records:
        r.input_hash = f"french-{r.case_id}"
    cand.meta.params = {"temperature": 0.7}
    g = diff_groups([(base, cand, {}, {})]).groups[0]
    assert g.paired == 16 and g.changed_input == []
    m = next(m for m in g.metrics if m.metric == "contains")
    assert m.n_paired == 16 and m.verdict == "regressed" and g.verdict == "regressed"
    assert [(p.what, p.detail) for p in g.provenance] == [("prompt", "16 of 16 cases"), ("params", None)]


def test_verdict_labels_say_what_was_seen() -> None:
    """Issue 14.3: a drop the uncorrected test sees is not labelled 'unchanged'."""
    rng = np.random.default_rng(11)
    vals = rng.uniform(0.3, 0.9, 16)
    base = group({"a": vals, "b": vals, "c": vals, "d": vals})
    drop = vals + rng.normal(0, 0.1, 16)
    drop[:1] -= 0.05  # a drop on one metric of four: significant alone (p ≈ 0.02), not after Holm
    cand = group({"a": drop, "b": vals, "c": vals, "d": vals})
    g = diff_groups([(base, cand, {}, {})]).groups[0]
    a = next(m for m in g.metrics if m.metric == "a")
    assert a.p_value is not None and a.p_value < 0.05 and a.p_adjusted is not None and a.p_adjusted >= 0.05
    assert a.verdict == "worse_ns" and g.verdict == "ok"
    words = verdict_words(a.verdict, gated=a.gated, p_adjusted=a.p_adjusted, p_value=a.p_value)
    assert words == (
        f"worse, not significant (p = {a.p_value:.3f}, p_adj = {a.p_adjusted:.3f} after correction)"
    )
    b = next(m for m in g.metrics if m.metric == "b")
    assert verdict_words(b.verdict) == "no detectable change"


def test_nothing_paired_is_inconclusive() -> None:
    base = group({"rougeL": np.full(5, 0.5)})
    cand = group({"rougeL": np.full(5, 0.5)})
    for r in cand.records:
        r.case_hash = "other data"
    report = diff_groups([(base, cand, {}, {})])
    assert report.groups[0].verdict == "inconclusive" and report.inconclusive and not report.regressed


def test_latency_from_another_machine_is_not_compared_unless_asked() -> None:
    rng = np.random.default_rng(5)
    base = group({"rougeL": np.full(40, 0.5)})
    cand = group({"rougeL": np.full(40, 0.5)})
    for r in base.records:
        r.latency_ms = float(rng.normal(100, 10))
    for r in cand.records:
        r.latency_ms = float(rng.normal(300, 10))  # a slower machine, same system
    base.meta.machine, cand.meta.machine = "x86_64 · fast · 64 CPUs", "x86_64 · slow · 2 CPUs"
    g = diff_groups([(base, cand, {}, {})]).groups[0]
    lat = next(m for m in g.metrics if m.metric == "latency_p95_ms")
    assert lat.verdict == "unmeasured" and not any("significantly worse" in w for w in g.warnings)
    assert any("baseline ran on another machine" in w for w in g.warnings)
    asked = diff_groups([(base, cand, {"latency_p95_ms": Threshold(max_increase=50)}, {})]).groups[0]
    assert asked.verdict == "regressed" and any("across machines" in w for w in asked.warnings)


def test_mcnemar_matches_scipy_binomtest() -> None:
    """The exact test is computed in integers (no scipy.stats import per run); scipy is the reference."""
    from scipy.stats import binomtest

    from evalkit.stats import binomial_two_sided_half

    for n in range(1, 40):
        for k in range(n + 1):
            assert binomial_two_sided_half(k, n) == pytest.approx(binomtest(k, n, 0.5).pvalue, abs=1e-12)


def test_t_interval_matches_scipy_ttest_rel() -> None:
    """Continuous scores: the interval is the paired t-test's own (scipy is the reference)."""
    from scipy.stats import ttest_rel

    rng = np.random.default_rng(4)
    for n in (3, 12, 200):
        b, c = rng.uniform(0, 1, n), rng.uniform(0, 1, n)
        r = paired_t(c - b)
        ref = ttest_rel(c, b)
        ci = ref.confidence_interval(0.95)
        assert (r.ci_low, r.ci_high) == pytest.approx((ci.low, ci.high), abs=1e-12)
        assert r.p_value == pytest.approx(ref.pvalue, abs=1e-12)


def test_mcnemar_interval_is_clopper_pearson_and_agrees_with_the_test() -> None:
    """Pass/fail scores: the exact interval excludes 0 exactly when McNemar's exact p < 0.05."""
    from scipy.stats import binomtest

    for n in (5, 20, 60):
        for down in range(0, 13):
            for up in range(0, 13 - down):
                if down + up > n:
                    continue
                lo, hi = mcnemar_interval(down, up, n)
                _, _, p = mcnemar_exact([True] * down + [False] * up, [False] * down + [True] * up)
                assert (lo > 0 or hi < 0) == (p < 0.05), (down, up, n, lo, hi, p)
                if down + up:
                    ref = binomtest(up, down + up, 0.5).proportion_ci(0.95, method="exact")
                    scale = (down + up) / n
                    assert lo == pytest.approx(scale * (2 * ref.low - 1), abs=1e-9)
                    assert hi == pytest.approx(scale * (2 * ref.high - 1), abs=1e-9)


def test_four_of_twenty_broken_cases_read_worse_not_significant() -> None:
    """Issue 29.1: 4 of 20 cases pass → fail, none back. McNemar's p is 0.125, so the interval
    beside it must include 0, and the label must say what happened."""
    vals = np.ones(20)
    broken = vals.copy()
    broken[[4, 9, 14, 19]] = 0.0
    g = diff_groups(
        [
            (
                group({"contains": vals}, pass_fail={"contains"}),
                group({"contains": broken}, pass_fail={"contains"}),
                {},
                {},
            )
        ]
    ).groups[0]
    m = next(m for m in g.metrics if m.metric == "contains")
    assert m.kind == "pass_fail" and m.delta == pytest.approx(-0.2)
    assert m.p_value == pytest.approx(0.125) and m.ci_low is not None and m.ci_high is not None
    assert m.ci_low == pytest.approx(-0.2) and m.ci_high > 0
    assert m.verdict == "worse_ns"
    assert verdict_label(m) == "worse, not significant (p = 0.125; 4 of 20 cases pass → fail)"
    assert g.pass_to_fail == ["c14", "c19", "c4", "c9"] and g.fail_to_pass == []


def _random_pair(rng: np.random.Generator, k: int) -> tuple[Group, Group]:
    n = int(rng.integers(3, 40))
    kind = k % 3
    if kind == 0:  # pass/fail with a few flips
        b = (rng.random(n) < 0.8).astype(float)
        c = b.copy()
        flips = rng.choice(n, size=int(rng.integers(0, min(n, 8) + 1)), replace=False)
        c[flips] = 1 - c[flips]
        return group({"exact": b}, pass_fail={"exact"}), group({"exact": c}, pass_fail={"exact"})
    mu = rng.uniform(0, 1, n)
    shift = rng.choice([0.0, 0.02, 0.1, -0.05])
    b, c = mu + rng.normal(0, 0.1, n), mu - shift + rng.normal(0, 0.1, n)
    if kind == 2:  # every case moved by the same amount: the sign test's case
        c = b - shift
    pair = group({"rougeL": b}), group({"rougeL": c})
    for side, base in zip(pair, (300.0, 300.0 + 40 * shift), strict=True):
        for r in side.records:
            r.latency_ms = float(base + rng.normal(0, 20))
            r.cost_usd = float(0.001 + rng.normal(0, 0.0001) + (shift / 100 if side is pair[1] else 0))
    return pair


def test_a_printed_interval_that_excludes_zero_never_sits_beside_no_change() -> None:
    """Issue 29.1, on every family (pass/fail, continuous, latency P95, cost): the interval and
    the test are one method, so the printed interval excludes 0 exactly when the unadjusted p is
    below α, and then the verdict is never 'no detectable change'."""
    from evalkit._util.numbers import figure_interval

    rng = np.random.default_rng(29)
    seen = {"excludes": 0, "includes": 0}
    for k in range(300):
        base, cand = _random_pair(rng, k)
        thresholds = {
            "latency_p95_ms": Threshold(max_increase=1.0),
            "cost_per_case_usd": Threshold(max_increase=0),
        }
        for m in diff_groups([(base, cand, thresholds, {})], resamples=200, seed=k).groups[0].metrics:
            if m.ci_low is None or m.ci_high is None or m.p_value is None:
                continue
            excludes = m.ci_low > 0 or m.ci_high < 0
            seen["excludes" if excludes else "includes"] += 1
            assert excludes == (m.p_value < 0.05), (m.metric, m.ci_low, m.ci_high, m.p_value)
            if excludes:
                assert m.verdict != "unchanged" and "no detectable change" not in verdict_label(m)
                assert "–" not in figure_interval(m.metric, m.ci_low, m.ci_high)
    assert seen["excludes"] > 50 and seen["includes"] > 50
