"""evalkit.stats: small samples are computed in Python (no numpy import for a small run's
summary) and give numpy's own figures; large samples go through numpy."""

from __future__ import annotations

import random
import subprocess
import sys

import numpy as np
import pytest

from evalkit import stats


@pytest.mark.parametrize("n", [1, 2, 3, 8, 129, stats.SMALL, stats.SMALL + 1, 3 * stats.SMALL])
def test_percentiles_and_mean_ci_equal_numpys_on_both_paths(n: int) -> None:
    rng = random.Random(n)
    values = [rng.lognormvariate(5, 1) for _ in range(n)]
    qs = [0, 2.5, 33.3, 50, 95, 99, 100]
    assert stats.percentiles(values, qs) == [float(v) for v in np.percentile(np.asarray(values), qs)]
    mean, std, lo, hi = stats.mean_ci(values)
    assert mean == pytest.approx(float(np.mean(values)), rel=1e-12)
    expected_std = float(np.std(values, ddof=1)) if n > 1 else 0.0
    assert std == pytest.approx(expected_std, rel=1e-12)
    assert lo <= mean <= hi


def test_a_pass_fail_metric_gets_the_wilson_interval_without_numpy() -> None:
    code = (
        "import sys; from evalkit import stats\n"
        "m, s, lo, hi = stats.mean_ci([0.0, 1.0, 1.0, 1.0], bounds=(0.0, 1.0))\n"
        "assert (m, lo, hi) == (0.75, *stats.wilson_interval(3, 4)), (m, lo, hi)\n"
        "assert stats.percentiles([3.0, 1.0, 2.0], [50]) == [2.0]\n"
        "print('numpy' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "False", out.stderr[-2000:]


@pytest.mark.parametrize("statistic", ["mean", "percentile"])
@pytest.mark.parametrize("shape", [(1500,), (1500, 2), (7, 3)])
def test_bootstrap_replicates_are_numpys_over_the_same_draws(
    statistic: str, shape: tuple[int, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The replicates equal numpy's statistic over the whole resampled block (a percentile of
    2-D rows is computed a column at a time: the same figures to the last bit)."""
    monkeypatch.setattr(stats, "RESAMPLE_BLOCK", 4000)  # several blocks
    values = np.random.default_rng(1).lognormal(3, 1, size=shape)
    got = stats.bootstrap_resample_means(values, 25, np.random.default_rng(7), statistic, q=95.0)
    rng, n, expected = np.random.default_rng(7), shape[0], []
    chunk = max(1, min(25, 4000 // n))
    for start in range(0, 25, chunk):
        sample = values[rng.integers(0, n, size=(min(chunk, 25 - start), n))]
        expected.append(sample.mean(axis=1) if statistic == "mean" else np.percentile(sample, 95.0, axis=1))
    assert np.array_equal(got, np.concatenate(expected))
