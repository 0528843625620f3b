"""A trace as plain text for a judge's prompt: one line per step (tool, arguments, result)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from evalkit.types import Step, ToolCall

MAX_FIELD = 600  # characters of a step's input or output in the prompt


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= MAX_FIELD else text[: MAX_FIELD - 1] + "…"


def render_trace(steps: Sequence[Step], tool_calls: Sequence[ToolCall] = ()) -> str:
    """'' when there is no trace; else numbered lines a judge can follow."""
    if steps:
        lines = []
        for s in steps:
            line = f"[{s.id}] {s.type} {s.name}"
            if s.input is not None and s.type != "llm":
                line += f" input={_short(s.input)}"
            if s.output is not None:
                line += f" -> {_short(s.output)}"
            if s.error:
                line += f" ERROR: {s.error}"
            lines.append(line)
        return "\n".join(lines)
    return "\n".join(
        f"[call {i}] {c.name}({_short(c.arguments if c.raw_arguments is None else c.raw_arguments)})"
        for i, c in enumerate(tool_calls, start=1)
    )
