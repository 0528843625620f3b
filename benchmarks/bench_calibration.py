"""Calibration CIs on simulated judges with a known error rate: how often the reported 95%
bootstrap CIs of accuracy and Cohen's κ cover the truth, their mean width, and the time one
`agreement` takes (1,000 resamples). Writes an SVG of coverage by labelled outputs.

A simulated judge flips each human verdict with probability `error`; people pass outputs at
`prevalence`. True accuracy is 1 − error; true κ follows from the two marginals.

Usage: python -m benchmarks.bench_calibration [TRIALS] [--svg PATH]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from evalkit.report import charts
from tests.human.test_calibrate import simulated, true_kappa

SIZES = (30, 100, 300)
SETTINGS = ((0.5, 0.05), (0.3, 0.15), (0.3, 0.3))  # (prevalence, error)


def coverage(n: int, prevalence: float, error: float, trials: int, resamples: int) -> dict[str, float]:
    from evalkit.human.calibrate import agreement

    rng = np.random.default_rng(n * 1000 + int(error * 100))
    hits = {"accuracy": 0, "kappa": 0}
    width = {"accuracy": 0.0, "kappa": 0.0}
    valid = {"accuracy": 0, "kappa": 0}
    truth = {"accuracy": 1 - error, "kappa": true_kappa(prevalence, error)}
    for t in range(trials):
        got = agreement("judge", simulated(n, prevalence, error, rng), resamples=resamples, seed=t)
        for name in hits:
            f = getattr(got, name)
            if f.ci_low is None:
                continue
            valid[name] += 1
            hits[name] += f.ci_low <= truth[name] <= f.ci_high
            width[name] += f.ci_high - f.ci_low
    return {
        **{f"{k}_cover": hits[k] / max(valid[k], 1) for k in hits},
        **{f"{k}_width": width[k] / max(valid[k], 1) for k in hits},
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("trials", nargs="?", type=int, default=400)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--svg", type=Path, default=Path("calibration_coverage.svg"))
    args = parser.parse_args()
    from evalkit.human.calibrate import agreement

    rng = np.random.default_rng(0)
    pairs = simulated(300, 0.3, 0.15, rng)
    start = time.perf_counter()
    for _ in range(5):
        agreement("judge", pairs, resamples=args.resamples)
    per_call = (time.perf_counter() - start) / 5
    print(f"one agreement (300 labels, {args.resamples} resamples): {per_call * 1000:.1f} ms")
    print(f"{args.trials} simulated runs per row; nominal coverage 0.95")
    print(
        f"{'n':>5} {'prev':>5} {'error':>5} {'acc cover':>9} {'acc width':>9} {'κ cover':>8} {'κ width':>8}"
    )
    points: list[tuple[str, float, float]] = []
    for prevalence, error in SETTINGS:
        for n in SIZES:
            row = coverage(n, prevalence, error, args.trials, args.resamples)
            print(
                f"{n:>5} {prevalence:>5.2f} {error:>5.2f} {row['accuracy_cover']:>9.3f} "
                f"{row['accuracy_width']:>9.3f} {row['kappa_cover']:>8.3f} {row['kappa_width']:>8.3f}"
            )
            points.append((f"κ e={error:g} n={n}", n, row["kappa_cover"]))
    svg = charts.pareto("κ CI coverage (nominal 0.95)", points, "labelled outputs", "coverage")
    if svg:
        args.svg.write_text(svg, encoding="utf-8")
        print(f"wrote {args.svg}")


if __name__ == "__main__":
    main()
