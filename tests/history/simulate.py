"""Simulated run histories for measuring the alert rules (used by the fast test with fixed seeds
and by benchmarks/bench_history.py). Every point goes through evalkit.history.alerts.evaluate,
the function `evalkit run` and `evalkit history check` call.

The model: a suite of n cases, each with its own level (some cases are easy, some hard), re-run
every night. A run's case score is the case level plus run-to-run noise (continuous scores), or
a pass/fail draw with the case's own pass probability (most cases nearly always pass or fail,
some are flaky). Latency is log-normal per case, cost per case follows token counts, and errors,
retrieval failures and unmeasured scores are binomial.
"""

from __future__ import annotations

import math
import random
import statistics
from collections import Counter
from dataclasses import dataclass

from evalkit.history.alerts import Point, evaluate
from evalkit.spec.history import AlertRules

RULES = ("quality", "latency_p95", "cost_per_case", "error_rate", "retrieval_failures", "unmeasured")


@dataclass(frozen=True)
class Scenario:
    cases: int
    noise: float  # run-to-run sd of a case's score (continuous) ...
    binary: bool = False  # ... or pass/fail cases (noise = share of flaky cases)
    spread: float = 0.25  # sd of case levels: 0 = every case alike (no pairing gain)


class Suite:
    def __init__(self, scenario: Scenario, rng: random.Random):
        self.s, self.rng = scenario, rng
        n = scenario.cases
        if scenario.binary:
            flaky = set(rng.sample(range(n), round(scenario.noise * n)))
            self.levels = [
                rng.uniform(0.2, 0.8) if i in flaky else rng.choice((0.03, 0.97)) for i in range(n)
            ]
        else:
            self.levels = [min(max(rng.gauss(0.6, scenario.spread), 0.0), 1.0) for _ in range(n)]
        self.latency = [rng.uniform(300, 1500) for _ in range(n)]
        self.tokens = [rng.randint(200, 800) for _ in range(n)]
        self.shift = 0.0  # every case level moves by this share of itself from the step on
        self.error_p, self.retrieval_p, self.unmeasured_p = 0.01, 0.02, 0.01
        self.latency_factor = self.cost_factor = 1.0

    def run_se(self) -> float:
        """The standard error of a typical stable run's mean (averaged over a few draws)."""
        return statistics.fmean(_se(list(self._scores().values())) for _ in range(20))

    def _scores(self) -> dict[str, float]:
        out = {}
        for i, level in enumerate(self.levels):
            p = min(max(level * (1 + self.shift), 0.0), 1.0)
            if self.s.binary:
                out[f"c{i}"] = 1.0 if self.rng.random() < p else 0.0
            else:
                out[f"c{i}"] = min(max(p + self.rng.gauss(0, self.s.noise), 0.0), 1.0)
        return out

    def point(self, t: int) -> Point:
        n, rng = self.s.cases, self.rng
        scores = self._scores()
        values = list(scores.values())
        lat = sorted(self.latency_factor * x * math.exp(rng.gauss(0, 0.3)) for x in self.latency)
        p95 = lat[min(n - 1, math.ceil(0.95 * n) - 1)]
        cost = self.cost_factor * statistics.fmean(t_ * rng.uniform(0.95, 1.05) for t_ in self.tokens) * 2e-6
        figures = {
            "suite": "sim", "variant": "v", "results": n, "model_versions": ["m-1"],
            "errors": _binomial(rng, n, self.error_p), "latency_p95_ms": p95, "cost_per_case_usd": cost,
            "retrieval_failures": _binomial(rng, n, self.retrieval_p),
            "unmeasured": _binomial(rng, n, self.unmeasured_p),
        }  # fmt: skip
        metric = {
            "metric": "quality",
            "mean": statistics.fmean(values),
            "std": _sd(values),
            "n": n,
        }
        return Point(f"r{t}", figures, {"quality": {**metric, "higher_is_better": True}}, {"quality": scores})


def _sd(values: list[float]) -> float:
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def _se(values: list[float]) -> float:
    return _sd(values) / math.sqrt(len(values))


def _binomial(rng: random.Random, n: int, p: float) -> int:
    return sum(1 for _ in range(n) if rng.random() < p)


def false_alerts(scenario: Scenario, runs: int, seed: int, rules: AlertRules | None = None) -> Counter[str]:
    """Alerts per rule over `runs` stable runs (after a warm-up of one window)."""
    rules = rules or AlertRules()
    rng = random.Random(seed)
    suite = Suite(scenario, rng)
    history = [suite.point(t) for t in range(rules.window + 1)]
    counts: Counter[str] = Counter()
    for t in range(runs):
        current = suite.point(rules.window + t)
        counts.update(a.rule for a in evaluate(current, history, rules))
        history = [*history[1:], current]
    return counts


def caught_within(
    scenario: Scenario, step: str, seed: int, within: int = 2, rules: AlertRules | None = None
) -> bool:
    """Is a step change caught by its rule at the step's run or the `within - 1` runs after?"""
    rules = rules or AlertRules()
    rng = random.Random(seed)
    suite = Suite(scenario, rng)
    history = [suite.point(t) for t in range(rules.window + 1)]
    rule = apply_step(suite, step)
    for t in range(within):
        current = suite.point(rules.window + t)
        if any(a.rule == rule for a in evaluate(current, history, rules)):
            return True
        history = [*history[1:], current]
    return False


def apply_step(suite: Suite, step: str) -> str:
    """Change the system the way `step` says; returns the rule that should see it."""
    if step == "quality":
        # the mean drops by 2x a run's standard error (each case in proportion to its level)
        suite.shift = -2 * suite.run_se() / statistics.fmean(suite.levels)
    elif step == "latency_p95":
        suite.latency_factor = 2.0
    elif step == "cost_per_case":
        suite.cost_factor = 1.5
    elif step == "error_rate":
        suite.error_p += 0.10
    elif step == "retrieval_failures":
        suite.retrieval_p += 0.10
    elif step == "unmeasured":
        suite.unmeasured_p += 0.10
    return step
