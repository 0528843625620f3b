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
