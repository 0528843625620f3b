"""Helpers of the comparison tests: result lines built from figures."""

from __future__ import annotations

from evalkit.types import CaseResult, Message, StoredScore, Usage


def scored(
    variant: str,
    case: int,
    value: float | None,
    *,
    passed: bool | None = None,
    cost: float | None = None,
    latency: float | None = 100.0,
    repeat: int = 0,
    error: str | None = None,
    suite: str = "s",
    metric: str = "exact",
) -> CaseResult:
    """One result of `variant` on case `c{case}` with one score `metric` (its value and mark)."""
    return CaseResult(
        suite=suite,
        case_id=f"c{case}",
        variant=variant,
        repeat=repeat,
        provider=variant,
        messages=[Message(role="user", content="x")],
        output=None if error else "answer",
        error=error,
        latency_ms=latency,
        usage=Usage(input_tokens=10, output_tokens=5),
        cost_usd=cost,
        scores={} if error else {metric: StoredScore(value=value, passed=passed)},
    )
