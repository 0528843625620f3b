"""Alert rules: unit checks on hand-made trends, and a fixed-seed simulation (the benchmark's,
smaller) that holds the rules to their promises: at most 1 false alert per 100 stable runs per
rule, and a step drop of 2x a run's standard error caught within 2 runs in at least 90 %."""

from __future__ import annotations

import pytest

from evalkit.history.alerts import Point, evaluate, fmt, paired_p_value
from evalkit.spec.history import AlertRules
from tests.history.simulate import RULES, Scenario, caught_within, false_alerts


def point(i: int, scores: dict[str, float], **figures: object) -> Point:
    values = list(scores.values())
    mean = sum(values) / len(values)
    std = (sum((v - mean) ** 2 for v in values) / (len(values) - 1)) ** 0.5
    base = {"suite": "s", "variant": "v", "results": len(values), "errors": 0, "unmeasured": 0}
    metric = {"mean": mean, "std": std, "n": len(values), "higher_is_better": True}
    return Point(f"r{i}", {**base, **figures}, {"q": metric}, {"q": scores})


def test_a_case_by_case_drop_is_caught_and_noise_is_not() -> None:
    stable = [
        point(i, {f"c{j}": j / 10 + (0.01 if (i + j) % 2 else -0.01) for j in range(10)}) for i in range(5)
    ]
    same = point(5, {f"c{j}": j / 10 for j in range(10)})
    assert evaluate(same, stable, AlertRules()) == []
    drop = point(5, {f"c{j}": j / 10 - 0.05 for j in range(10)})  # 0.05 < the run's own SE (~0.1)
    alerts = evaluate(drop, stable, AlertRules())
    assert [a.rule for a in alerts] == ["quality"] and "paired over 10 cases" in alerts[0].message
    assert evaluate(drop, stable[:2], AlertRules()) == []  # too little history: no trend yet


def test_direction_and_too_few_pairs() -> None:
    assert paired_p_value([(-0.1, 0.0)] * 5, higher_is_better=True) == 0.0
    assert paired_p_value([(-0.1, 0.0)] * 5, higher_is_better=False) == 1.0
    earlier = [point(i, {"a": 0.5 + i % 2 * 0.01, "b": 0.6, "c": 0.7}) for i in range(4)]
    renamed = point(4, {"x": 0.2, "y": 0.25, "z": 0.3})  # no case pairs up: run means and SEs
    alerts = evaluate(renamed, earlier, AlertRules())
    assert alerts and "each with its own standard error" in alerts[0].message


def test_spikes_and_model_change() -> None:
    scores = {f"c{j}": 0.5 for j in range(50)}
    earlier = [
        point(
            i,
            scores,
            latency_p95_ms=1000 + i,
            cost_per_case_usd=0.002,
            retrieval_failures=0,
            model_versions=["a"],
        )
        for i in range(5)
    ]
    now = point(
        5, scores, latency_p95_ms=1800, cost_per_case_usd=0.003, errors=12, retrieval_failures=9,
        unmeasured=8, model_versions=["b"],
    )  # fmt: skip
    by_rule = {a.rule: a for a in evaluate(now, earlier, AlertRules())}
    assert set(by_rule) == {
        "latency_p95",
        "cost_per_case",
        "error_rate",
        "retrieval_failures",
        "unmeasured",
        "model_change",
    }
    assert by_rule["model_change"].severity == "info" and "a → b" in by_rule["model_change"].message
    assert "1.8× its trailing median 1,002 ms" in by_rule["latency_p95"].message  # with its unit
    assert by_rule["latency_p95"].unit == "ms"
    assert "24.0% (12 of 50) against 0.0%" in by_rule["error_rate"].message
    quiet = AlertRules.model_validate({"latency_p95": {"factor": 2.0}, "error_rate": {"enabled": False}})
    assert {"latency_p95", "error_rate"}.isdisjoint(a.rule for a in evaluate(now, earlier, quiet))


def test_numbers_are_fixed_point() -> None:
    assert [fmt(v) for v in (0.000012, 0.4861, 3.14159, 12345.6, 0)] == [
        "0.0000120",
        "0.486",
        "3.14",
        "12,346",
        "0",
    ]


SCENARIOS = [Scenario(20, 0.05), Scenario(100, 0.1), Scenario(60, 0.2, binary=True)]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=str)
def test_false_alerts_at_most_one_per_hundred_runs_per_rule(scenario: Scenario) -> None:
    runs = 300
    counts = false_alerts(scenario, runs, seed=7)
    for rule in RULES:
        assert counts[rule] <= runs / 100, (rule, counts)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=str)
def test_a_two_se_drop_is_caught_within_two_runs(scenario: Scenario) -> None:
    caught = sum(caught_within(scenario, "quality", seed) for seed in range(40))
    assert caught >= 0.9 * 40


def test_truncation_is_a_share_of_the_generated_answers_and_old_rows_raise_nothing() -> None:
    import scipy.stats

    scores = {f"c{j}": 0.5 for j in range(50)}
    earlier = [point(i, scores, truncated=i % 2) for i in range(5)]  # 2 of 250
    now = point(5, scores, truncated=10, errors=10)  # 10 of the 40 answers generated
    by_rule = {a.rule: a for a in evaluate(now, earlier, AlertRules())}
    alert = by_rule["truncation_rate"]
    assert "truncation rate 25.0% (10 of 40) against 0.8%" in alert.message and alert.value == 0.25
    reference = scipy.stats.binomtest(10, 12, 40 / 290, alternative="greater").pvalue
    assert alert.p_value == pytest.approx(reference)
    recorded_before = [point(i, scores) for i in range(5)]  # rows from before migration 0003
    assert "truncation_rate" not in {a.rule for a in evaluate(now, recorded_before, AlertRules())}
