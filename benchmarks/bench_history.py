"""Run history: how trustworthy the alerts are (simulation), how fast a big run is recorded,
and how long a 100-run trend report takes to render and how big it is.

1. Ingest: a 10,000-case run into SQLite and into PostgreSQL (a server started here).
2. Trend report: 100 runs × 200 cases, render time and file size.
3. Alerts, simulated (tests/history/simulate.py; the rules evalkit runs after every run):
   false alerts per 100 stable runs per rule, for several suite sizes and noise levels, and
   how often a step is caught within 2 runs (quality: a drop of 2x a run's standard error;
   latency 2x; cost 1.5x; errors, retrieval failures, unmeasured scores +10 points).

Usage: python -m benchmarks.bench_history [--runs 500] [--sims 100]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from benchmarks import _common  # noqa: F401  (puts the repository on sys.path)
from evalkit.history import trend
from evalkit.history.store import Filters, HistoryStore
from evalkit.spec.history import AlertRules
from tests.history.fabricate import Case, Group, make_run
from tests.history.simulate import RULES, Scenario, caught_within, false_alerts

SCENARIOS = [
    Scenario(20, 0.05),
    Scenario(20, 0.1),
    Scenario(100, 0.05),
    Scenario(100, 0.1),
    Scenario(100, 0.2),
    Scenario(500, 0.1),
    Scenario(500, 0.2),
    Scenario(100, 0.1, binary=True),
    Scenario(100, 0.3, binary=True),
    Scenario(100, 0.1, spread=0.0),  # every case alike: pairing gains nothing (the limit)
]
SHORT = {"quality": "qual", "latency_p95": "p95", "cost_per_case": "cost", "error_rate": "err",
         "retrieval_failures": "retr", "unmeasured": "unm"}  # fmt: skip


def label(s: Scenario) -> str:
    kind = f"pass/fail, {s.noise:.0%} flaky" if s.binary else f"noise sd {s.noise:.2f}"
    return f"{s.cases:>4} cases, {kind}{', no case spread' if s.spread == 0 else ''}"


def alerts(runs: int, sims: int) -> None:
    print(
        f"\n3. Alerts: false alerts per 100 stable runs ({runs} runs) | caught within 2 runs ({sims} steps)"
    )
    head = " ".join(f"{SHORT[r]:>5}" for r in RULES)
    print(f"{'scenario':<38} {head} | {head}")
    for scenario in SCENARIOS:
        t0 = time.perf_counter()
        counts = false_alerts(scenario, runs, seed=101)
        rates = " ".join(f"{100 * counts[r] / runs:>5.2f}" for r in RULES)
        caught = " ".join(
            f"{sum(caught_within(scenario, r, seed) for seed in range(sims)) / sims:>5.0%}" for r in RULES
        )
        print(f"{label(scenario):<38} {rates} | {caught}   ({time.perf_counter() - t0:.0f} s)")


def big_run(root: Path, cases: int) -> Path:
    rng = random.Random(1)
    rows = [
        Case(f"case-{i:05d}", {"exact": float(rng.random() < 0.7), "rougeL": rng.random(), "chrf": 100 * rng.random()},
             passed=rng.random() < 0.7, latency_ms=rng.uniform(200, 2000), cost_usd=0.0004)
        for i in range(cases)
    ]  # fmt: skip
    return make_run(root, 0, [Group("big", "v", rows, scorers=["exact", "rougeL", "chrf"])])


def ingest(root: Path) -> None:
    print("\n1. Ingest of a 10,000-case run (3 scores per case)")
    run_dir = big_run(root / "big", 10_000)
    with ExitStack() as stack:
        urls = {"SQLite": f"sqlite:///{root / 'ingest.sqlite'}"}
        try:
            from tests.history.postgres import postgres_server

            urls["PostgreSQL"] = stack.enter_context(postgres_server())
        except BaseException as exc:  # pytest.skip when PostgreSQL is not installed
            print(f"  PostgreSQL: not measured ({exc})")
        timings = {}
        for name, url in urls.items():
            store = HistoryStore(url)
            store.migrate()
            t0 = time.perf_counter()
            store.record(run_dir)
            timings[name] = time.perf_counter() - t0
            t0 = time.perf_counter()
            store.record(run_dir)  # re-recording replaces the run
            again = time.perf_counter() - t0
            store.close()
            print(
                f"  {name:<11} {timings[name]:6.2f} s  ({10_000 / timings[name]:,.0f} cases/s; re-record {again:.2f} s)"
            )
        if len(timings) == 2:
            print(f"  PostgreSQL / SQLite: {timings['PostgreSQL'] / timings['SQLite']:.2f}x")


def report(root: Path, runs: int = 100, cases: int = 200) -> None:
    print(f"\n2. Trend report over {runs} runs × {cases} cases")
    store = HistoryStore(f"sqlite:///{root / 'trend.sqlite'}")
    store.migrate()
    rng = random.Random(2)
    levels = [rng.random() for _ in range(cases)]
    t0 = time.perf_counter()
    for i in range(runs):
        rows = [
            Case(f"c{j}", {"quality": lv + rng.gauss(0, 0.05)}, passed=rng.random() < lv, latency_ms=rng.uniform(200, 900), cost_usd=0.001)
            for j, lv in enumerate(levels)
        ]  # fmt: skip
        store.record(make_run(root / "runs", i, [Group("s", "v", rows, model_version=f"m-{i // 30}")]))
    print(f"  {runs} runs made and recorded in {time.perf_counter() - t0:.1f} s")
    t0 = time.perf_counter()
    path = trend.write(store, Filters(), AlertRules(), root / "trend.html")
    seconds = time.perf_counter() - t0
    store.close()
    size = path.stat().st_size
    print(f"  render {seconds:.2f} s · {size / 1e6:.2f} MB ({size / runs / 1e3:.1f} kB per run)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--sims", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        ingest(root)
        report(root)
        alerts(args.runs, args.sims)


if __name__ == "__main__":
    main()
