from __future__ import annotations

import pytest
import sacrebleu
from sacrebleu.metrics.chrf import CHRF

from evalkit.compare.aggregate import summarize_group, summarize_groups
from evalkit.scorers.base import metric_infos
from evalkit.spec.config import Pricing
from evalkit.spec.suite import ScorerSpec
from evalkit.stats import percentiles, wilson_interval
from evalkit.types import CaseResult, Message, StoredScore, Threshold, Usage


def result(
    i: int,
    latency: float | None,
    exact_ok: bool | None,
    rl: float | None,
    error: str | None = None,
    cost: float | None = None,
    cached: bool = False,
) -> CaseResult:
    scores = {}
    scores["exact"] = StoredScore(value=None if exact_ok is None else float(exact_ok), passed=exact_ok)
    scores["rougeL"] = StoredScore(value=rl)
    return CaseResult(
        suite="s",
        case_id=f"c{i}",
        variant="v",
        repeat=0,
        provider="p",
        messages=[Message(role="user", content="x")],
        references=["the cat"],
        output=None if error else "the cat",
        error=error,
        latency_ms=latency,
        usage=Usage(input_tokens=10, output_tokens=5),
        cost_usd=cost,
        cached=cached,
        scores=scores,
    )


METRICS = metric_infos([ScorerSpec(type="exact"), ScorerSpec(type="rouge", types=["rougeL"])])


def test_percentiles_match_hand_computed() -> None:
    values = [float(v) for v in range(1, 101)]  # 1..100
    # linear interpolation between closest ranks: p50 = 50.5, p95 = 95.05, p99 = 99.01
    assert percentiles(values, [50, 95, 99]) == pytest.approx([50.5, 95.05, 99.01])
    assert percentiles([], [50]) == [None]
    assert percentiles([7.0], [50, 99]) == [7.0, 7.0]


def test_group_summary_figures() -> None:
    rows = [
        result(0, 100.0, True, 0.5, cost=0.001),
        result(1, 200.0, False, 1.0, cost=0.003),
        result(2, 300.0, True, None, cost=0.002),  # rouge unmeasured: not a zero
        result(3, None, None, None, error="HTTP 500"),
        result(4, 5.0, True, 0.0, cached=True, cost=0.0),  # cached: excluded from latency
    ]
    g = summarize_group(rows, METRICS, {"exact": Threshold(min=0.7), "rougeL": Threshold(min=0.4)})
    assert g.results == 5 and g.errors == 1 and g.error_rate == 0.2
    assert g.metrics["exact"].mean == pytest.approx(3 / 4) and g.metrics["exact"].unmeasured == 1
    assert g.metrics["rougeL"].mean == pytest.approx(0.5) and g.metrics["rougeL"].unmeasured == 2
    assert g.pass_rate == pytest.approx(3 / 4) and g.passed == 3
    assert g.latency.n == 3 and g.latency.p50_ms == 200.0 and g.latency.p95_ms == pytest.approx(290.0)
    assert g.latency.p99_ms == pytest.approx(298.0) and g.latency.mean_ms == pytest.approx(200.0)
    assert (
        g.tokens.input == 50 and g.tokens.output == 25 and g.tokens.mean_input_per_case == pytest.approx(10.0)
    )
    assert g.cost_usd == pytest.approx(0.006) and g.cost_per_case_usd == pytest.approx(0.0012)
    assert g.cost_per_passing_case_usd == pytest.approx(0.002)
    checks = {t.metric: t for t in g.thresholds}
    assert checks["exact"].passed and checks["rougeL"].passed
    lo, hi = g.pass_rate_ci or (0, 0)
    assert lo < 0.75 < hi


def test_threshold_failures_and_unmeasured() -> None:
    rows = [result(0, 1.0, False, None), result(1, 1.0, False, None)]
    g = summarize_group(
        rows,
        METRICS,
        {"exact": Threshold(min=0.5), "rougeL": Threshold(min=0.1), "pass_rate": Threshold(max=0.9)},
    )
    checks = {t.metric: t for t in g.thresholds}
    assert not checks["exact"].passed and checks["exact"].reason == "0.000 < min 0.500"
    assert not checks["rougeL"].passed and checks["rougeL"].reason == "no measured value to check"
    assert checks["pass_rate"].passed


def test_pricing_with_cached_input() -> None:
    p = Pricing(input_per_mtok=2.0, output_per_mtok=8.0, cached_input_per_mtok=0.5)
    # 1000 input of which 400 cached, 100 output
    usage = Usage(input_tokens=1000, output_tokens=100, cached_input_tokens=400)
    assert p.cost(usage) == pytest.approx((600 * 2.0 + 400 * 0.5 + 100 * 8.0) / 1e6)
    assert Pricing(input_per_mtok=1, output_per_mtok=1).cost(Usage()) == 0


def test_wilson_interval() -> None:
    lo, hi = wilson_interval(0, 10)
    assert lo == 0.0 and 0.27 < hi < 0.29  # 0.2775 by hand
    assert wilson_interval(5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)


def test_mean_ci_stays_inside_a_bounded_metrics_range() -> None:
    """A `contains` mean of 19/20 had ci_high 1.05: 0/1 scores get the Wilson interval
    (checked against scipy's), other bounded scores a clipped one."""
    from scipy.stats import binomtest

    rows = [result(i, 10.0, None, 1.0) for i in range(20)]
    for i, r in enumerate(rows):
        r.scores = {"contains": StoredScore(value=float(i != 0), passed=i != 0), "rougeL": r.scores["rougeL"]}
    rows[0].scores["rougeL"] = StoredScore(value=0.5)
    metrics = metric_infos(
        [ScorerSpec(type="contains", text="cat"), ScorerSpec(type="rouge", types=["rougeL"])]
    )
    g = summarize_group(rows, metrics, {})
    c = g.metrics["contains"]
    ref = binomtest(19, 20).proportion_ci(confidence_level=0.95, method="wilson")
    assert (c.ci_low, c.ci_high) == pytest.approx((ref.low, ref.high), abs=1e-9)
    assert c.ci_high is not None and c.ci_high <= 1.0
    r = g.metrics["rougeL"]
    assert (
        r.mean == pytest.approx(0.975)
        and r.ci_high == 1.0
        and r.ci_low == pytest.approx(0.975 - 0.049, abs=1e-3)
    )


def sample(case: int, repeat: int, output: str, exact_ok: bool, contains_ok: bool, ref: str) -> CaseResult:
    return CaseResult(
        suite="s",
        case_id=f"c{case}",
        variant="v",
        repeat=repeat,
        provider="p",
        messages=[Message(role="user", content="x")],
        references=[ref],
        output=output,
        scores={
            "exact": StoredScore(value=float(exact_ok), passed=exact_ok),
            "contains": StoredScore(value=float(contains_ok), passed=contains_ok),
            "b": StoredScore(value=50.0),
        },
    )


def samples() -> list[CaseResult]:
    """Three cases × two repeats: exact passes once per case (flaky), contains always."""
    refs = ["the cat sat on the mat", "a quick brown fox", "paris is the capital of france"]
    return [
        sample(c, rep, ref if rep else f"well, {ref}.", rep == 1, True, ref)
        for c, ref in enumerate(refs)
        for rep in (0, 1)
    ]


@pytest.mark.parametrize(
    ("specs", "pass_names", "rate", "flaky"),
    [
        ([ScorerSpec(type="exact"), ScorerSpec(type="contains")], None, 0.5, 3),
        ([ScorerSpec(type="exact", informational=True), ScorerSpec(type="contains")], None, 1.0, 0),
        ([ScorerSpec(type="exact"), ScorerSpec(type="contains")], ["contains"], 1.0, 0),
        ([ScorerSpec(type="exact"), ScorerSpec(type="contains")], ["exact"], 0.5, 3),
    ],
)
def test_the_pass_rule_drives_pass_rate_flakiness_and_pass_at_k(
    specs: list[ScorerSpec], pass_names: list[str] | None, rate: float, flaky: int
) -> None:
    metrics = metric_infos([*specs, ScorerSpec(type="bleu", name="b")], pass_names=pass_names)
    g = summarize_group(iter(samples()), metrics, {})
    assert g.pass_rate == rate and g.passed == int(rate * 6)
    assert g.consistency is not None and len(g.consistency.flaky_cases) == flaky
    assert g.consistency.pass_at_k == 1.0 and g.consistency.pass_hat_k == (1.0 if rate == 1.0 else 0.0)
    assert g.metrics["exact"].mean == 0.5 and g.metrics["exact"].pass_rate == 0.5  # always scored
    deciding = {"exact", "contains"} - ({"exact"} if specs[0].informational else set())
    assert set(g.pass_metrics or []) == (set(pass_names) if pass_names else deciding)


def test_corpus_figures_stream_from_stored_outputs_and_follow_the_name() -> None:
    """A renamed bleu's corpus figure is sacrebleu's corpus BLEU of the stored outputs, from a
    one-pass iterator; summarize_groups gives every group what summarize_group gives it."""
    rows = samples()
    metrics = metric_infos([ScorerSpec(type="bleu", name="b"), ScorerSpec(type="chrf", lowercase=True)])
    g = summarize_group(iter(rows), metrics, {"corpus_b": Threshold(min=99.0)})
    hyps, refs = [r.output or "" for r in rows], [[r.references[0] for r in rows]]
    assert g.corpus["corpus_b"] == sacrebleu.corpus_bleu(hyps, refs).score
    assert g.corpus["corpus_chrf"] == CHRF(lowercase=True).corpus_score(hyps, refs).score
    assert [t.passed for t in g.thresholds] == [False]
    other = [r.model_copy(update={"variant": "w"}) for r in rows[:2]]
    both = summarize_groups(iter([*rows, *other]), {"s": metrics}, {"s": {}})
    assert list(both) == [("s", "v"), ("s", "w")]
    assert both[("s", "v")] == g.model_copy(update={"thresholds": []})
    assert both[("s", "w")] == summarize_group(other, metrics, {})


@pytest.mark.parametrize("n", [300, 6000])  # below and above the size numpy used to take over
def test_figures_do_not_depend_on_the_order_of_the_lines(n: int) -> None:
    """A merged run's lines come in plan order, an unsharded run's as they finished: the sums
    behind means, costs and latency must be exact so that "merge equals unsharded" holds."""
    import random

    rng = random.Random(27)
    rows = [
        result(i, rng.uniform(1, 1e4) * 1.1, i % 3 != 0, rng.random() * 0.1, cost=rng.random() * 1e-3 + 0.1)
        for i in range(n)
    ]
    shuffled = rows[:]
    rng.shuffle(shuffled)
    a = summarize_group(rows, METRICS, {}).model_dump()
    b = summarize_group(shuffled, METRICS, {}).model_dump()
    for key in ("cost_usd", "cost_per_case_usd"):
        assert a[key] == b[key]
    assert a["latency"]["mean_ms"] == b["latency"]["mean_ms"]
    assert a["metrics"]["rougeL"] == b["metrics"]["rougeL"]
