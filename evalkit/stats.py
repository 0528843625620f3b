"""Small, well-defined statistics used by summaries."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy loads where a figure needs it, not when a command imports this module
    import numpy as np


SMALL = 100_000  # up to this many values the figures are computed without loading numpy (its import
# costs what sorting 100,000 floats in Python does: a 20,000-case run concluded without it)
RESAMPLE_BLOCK = 1_000_000  # values drawn per block of bootstrap replicates (8 MB per array)


def percentiles(values: Sequence[float], qs: Sequence[float]) -> list[float | None]:
    """Percentiles by linear interpolation between closest ranks (numpy's default; small
    samples in Python with numpy's own interpolation formula, so both give the same figures)."""
    if not values:
        return [None for _ in qs]
    if len(values) <= SMALL:
        ordered = sorted(float(v) for v in values)
        return [_interpolated(ordered, q) for q in qs]
    import numpy as np

    arr = np.asarray(values, dtype=float)
    return [float(v) for v in np.percentile(arr, qs)]


def _interpolated(ordered: Sequence[float], q: float) -> float:
    """numpy's 'linear' percentile of sorted values: its _lerp, both halves."""
    rank = q / 100 * (len(ordered) - 1)
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    t = rank - low
    a, b = ordered[low], ordered[high]
    diff = b - a
    return b - diff * (1 - t) if t >= 0.5 else a + diff * t


def mean_ci(
    values: Sequence[float],
    z: float = 1.959963984540054,
    bounds: tuple[float, float] | None = None,
) -> tuple[float, float, float, float]:
    """Mean, sample std, and a 95% confidence interval of the mean.

    Unbounded metrics get the normal approximation. A bounded metric (`bounds`: the least
    and greatest value its scorer can give) keeps the interval inside its range: values all at
    the two ends (0/1 pass marks) get the Wilson interval of that proportion, which also
    stays honest at 0 of n and n of n; other values the normal interval, clipped."""
    n = len(values)
    mean, std = _mean_std(values)
    if bounds is not None:
        low, high = bounds
        if high > low and all(v in (low, high) for v in values):
            lo, hi = wilson_interval(sum(1 for v in values if v == high), n, z)
            return mean, std, low + lo * (high - low), low + hi * (high - low)
    if n < 2:
        return mean, 0.0, mean, mean
    half = z * std / math.sqrt(n)
    lo, hi = mean - half, mean + half
    if bounds is not None:
        lo, hi = max(lo, bounds[0]), min(hi, bounds[1])
    return mean, std, lo, hi


def _mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation from exactly rounded sums (math.fsum), so the order the
    values come in (a merged run's plan order, an unsharded run's finishing order) never moves a
    last bit."""
    n = len(values)
    mean = math.fsum(values) / n
    return mean, math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1)) if n >= 2 else 0.0


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
    import numpy as np

    n = values.shape[0]
    out = np.empty((resamples,) if values.ndim == 1 else (resamples, values.shape[1]))
    chunk = max(1, min(resamples, RESAMPLE_BLOCK // max(n, 1)))
    # a percentile of 2-D rows: one column at a time, each resample's values contiguous (the
    # same figures, a fifth of the time np.percentile takes along the middle axis of k × n × 2)
    columns = [np.ascontiguousarray(values[:, j]) for j in range(values.shape[1])] if values.ndim == 2 else []
    for start in range(0, resamples, chunk):
        k = min(chunk, resamples - start)
        idx = rng.integers(0, n, size=(k, n))
        if statistic == "mean":
            out[start : start + k] = values[idx].mean(axis=1)
        elif not columns:
            out[start : start + k] = np.percentile(values[idx], q, axis=1)
        else:
            for j, column in enumerate(columns):
                out[start : start + k, j] = np.percentile(column[idx], q, axis=1)
    return out


def paired_t(diffs: Sequence[float], alpha: float = 0.05) -> PairedResult:
    """The mean paired difference, the paired t-test's two-sided p-value for 'no difference' and
    the t interval at level 1 − alpha: test and interval are one method, so the interval
    excludes 0 exactly when p < alpha.

    The p-value is analytic (no bootstrap count, which could not fall below 2/(resamples+1):
    Holm multiplies it by the family size). Under 'no difference' (an A/A re-run) paired
    differences are symmetric about 0, where the t-test holds its level. Every difference
    equal (sd 0) is the sign test's case: the interval is that one value when the sign test
    rejects, else it reaches 0 (the sign test's interval for fewer than six cases is unbounded)."""
    import numpy as np

    d = np.asarray(diffs, dtype=float)
    n = len(d)
    mean = float(d.mean())
    sd = float(d.std(ddof=1)) if n > 1 else 0.0
    p = paired_t_p_value(mean, sd, n)
    if sd == 0.0:
        lo, hi = (mean, mean) if p < alpha else (min(mean, 0.0), max(mean, 0.0))
        return PairedResult(mean, lo, hi, p, n, sd)
    from scipy.special import stdtrit

    half = float(stdtrit(n - 1, 1 - alpha / 2)) * sd / math.sqrt(n)
    return PairedResult(mean, mean - half, mean + half, p, n, sd)


def mcnemar_interval(
    pass_to_fail: int, fail_to_pass: int, n: int, alpha: float = 0.05
) -> tuple[float, float]:
    """The exact interval, at level 1 − alpha, of a paired pass-rate difference (candidate −
    baseline) that matches McNemar's exact test: the Clopper–Pearson interval of the share of
    discordant pairs that moved up, θ = fail→pass / (pass→fail + fail→pass), scaled to the
    difference (discordant / n) · (2θ − 1), conditional on the discordant count as the test is.
    It excludes 0 exactly when the exact test's p < alpha (both invert the same binomial tails)."""
    discordant = pass_to_fail + fail_to_pass
    if discordant == 0 or n == 0:
        return 0.0, 0.0
    from scipy.special import betaincinv

    up = fail_to_pass
    lo = 0.0 if up == 0 else float(betaincinv(up, discordant - up + 1, alpha / 2))
    hi = 1.0 if up == discordant else float(betaincinv(up + 1, discordant - up, 1 - alpha / 2))
    scale = discordant / n
    return scale * (2 * lo - 1), scale * (2 * hi - 1)


def wald_interval(estimate: float, replicates: np.ndarray, alpha: float = 0.05) -> tuple[float, float]:
    """estimate ± z · (bootstrap standard error): the interval `wald_p_value` inverts, so it
    excludes 0 exactly when that p < alpha. No spread (every replicate equal): the replicates' range."""
    import numpy as np

    se = float(np.std(replicates, ddof=1)) if len(replicates) > 1 else 0.0
    if se == 0.0 or not math.isfinite(se):
        return float(np.min(replicates)), float(np.max(replicates))
    from statistics import NormalDist

    half = NormalDist().inv_cdf(1 - alpha / 2) * se
    return estimate - half, estimate + half


def paired_t_p_value(mean: float, sd: float, n: int) -> float:
    """Two-sided p-value of the paired t-test (Student's t, n − 1 degrees of freedom).

    Every difference equal and non-zero (sd 0) gets the exact sign test's p, 2 · ½ⁿ:
    n cases all moving the same way is that unlikely under 'no difference'."""
    if n < 2 or mean == 0.0:
        return 1.0
    if sd == 0.0:
        return min(1.0, 2.0 * 0.5**n)
    from scipy.special import stdtr

    t = abs(mean) / (sd / math.sqrt(n))
    return float(min(1.0, 2.0 * stdtr(n - 1, -t)))


def bootstrap_p_value(replicates: np.ndarray) -> float:
    """Two-sided p-value for 'no difference': how often the replicates fall on either side of 0
    (resolution 2/(len+1); see `wald_p_value` for one that can get smaller)."""
    below = int((replicates <= 0).sum())
    above = int((replicates >= 0).sum())
    return min(1.0, 2 * (min(below, above) + 1) / (len(replicates) + 1))


def wald_p_value(estimate: float, replicates: np.ndarray) -> float:
    """Two-sided p-value of `estimate` against its bootstrap standard error (normal tail):
    unlike counting replicates, it keeps shrinking as the evidence grows."""
    import numpy as np

    se = float(np.std(replicates, ddof=1)) if len(replicates) > 1 else 0.0
    if estimate == 0.0:
        return 1.0
    if se == 0.0 or not math.isfinite(se):
        return bootstrap_p_value(replicates)
    from scipy.special import ndtr

    return float(min(1.0, 2.0 * ndtr(-abs(estimate) / se)))


def mcnemar_exact(baseline_pass: Sequence[bool], candidate_pass: Sequence[bool]) -> tuple[int, int, float]:
    """McNemar's exact test on paired pass/fail: (pass→fail count, fail→pass count, two-sided p)."""
    b = sum(1 for x, y in zip(baseline_pass, candidate_pass, strict=True) if x and not y)
    c = sum(1 for x, y in zip(baseline_pass, candidate_pass, strict=True) if y and not x)
    if b + c == 0:
        return b, c, 1.0
    return b, c, binomial_two_sided_half(b, b + c)


def binomial_two_sided_half(k: int, n: int) -> float:
    """Exact two-sided binomial test of k successes in n at p = 1/2 (as scipy's binomtest, in
    integers: importing scipy.stats costs seconds per run for one sum)."""
    tail = sum(math.comb(n, i) for i in range(min(k, n - k) + 1))
    return min(1.0, 2 * tail / (1 << n))


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
    from statistics import NormalDist

    z = NormalDist().inv_cdf
    return float((z(1 - alpha / 2) + z(power)) * sd / math.sqrt(n))
