"""Metric series per suite × variant, read from history rows (for the terminal and the report)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

# figures kept per suite × variant (run_groups columns), beside the scorers' metrics
FIGURES = ("pass_rate", "error_rate", "latency_p50_ms", "latency_p95_ms", "cost_per_case_usd")
LOWER_IS_BETTER = {"error_rate", "latency_p50_ms", "latency_p95_ms", "cost_per_case_usd"}


@dataclass
class Series:
    suite: str
    variant: str
    metric: str
    run_ids: list[str] = field(default_factory=list)
    values: list[float | None] = field(default_factory=list)
    lows: list[float | None] = field(default_factory=list)
    highs: list[float | None] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.suite} · {self.variant}"


def series_for(
    metric: str, groups: Iterable[dict[str, Any]], metrics: Iterable[dict[str, Any]]
) -> list[Series]:
    """One series per suite × variant for a metric name (a scorer's, or one of FIGURES)."""
    out: dict[tuple[str, str], Series] = {}
    if metric in FIGURES:
        for g in groups:
            s = out.setdefault((g["suite"], g["variant"]), Series(g["suite"], g["variant"], metric))
            s.run_ids.append(g["run_id"])
            s.values.append(g.get(metric))
            band = metric == "pass_rate"
            s.lows.append(g.get("pass_rate_low") if band else None)
            s.highs.append(g.get("pass_rate_high") if band else None)
    else:
        for m in metrics:
            if m["metric"] != metric:
                continue
            s = out.setdefault((m["suite"], m["variant"]), Series(m["suite"], m["variant"], metric))
            s.run_ids.append(m["run_id"])
            s.values.append(m.get("mean"))
            s.lows.append(m.get("ci_low"))
            s.highs.append(m.get("ci_high"))
    return list(out.values())


def metric_names(groups: Iterable[dict[str, Any]], metrics: Iterable[dict[str, Any]]) -> list[str]:
    """The scorers' metrics first (in the order first seen), then the figures that have values."""
    names: dict[str, None] = {}
    for m in metrics:
        names.setdefault(m["metric"], None)
    rows = list(groups)
    for figure in FIGURES:
        if any(g.get(figure) is not None for g in rows):
            names.setdefault(figure, None)
    return list(names)


def by_group(rows: Iterable[dict[str, Any]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    out: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        out[(row["suite"], row["variant"])].append(row)
    return out
