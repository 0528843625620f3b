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


def repeated(n_cases: int) -> list[CaseResult]:
    """Three repeats of each case, in an order where a case's repeats come far apart; some
    disagree, some fail, one case errs on every repeat (counted, with no sample)."""
    out = []
    for rep in range(3):
        for i in range(n_cases):
            r = scored(
                "v",
                i,
                float((i + rep) % 3 != 0),
                passed=(i + rep) % 3 != 0,
                repeat=rep,
                error="x" if i == 7 else None,
            )
            if r.output is not None and i % 4 == 0:
                r = r.model_copy(update={"output": f"answer {rep}"})
            out.append(r)
    return out
