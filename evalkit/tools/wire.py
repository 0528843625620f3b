"""The OpenAI tool-call wire format: tool calls parsed from a message or assembled from streamed
deltas, and messages (with tool calls and tool results) written back for the next request."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from typing import Any

from evalkit.types import Message, ToolCall, ToolSchema

NOT_JSON = "arguments are not valid JSON"


def tool_call(call_id: str, name: str, raw: Any, declared: Iterable[str] | None = None) -> ToolCall:
    """One tool call: arguments parsed from their JSON string (kept raw when not valid JSON),
    flagged when the tool is not among those the request declared."""
    arguments: Any = None
    raw_arguments: str | None = None
    error: str | None = None
    if isinstance(raw, dict | list):  # some servers send parsed arguments
        arguments = raw
    elif raw is None or (isinstance(raw, str) and not raw.strip()):
        arguments = {}
    else:
        try:
            arguments = json.loads(raw)
        except (json.JSONDecodeError, TypeError):
            raw_arguments, error = str(raw), NOT_JSON
    names = set(declared) if declared is not None else None
    if names is not None and name not in names:
        error = f"tool '{name}' is not declared" + (f"; {error}" if error else "")
    return ToolCall(id=call_id, name=name, arguments=arguments, raw_arguments=raw_arguments, error=error)


def parse_message_calls(message: Any, declared: Iterable[str] | None = None) -> list[ToolCall] | None:
    """Tool calls of a non-streamed `choices[0].message`; None when there are none."""
    raw_calls = message.get("tool_calls") if isinstance(message, dict) else None
    if not isinstance(raw_calls, list) or not raw_calls:
        return None
    out = []
    for i, raw in enumerate(raw_calls):
        if not isinstance(raw, dict):
            continue
        function = _function(raw)
        out.append(
            tool_call(
                str(raw.get("id") or f"call_{i}"),
                str(function.get("name") or ""),
                function.get("arguments"),
                declared,
            )
        )
    return out or None


def _function(raw: dict[str, Any]) -> dict[str, Any]:
    function = raw.get("function")
    return function if isinstance(function, dict) else {}


class StreamedCalls:
    """Assembles streamed tool-call deltas: the first delta of a call (by `index`) carries its
    id and name, later ones carry pieces of the argument string, interleaved across calls."""

    def __init__(self) -> None:
        self._calls: dict[int, dict[str, Any]] = {}

    def add(self, delta: Any) -> None:
        raw_calls = delta.get("tool_calls") if isinstance(delta, dict) else None
        if not isinstance(raw_calls, list):
            return
        for position, raw in enumerate(raw_calls):
            if not isinstance(raw, dict):
                continue
            index = raw.get("index", position)
            call = self._calls.setdefault(index, {"id": None, "name": "", "arguments": []})
            if raw.get("id"):
                call["id"] = raw["id"]
            function = _function(raw)
            if function.get("name"):
                call["name"] += function["name"]
            if function.get("arguments"):
                call["arguments"].append(function["arguments"])

    def calls(self, declared: Iterable[str] | None = None) -> list[ToolCall] | None:
        if not self._calls:
            return None
        return [
            tool_call(c["id"] or f"call_{index}", c["name"], "".join(c["arguments"]), declared)
            for index, c in sorted(self._calls.items())
        ]


def declared_names(tools: Sequence[ToolSchema] | None) -> list[str] | None:
    return None if tools is None else [t.function.name for t in tools]


def message_to_wire(message: Message) -> dict[str, Any]:
    """A message as the chat-completions API takes it (plain messages dump as before)."""
    out: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.tool_calls:
        out["tool_calls"] = [
            {
                "id": c.id,
                "type": "function",
                "function": {
                    "name": wire_name(c.name),
                    "arguments": c.raw_arguments if c.raw_arguments is not None else json.dumps(c.arguments),
                },
            }
            for c in message.tool_calls
        ]
        if not message.content:
            out["content"] = None
    if message.tool_call_id is not None:
        out["tool_call_id"] = message.tool_call_id
    return out


def tools_to_wire(tools: Sequence[ToolSchema]) -> list[dict[str, Any]]:
    out = [t.model_dump(mode="json", exclude_none=True) for t in tools]
    for tool in out:
        tool["function"]["name"] = wire_name(tool["function"]["name"])
    return out


def tool_choice_to_wire(choice: Any) -> Any:
    """`tool_choice` naming a function: the name as sent (`{"function": {"name": "a.b"}}` → `a_b`)."""
    function = choice.get("function") if isinstance(choice, dict) else None
    if isinstance(function, dict) and isinstance(function.get("name"), str):
        return {**choice, "function": {**function, "name": wire_name(function["name"])}}
    return choice


_NOT_IN_NAMES = re.compile(r"[^A-Za-z0-9_-]")


def wire_name(name: str) -> str:
    """A tool name as OpenAI-style APIs accept it (`^[A-Za-z0-9_-]{1,64}$`): `math.factorial` is
    sent as `math_factorial`, as BFCL's own OpenAI handler does."""
    return _NOT_IN_NAMES.sub("_", name)


def declared_names_from_tools(tools: Sequence[ToolSchema] | None) -> dict[str, str]:
    """Wire name → declared name, for the tools a request declares."""
    return {wire_name(t.function.name): t.function.name for t in tools or ()}


def restore_names(calls: list[ToolCall] | None, tools: Sequence[ToolSchema] | None) -> list[ToolCall] | None:
    """The model's calls under the names the suite declared (`math_factorial` → `math.factorial`)."""
    names = declared_names_from_tools(tools)
    if calls is None or all(wire == name for wire, name in names.items()):
        return calls
    return [c.model_copy(update={"name": names[c.name]}) if c.name in names else c for c in calls]
