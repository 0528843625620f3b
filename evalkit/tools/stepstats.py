"""Per-step figures of a group of results: each step name's count, errors, latency percentiles,
tokens and cost, for summary.json, the terminal and the report."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from evalkit.stats import percentiles
from evalkit.types import CaseResult, Step


class StepSummary(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid")

    name: str
    type: str
    n: int  # steps of this name over all results
    cases: int  # results with at least one
    errors: int
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None
    tokens: int | None = None
    cost_usd: float | None = None


def summarize_steps(results: Sequence[CaseResult]) -> dict[str, StepSummary] | None:
    """By step name, in order of first appearance; None when no result has a trace."""
    by_name: dict[str, list[Step]] = defaultdict(list)
    cases: dict[str, set[str]] = defaultdict(set)
    for r in results:
        for step in r.steps or ():
            by_name[step.name].append(step)
            cases[step.name].add(r.key)
    if not by_name:
        return None
    out: dict[str, StepSummary] = {}
    for name, steps in by_name.items():
        timed = [s.latency_ms for s in steps if s.latency_ms is not None]
        p50, p95 = percentiles(timed, [50, 95])
        tokens = [s.tokens for s in steps if s.tokens is not None]
        costs = [s.cost_usd for s in steps if s.cost_usd is not None]
        out[name] = StepSummary(
            name=name,
            type=steps[0].type,
            n=len(steps),
            cases=len(cases[name]),
            errors=sum(1 for s in steps if s.error is not None),
            latency_p50_ms=p50,
            latency_p95_ms=p95,
            tokens=sum(tokens) if tokens else None,
            cost_usd=sum(costs) if costs else None,
        )
    return out
