"""Traces returned by a `python` system: the final output and the ordered steps it took.

    {"output": "final answer",
     "steps": [{"id": "1", "type": "retrieval", "name": "search", "input": ..., "output": ...,
                "latency_ms": 12.5, "tokens": 0, "cost_usd": 0.0, "error": null}, ...]}

`type` is llm, tool, retrieval, router or other; only `id`, `type` and `name` are required.
Tool steps are what the trajectory scorers read as tool calls (their `input` as arguments).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from evalkit._util.models import new_list
from evalkit.types import Completion, Step, ToolCall, Usage


class Trace(BaseModel):
    model_config = ConfigDict(extra="forbid")

    output: str
    steps: list[Step] = Field(default_factory=new_list)
    usage: Usage = Field(default_factory=Usage)
    finish_reason: str = "stop"
    model_version: str | None = None

    def completion(self, latency_ms: float) -> Completion:
        """This trace as a provider's answer: its output, steps and the tool calls among them."""
        return Completion(
            text=self.output,
            finish_reason=self.finish_reason,
            usage=self.usage,
            model_version=self.model_version,
            latency_ms=latency_ms,
            steps=self.steps,
            tool_calls=tool_calls_of(self.steps) or None,
        )


def is_trace(result: Any) -> bool:
    return isinstance(result, dict) and "steps" in result


def trace_completion(result: dict[str, Any], case_id: str, latency_ms: float) -> Completion:
    """A completion from a returned trace, or an error result naming the case and the field."""
    try:
        trace = Trace.model_validate(result)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in err["loc"]) or "trace"
        return Completion(error=f"case '{case_id}': invalid trace: {where}: {err['msg']}")
    ids = [s.id for s in trace.steps]
    duplicate = next((i for i in ids if ids.count(i) > 1), None)
    if duplicate is not None:
        return Completion(error=f"case '{case_id}': invalid trace: step id '{duplicate}' is used twice")
    return trace.completion(latency_ms)


def tool_calls_of(steps: list[Step]) -> list[ToolCall]:
    """The tool steps of a trace, as tool calls (their input as the arguments)."""
    return [ToolCall(id=s.id, name=s.name, arguments=s.input) for s in steps if s.type == "tool"]
