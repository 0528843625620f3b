"""Small, well-defined statistics used by summaries."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def percentiles(values: Sequence[float], qs: Sequence[float]) -> list[float | None]:
    """Percentiles by linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return [None for _ in qs]
    arr = np.asarray(values, dtype=float)
    return [float(v) for v in np.percentile(arr, qs)]


def mean_ci(values: Sequence[float], z: float = 1.959963984540054) -> tuple[float, float, float, float]:
    """Mean, sample std, and a normal-approximation 95% confidence interval of the mean."""
    n = len(values)
    arr = np.asarray(values, dtype=float)
    mean = float(arr.mean())
    if n < 2:
        return mean, 0.0, mean, mean
    std = float(arr.std(ddof=1))
    half = z * std / math.sqrt(n)
    return mean, std, mean - half, mean + half


def wilson_interval(successes: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Wilson score interval for a proportion (well-behaved near 0 and 1, unlike the normal one)."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


# --- paired comparisons for the regression gate ------------------------------------------


class PairedResult:
    """A paired comparison: mean difference (candidate − baseline), its CI and a p-value."""

    __slots__ = ("ci_high", "ci_low", "mean", "n", "p_value", "sd")

    def __init__(self, mean: float, ci_low: float, ci_high: float, p_value: float, n: int, sd: float):
        self.mean, self.ci_low, self.ci_high, self.p_value, self.n, self.sd = (
            mean,
            ci_low,
            ci_high,
            p_value,
            n,
            sd,
        )


def bootstrap_resample_means(
    values: np.ndarray, resamples: int, rng: np.random.Generator, statistic: str = "mean", q: float = 95.0
) -> np.ndarray:
    """`resamples` bootstrap replicates of a statistic over rows of `values` (1-D, or 2-D
    with one column per paired sample), drawn in chunks so memory stays bounded."""
    n = values.shape[0]
    out = np.empty((resamples,) if values.ndim == 1 else (resamples, values.shape[1]))
    chunk = max(1, min(resamples, 4_000_000 // max(n, 1)))
    for start in range(0, resamples, chunk):
        k = min(chunk, resamples - start)
        idx = rng.integers(0, n, size=(k, n))
        sample = values[idx]
        if statistic == "mean":
            out[start : start + k] = sample.mean(axis=1)
        else:
            out[start : start + k] = np.percentile(sample, q, axis=1)
    return out


def paired_bootstrap(diffs: Sequence[float], resamples: int = 1000, seed: int = 0) -> PairedResult:
    """Percentile bootstrap over cases of the mean paired difference, with a two-sided
    bootstrap p-value for 'no difference' (seeded: the same data gives the same verdict)."""
    d = np.asarray(diffs, dtype=float)
    n = len(d)
    mean = float(d.mean())
    sd = float(d.std(ddof=1)) if n > 1 else 0.0
    if n < 2 or sd == 0.0:
        p = 1.0 if mean == 0.0 else 1.0 / (resamples + 1)
        return PairedResult(mean, mean, mean, p if n >= 2 else 1.0, n, sd)
    means = bootstrap_resample_means(d, resamples, np.random.default_rng(seed))
    lo, hi = np.percentile(means, [2.5, 97.5])
    return PairedResult(mean, float(lo), float(hi), bootstrap_p_value(means), n, sd)


def bootstrap_p_value(replicates: np.ndarray) -> float:
    """Two-sided p-value for 'no difference': how often the replicates fall on either side of 0."""
    below = int((replicates <= 0).sum())
    above = int((replicates >= 0).sum())
    return min(1.0, 2 * (min(below, above) + 1) / (len(replicates) + 1))


def mcnemar_exact(baseline_pass: Sequence[bool], candidate_pass: Sequence[bool]) -> tuple[int, int, float]:
    """McNemar's exact test on paired pass/fail: (pass→fail count, fail→pass count, two-sided p)."""
    from scipy.stats import binomtest

    b = sum(1 for x, y in zip(baseline_pass, candidate_pass, strict=True) if x and not y)
    c = sum(1 for x, y in zip(baseline_pass, candidate_pass, strict=True) if y and not x)
    if b + c == 0:
        return b, c, 1.0
    return b, c, float(binomtest(b, b + c, 0.5).pvalue)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values (controls the family-wise false-alarm rate)."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [1.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def minimum_detectable_effect(sd: float, n: int, alpha: float = 0.05, power: float = 0.8) -> float | None:
    """Smallest true mean difference a two-sided level-`alpha` paired test detects with `power`."""
    if n < 2:
        return None
    from scipy.stats import norm

    return float((norm.ppf(1 - alpha / 2) + norm.ppf(power)) * sd / math.sqrt(n))
