"""A result's trace as timeline rows for the report, with the steps a failing score names
(its reason says "step s4 (...)" or "tool call 2 (...)") marked."""

from __future__ import annotations

import json
import re
from typing import Any

from evalkit.types import CaseResult

_NAMED = re.compile(r"\b(?:step|tool call) (\S+?)(?=[\s:;,)]|$)")
MAX_CHARS = 2000  # of a step's input or output shown in the report

Row = tuple[str, str, str, str | None, str | None, float | None, str | None, bool]


def failing_steps(result: CaseResult) -> set[str]:
    """Ids of the steps (or 1-based tool-call numbers) named by the reasons of failed scores."""
    named: set[str] = set()
    for score in result.scores.values():
        if score.passed is False and score.reason:
            named.update(_NAMED.findall(score.reason))
    return named


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= MAX_CHARS else text[: MAX_CHARS - 1] + "…"


def trace_rows(result: CaseResult) -> list[Row] | None:
    bad = failing_steps(result)
    if result.steps:
        return [
            (s.id, s.type, s.name, _text(s.input), _text(s.output), s.latency_ms, s.error, s.id in bad)
            for s in result.steps
        ]
    if result.tool_calls:
        return [
            (
                str(i),
                "call",
                c.name,
                _text(c.arguments if c.raw_arguments is None else c.raw_arguments),
                None,
                None,
                c.error,
                str(i) in bad,
            )
            for i, c in enumerate(result.tool_calls, start=1)
        ]
    return None
