"""What the cost–quality frontier adds to concluding a run: the per-case tally fed from the one
pass over the results, and the paired tests against the best, against the aggregation of the
same results (summarize_groups) on the same lines, at 20,000 cases × 4 variants by default.

Prints the CPU time of each part (best of --repeats), the frontier's share of aggregation, and the
peak memory the tally adds (tracemalloc), for a continuous main metric and a pass/fail one.

Usage: python -m benchmarks.bench_frontier [--cases 20000] [--variants 4] [--repeats 3]
"""

from __future__ import annotations

import argparse
import random
import time
import tracemalloc

from evalkit.compare.aggregate import summarize_groups
from evalkit.compare.frontier import FrontierTally, frontiers
from evalkit.types import CaseResult, Message, MetricInfo, StoredScore, Usage

METRICS = {
    "continuous": MetricInfo(name="rougeL", scorer="rouge", value_range=(0.0, 1.0)),
    "pass_fail": MetricInfo(
        name="exact", scorer="exact", kind="pass_fail", verdict=True, counts_for_pass=True
    ),
}


def results(cases: int, variants: int, info: MetricInfo, seed: int = 0) -> list[CaseResult]:
    rng = random.Random(seed)
    level = [rng.random() for _ in range(cases)]
    out = []
    for v in range(variants):
        for i in range(cases):
            x = min(1.0, max(0.0, level[i] - 0.01 * v + rng.gauss(0, 0.05)))
            if info.verdict:
                x = float(x > 0.5)
            out.append(
                CaseResult(
                    suite="s",
                    case_id=f"c{i}",
                    variant=f"v{v}",
                    repeat=0,
                    provider="p",
                    messages=[Message(role="user", content="q")],
                    output="a",
                    latency_ms=100.0 + rng.random() * 50 * (v + 1),
                    usage=Usage(input_tokens=10, output_tokens=5),
                    cost_usd=0.001 / (v + 1),
                    scores={info.name: StoredScore(value=x, passed=(x == 1.0) if info.verdict else None)},
                )
            )
    return out


def best_of(repeats: int, fn) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeats):
        start = time.process_time()  # CPU time: the machine is shared
        fn()
        times.append(time.process_time() - start)
    return min(times)


def tally(rows: list[CaseResult], metrics: dict[str, list[MetricInfo]]) -> FrontierTally:
    t = FrontierTally(metrics)
    for r in rows:
        t.add(r)
    return t


def measure(kind: str, info: MetricInfo, cases: int, variants: int, repeats: int) -> str:
    rows = results(cases, variants, info)
    metrics = {"s": [info]}
    groups = list(summarize_groups(rows, metrics, {}).values())
    filled = tally(rows, metrics)
    t_aggregate = best_of(repeats, lambda: summarize_groups(rows, metrics, {}))
    t_tally = best_of(repeats, lambda: tally(rows, metrics))
    t_tests = best_of(repeats, lambda: frontiers(groups, filled))
    tracemalloc.start()
    kept = tally(rows, metrics)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    (f,) = frontiers(groups, kept)
    return (
        f"{kind:10} {cases:,} cases × {variants} variants: aggregation {t_aggregate * 1000:,.0f} ms; "
        f"frontier tally {t_tally * 1000:,.0f} ms + tests {t_tests * 1000:,.0f} ms "
        f"({(t_tally + t_tests) / t_aggregate:.0%} of aggregation); tally peak {peak / 2**20:,.1f} MB; "
        f"best {f.best}, pick {f.pick}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=20_000)
    parser.add_argument("--variants", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    for kind, info in METRICS.items():
        print(measure(kind, info, args.cases, args.variants, args.repeats))


if __name__ == "__main__":
    main()
