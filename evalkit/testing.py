"""Assertions on evalkit runs for hand-written tests (pytest or plain asserts): each raises
`AssertionError` with what was measured and what was expected."""

from __future__ import annotations

from evalkit.api import RunResult
from evalkit.types import CaseResult


def _bounds(what: str, value: float | None, at_least: float | None, at_most: float | None) -> None:
    if value is None:
        raise AssertionError(f"{what}: not measured")
    if at_least is not None and value < at_least:
        raise AssertionError(f"{what} = {value:g}, expected at least {at_least:g}")
    if at_most is not None and value > at_most:
        raise AssertionError(f"{what} = {value:g}, expected at most {at_most:g}")


def assert_score(
    result: CaseResult, name: str, *, at_least: float | None = None, at_most: float | None = None
) -> None:
    """One case's score `name` lies within the bounds."""
    score = result.scores.get(name)
    if score is None:
        raise AssertionError(
            f"{result.key}: no score {name!r} (has {', '.join(sorted(result.scores)) or 'none'})"
        )
    _bounds(f"{result.key} {name}", score.value, at_least, at_most)


def assert_metric(
    run: RunResult,
    name: str,
    *,
    suite: str | None = None,
    variant: str | None = None,
    at_least: float | None = None,
    at_most: float | None = None,
) -> None:
    """A metric's mean over a suite × variant lies within the bounds."""
    group = run.group(suite, variant)
    metric = group.metrics.get(name)
    if metric is None:
        raise AssertionError(f"{group.suite} · {group.variant}: no metric {name!r}")
    _bounds(f"{group.suite} · {group.variant} {name} mean", metric.mean, at_least, at_most)


def assert_pass_rate(
    run: RunResult, *, at_least: float, suite: str | None = None, variant: str | None = None
) -> None:
    group = run.group(suite, variant)
    _bounds(f"{group.suite} · {group.variant} pass rate", group.pass_rate, at_least, None)


def assert_all_passed(run: RunResult) -> None:
    """Every case passed (no error, every deciding score passed)."""
    deciding = {(g.suite, g.variant): g.pass_metrics for g in run.summary.groups}
    bad = [
        r.key
        for r in run.results
        if r.error is not None or r.passed(deciding.get((r.suite, r.variant))) is False
    ]
    if bad:
        raise AssertionError(f"{len(bad)} case(s) did not pass: {', '.join(bad[:20])}")


def assert_no_regression(run: RunResult) -> None:
    """The gate found no regression against the baselines (and the run was gated)."""
    if run.diff is None:
        raise AssertionError(f"{run.run_dir}: not gated (no baselines compared)")
    if run.summary.regressions:
        raise AssertionError("regressed: " + "; ".join(run.summary.regressions))
