"""The regression gate: diff speed on 10,000-case runs, and its error rates by simulation.

Usage: python -m benchmarks.bench_diff
"""

from __future__ import annotations

import time

import numpy as np

from evalkit.compare.gate import diff_groups
from tests.compare.test_gate import aa_pair, group, variants_with_one_drop


def main() -> None:
    rng = np.random.default_rng(0)
    n = 10_000
    metrics = {f"m{i}": rng.uniform(0, 1, n) for i in range(5)}
    base = group(metrics)
    cand = group({k: np.clip(v + rng.normal(0, 0.05, n), 0, 1) for k, v in metrics.items()})
    for r in (*base.records, *cand.records):
        r.latency_ms = float(rng.normal(200, 30))
        r.cost_usd = float(rng.uniform(1e-4, 2e-4))
    started = time.perf_counter()
    diff_groups([(base, cand, {}, {})], resamples=1000)
    print(
        f"diff of two {n}-case runs, 5 metrics + latency P95 + cost, 1000 resamples: {time.perf_counter() - started:.2f} s"
    )

    print("\nA/A false-alarm rate (200 simulated pairs each; target ≤ 5%)")
    for size in (20, 60, 200, 1000):
        for pass_rate in (0.5, 0.9):
            alarms = sum(
                diff_groups([(*aa_pair(rng, size, pass_rate), {}, {})], resamples=400, seed=k).regressed
                for k in range(200)
            )
            print(f"  n={size:5d} pass rate {pass_rate:.1f}: {alarms / 200:.3f}")

    print("\npower at a true drop of 2× the printed MDE (100 simulations; target ≥ 80%)")
    for size in (30, 200, 1000):
        caught = 0
        for k in range(100):
            mu = rng.uniform(0.2, 0.8, size)
            b = group({"rougeL": mu + rng.normal(0, 0.1, size)})
            probe = diff_groups(
                [(b, group({"rougeL": mu + rng.normal(0, 0.1, size)}), {}, {})], resamples=400, seed=k
            )
            mde = next(m for m in probe.groups[0].metrics if m.metric == "rougeL").mde or 0.0
            c = group({"rougeL": mu + rng.normal(0, 0.1, size) - 2 * mde})
            caught += diff_groups([(b, c, {}, {})], resamples=400, seed=k).regressed
        print(f"  n={size:5d}: MDE≈{mde:.4f}, caught {caught}/100")

    print("\npower with many variants: one variant's rougeL falls 1.00 → 0.43 (30 cases), the others")
    print("are A/A re-runs; Holm over every gated comparison (20 simulations each)")
    for count in (1, 13, 50):
        caught = alarms = 0
        for k in range(20):
            report = diff_groups(variants_with_one_drop(rng, count), resamples=400, seed=k)
            caught += report.groups[0].verdict == "regressed"
            alarms += any(g.verdict == "regressed" for g in report.groups[1:])
        print(f"  {count:2d} variant(s): drop caught {caught}/20, false alarm among the others {alarms}/20")


if __name__ == "__main__":
    main()
