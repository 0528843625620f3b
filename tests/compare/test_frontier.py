"""The cost–quality frontier: figures per variant, dominance, and the cheapest variant not
significantly worse than the best by the gate's paired test (p-values checked against scipy)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
import scipy.stats

from evalkit.compare import frontier as fr
from evalkit.compare import gate
from evalkit.compare.aggregate import summarize_groups
from evalkit.types import CaseResult, MetricInfo
from tests.compare.conftest import scored

ROUGE = MetricInfo(name="rougeL", scorer="rouge", value_range=(0.0, 1.0))
EXACT = MetricInfo(name="exact", scorer="exact", kind="pass_fail", verdict=True, counts_for_pass=True)
N = 40


def run(
    results: Sequence[CaseResult], infos: Sequence[MetricInfo], spill_at: int = fr.SPILL_AT
) -> list[fr.SuiteFrontier]:
    metrics = {"s": list(infos)}
    groups = list(summarize_groups(results, metrics, {}).values())
    tally = fr.FrontierTally(metrics, spill_at=spill_at)
    for r in results:
        tally.add(r)
    return fr.frontiers(groups, tally)


def continuous() -> tuple[list[CaseResult], dict[str, list[float]]]:
    """big: best and dearest; mid: a hair below it, cheaper; small: clearly worse, cheapest;
    slow: as good as mid but dearer and slower than it (dominated by mid)."""
    values: dict[str, list[float]] = {
        "big": [0.80 + 0.004 * (i % 5) for i in range(N)],
        "mid": [0.80 + 0.004 * ((i + 1) % 5) - 0.001 for i in range(N)],
        "small": [0.55 + 0.01 * (i % 3) for i in range(N)],
        "slow": [0.80 + 0.004 * ((i + 1) % 5) - 0.001 for i in range(N)],
    }
    cost = {"big": 0.01, "mid": 0.002, "small": 0.0005, "slow": 0.003}
    latency = {"big": 900.0, "mid": 300.0, "small": 200.0, "slow": 1200.0}
    rows = [
        scored(v, i, x, metric="rougeL", cost=cost[v], latency=latency[v] + i)
        for v, xs in values.items()
        for i, x in enumerate(xs)
    ]
    return rows, values


def test_the_pick_is_the_cheapest_variant_not_significantly_worse_by_the_paired_t_test() -> None:
    rows, values = continuous()
    (f,) = run(rows, [ROUGE])
    by = {v.variant: v for v in f.variants}
    assert (f.metric, f.best, f.pick, f.alpha) == ("rougeL", "big", "mid", gate.ALPHA)
    assert fr.ALPHA == gate.ALPHA
    # the gate's paired t-test, Holm-adjusted over the suite's three comparisons with the best
    raw = {v: scipy.stats.ttest_rel(values[v], values["big"]).pvalue for v in ("mid", "small", "slow")}
    order = sorted(raw, key=raw.__getitem__)
    holm, running = {}, 0.0
    for rank, v in enumerate(order):
        running = max(running, min(1.0, (3 - rank) * raw[v]))
        holm[v] = running
    for v in ("mid", "small", "slow"):
        assert by[v].test == "paired_t" and by[v].n_paired == N
        assert by[v].p_value == pytest.approx(raw[v], rel=1e-6)
        assert by[v].p_adjusted == pytest.approx(holm[v], rel=1e-6)
        assert by[v].delta == pytest.approx(sum(values[v]) / N - sum(values["big"]) / N)
    assert by["small"].worse_than_best is True and by["mid"].worse_than_best is False
    assert by["big"].test is None and by["big"].worse_than_best is None
    # slow: mid is as good, cheaper and faster; nothing else is beaten on every figure
    assert f.dominated == ["slow"] and by["slow"].dominated_by == ["mid"]
    assert by["mid"].cost_per_case_usd == pytest.approx(0.002)
    assert by["big"].latency_p95_ms is not None and by["big"].quality == pytest.approx(sum(values["big"]) / N)


def test_pass_fail_scores_use_mcnemars_exact_test() -> None:
    # a: 30 of 40 pass; b: the same cases but 6 of a's passes fail and 1 of a's failures passes
    a = [i < 30 for i in range(N)]
    b = [(i < 30 and i >= 6) or i == 35 for i in range(N)]
    rows = [scored("a", i, float(x), passed=x, cost=0.01) for i, x in enumerate(a)]
    rows += [scored("b", i, float(x), passed=x, cost=0.001) for i, x in enumerate(b)]
    (f,) = run(rows, [EXACT])
    by = {v.variant: v for v in f.variants}
    expected = scipy.stats.binomtest(1, 7, 0.5).pvalue  # 6 pass → fail against 1 fail → pass
    assert f.best == "a" and by["b"].test == "mcnemar"
    assert by["b"].p_value == pytest.approx(expected) and by["b"].p_adjusted == pytest.approx(expected)
    assert by["b"].worse_than_best is False  # p = 0.125: not significantly worse, and cheaper
    assert f.pick == "b" and "not significantly worse than a" in f.why


def test_repeats_are_averaged_per_case_and_tested_with_the_paired_t_test() -> None:
    rows = []
    for i in range(N):
        for rep in range(2):
            rows.append(scored("a", i, float(i % 2 == 0), passed=i % 2 == 0, repeat=rep, cost=0.001))
            rows.append(scored("b", i, float(rep == 0), passed=rep == 0, repeat=rep, cost=0.01))
    (f,) = run(rows, [EXACT])
    b = f.variants[1]
    assert f.best == "a"  # equal quality and pass rate: the cheaper one
    a_means = [float(i % 2 == 0) for i in range(N)]
    assert b.test == "paired_t"
    assert b.p_value == pytest.approx(scipy.stats.ttest_rel([0.5] * N, a_means).pvalue)


def test_unmeasured_cost_is_never_zero_and_never_the_cheapest() -> None:
    rows, _ = continuous()
    rows = [r.model_copy(update={"cost_usd": None}) if r.variant == "mid" else r for r in rows]
    (f,) = run(rows, [ROUGE])
    by = {v.variant: v for v in f.variants}
    assert by["mid"].cost_per_case_usd is None and by["mid"].dominated_by == []
    assert f.pick == "slow" and "cost unmeasured for mid" in f.why
    unpriced = [r.model_copy(update={"cost_usd": None}) for r in rows]
    (g,) = run(unpriced, [ROUGE])
    assert (
        g.pick is None and g.why == "no cost measured for the variants not significantly worse than the best"
    )
    # both unmeasured is a tie on cost: big and mid still beat slow on latency
    assert {v.variant: v.dominated_by for v in g.variants}["slow"] == ["big", "mid"]


def test_one_variant_has_no_frontier_and_ties_dominate_nothing() -> None:
    rows = [scored("a", i, 1.0, passed=True, cost=0.01) for i in range(5)]
    assert run(rows, [EXACT]) == []
    twins = rows + [r.model_copy(update={"variant": "b"}) for r in rows]
    (f,) = run(twins, [EXACT])
    assert f.dominated == [] and f.best == "a" and f.pick == "a"
    assert f.variants[1].worse_than_best is False and f.variants[1].p_value == 1.0  # no discordant pair


def test_a_variant_that_errors_more_than_the_best_is_not_picked() -> None:
    rows, _ = continuous()
    rows = [
        r.model_copy(update={"error": "HTTP 500", "output": None, "scores": {}})
        if r.variant == "mid" and r.case_id in ("c1", "c2")
        else r
        for r in rows
    ]
    (f,) = run(rows, [ROUGE])
    by = {v.variant: v for v in f.variants}
    assert by["mid"].errors == 2 and by["mid"].n_paired == N - 2 and by["mid"].worse_than_best is False
    assert f.pick == "slow"  # mid is cheaper but fails requests the best answers
    everything_failed = [
        r.model_copy(update={"error": "HTTP 500", "output": None, "scores": {}}) if r.variant != "big" else r
        for r in rows
    ]
    (g,) = run(everything_failed, [ROUGE])
    assert g.best == "big" and g.pick == "big" and {v.variant: v.quality for v in g.variants}["small"] is None


def test_a_suite_without_a_score_names_no_best() -> None:
    rows = [scored(v, i, None, cost=0.01) for v in ("a", "b") for i in range(3)]
    (f,) = run(rows, [])
    assert f.metric is None and f.best is None and f.pick is None and f.why == "the suite has no score"


def test_lower_is_better_main_metric() -> None:
    wer = MetricInfo(name="wer", scorer="wer", higher_is_better=False)
    rows = [scored("a", i, 0.1 + 0.01 * (i % 4), metric="wer", cost=0.01) for i in range(N)]
    rows += [scored("b", i, 0.5 + 0.01 * (i % 3), metric="wer", cost=0.001) for i in range(N)]
    (f,) = run(rows, [wer])
    assert f.best == "a" and f.variants[1].worse_than_best is True and f.pick == "a"


def same(a: object, b: object) -> bool:
    """Equal, floats to 12 digits (sums added in another order)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float):
        return a == pytest.approx(b, rel=1e-12)
    return a == b and type(a) is type(b)


def repeated_and_interleaved() -> list[CaseResult]:
    """Two repeats per case, the second repeat of every case after all the first ones (so a
    tally that spills meets each case again after it went to disk), pass/fail and continuous."""
    rows = []
    for rep in range(2):
        for i in range(N):
            rows.append(scored("a", i, float(i % 2 == 0), passed=i % 2 == 0, repeat=rep, cost=0.001))
            rows.append(scored("b", i, float(rep == 0), passed=rep == 0, repeat=rep, cost=0.01))
    return rows


def pass_fail_rows() -> list[CaseResult]:
    a = [i < 30 for i in range(N)]
    b = [(i < 30 and i >= 6) or i == 35 for i in range(N)]
    rows = [scored("a", i, float(x), passed=x, cost=0.01) for i, x in enumerate(a)]
    return rows + [scored("b", i, float(x), passed=x, cost=0.001) for i, x in enumerate(b)]


@pytest.mark.parametrize(
    ("rows", "infos"),
    [
        (continuous()[0], [ROUGE]),
        (pass_fail_rows(), [EXACT]),
        (repeated_and_interleaved(), [EXACT]),
    ],
    ids=["paired_t", "mcnemar", "repeats_met_again_after_a_spill"],
)
def test_a_tally_that_spills_to_disk_gives_the_same_frontier(
    rows: list[CaseResult], infos: list[MetricInfo]
) -> None:
    """Past spill_at rows the tally goes to its scratch SQLite file and the paired values come
    from a join: the same tests, p-values, marks and pick as held in memory."""
    (held,) = run(rows, infos)
    for spill_at in (1, 7, 33):
        (spilled,) = run(rows, infos, spill_at=spill_at)
        assert same(spilled.model_dump(), held.model_dump()), spill_at
        assert [v.test for v in spilled.variants] == [v.test for v in held.variants]
        assert [v.n_paired for v in spilled.variants] == [v.n_paired for v in held.variants]
