"""evalkit's requests and completions in the shape of Google's Gen AI API (Gemini).

Requests: system messages become `system_instruction`, assistant turns `model` turns (their tool
calls `function_call` parts), tool turns `function_response` parts named after the call they
answer; OpenAI-style tools become `function_declarations` with their JSON schema as is.
Responses: text parts are the output, `thought` parts the reasoning (kept apart), function calls
evalkit's `ToolCall`s; usage counts the thoughts into the output, as Google bills them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from evalkit._util.textsafe import clean_text
from evalkit.tools.wire import declared_names, tool_call, wire_name
from evalkit.types import Completion, GenerationParams, Message, ToolSchema, Usage


def contents_to_wire(messages: Sequence[Message]) -> tuple[str | None, list[dict[str, Any]]]:
    """(the system instruction, the contents) as the SDK takes them."""
    system = [m.content for m in messages if m.role == "system"]
    names = {c.id: c.name for m in messages for c in m.tool_calls or ()}
    out: list[dict[str, Any]] = []
    for m in messages:
        if m.role == "system":
            continue
        if m.role == "tool":
            name = wire_name(names.get(m.tool_call_id or "", "tool"))
            part = {
                "function_response": {"name": name, "id": m.tool_call_id, "response": {"result": m.content}}
            }
            if out and out[-1]["role"] == "user" and all("function_response" in p for p in out[-1]["parts"]):
                out[-1]["parts"].append(part)  # parallel calls are answered in one turn
            else:
                out.append({"role": "user", "parts": [part]})
            continue
        parts: list[dict[str, Any]] = [{"text": m.content}] if m.content or not m.tool_calls else []
        for c in m.tool_calls or ():
            args = c.arguments if isinstance(c.arguments, dict) else {}
            parts.append({"function_call": {"name": wire_name(c.name), "args": args, "id": c.id}})
        out.append({"role": "model" if m.role == "assistant" else "user", "parts": parts})
    return ("\n\n".join(system) if system else None), out


def config_to_wire(
    params: GenerationParams, system: str | None, thinking_budget: int | None
) -> dict[str, Any]:
    config: dict[str, Any] = {}
    if system is not None:
        config["system_instruction"] = system
    for ours, theirs in (
        ("temperature", "temperature"),
        ("top_p", "top_p"),
        ("max_tokens", "max_output_tokens"),
    ):
        value = getattr(params, ours)
        if value is not None:
            config[theirs] = value
    if params.stop:
        config["stop_sequences"] = list(params.stop)
    if params.seed is not None:
        config["seed"] = params.seed
    if thinking_budget is not None:
        config["thinking_config"] = {"thinking_budget": thinking_budget, "include_thoughts": True}
    if params.tools:
        config["tools"] = [
            {
                "function_declarations": [
                    {
                        "name": wire_name(t.function.name),
                        "description": t.function.description or "",
                        "parameters_json_schema": t.function.parameters,
                    }
                    for t in params.tools
                ]
            }
        ]
        config["automatic_function_calling"] = {"disable": True}
    if params.tool_choice is not None:
        config["tool_config"] = {"function_calling_config": _calling_config(params.tool_choice)}
    return config


def _calling_config(choice: Any) -> dict[str, Any]:
    if choice in ("auto", "none"):
        return {"mode": str(choice).upper()}
    if choice == "required":
        return {"mode": "ANY"}
    function = choice.get("function") if isinstance(choice, dict) else None
    name = function.get("name") if isinstance(function, dict) else None
    return {"mode": "ANY", "allowed_function_names": [wire_name(str(name))]} if name else {"mode": "AUTO"}


def usage_of(meta: Any) -> Usage:
    if meta is None:
        return Usage()
    prompt = getattr(meta, "prompt_token_count", None)
    answer = getattr(meta, "candidates_token_count", None)
    thoughts = getattr(meta, "thoughts_token_count", None)
    return Usage(
        input_tokens=prompt,
        output_tokens=None if answer is None and thoughts is None else (answer or 0) + (thoughts or 0),
        cached_input_tokens=getattr(meta, "cached_content_token_count", None),
        reasoning_tokens=thoughts,
    )


def _finish(candidate: Any) -> str | None:
    reason = getattr(candidate, "finish_reason", None)
    if reason is None:
        return None
    return str(getattr(reason, "value", reason))


class Assembled:
    """A response, or the chunks of a streamed one, gathered into one completion."""

    def __init__(self, tools: Sequence[ToolSchema] | None) -> None:
        self.texts: list[str] = []
        self.thoughts: list[str] = []
        self.calls: list[Any] = []
        self.finish: str | None = None
        self.usage: Any = None
        self.version: str | None = None
        self.blocked: str | None = None
        self.declared = [wire_name(n) for n in declared_names(tools) or ()] if tools is not None else None

    def add(self, response: Any) -> bool:
        """One response or chunk; True when it added answer text."""
        feedback = getattr(response, "prompt_feedback", None)
        block = getattr(feedback, "block_reason", None) if feedback is not None else None
        if block is not None:
            self.blocked = str(getattr(block, "value", block))
        self.usage = getattr(response, "usage_metadata", None) or self.usage
        self.version = getattr(response, "model_version", None) or self.version
        candidates = getattr(response, "candidates", None) or []
        added = False
        if candidates:
            self.finish = _finish(candidates[0]) or self.finish
            content = getattr(candidates[0], "content", None)
            for part in getattr(content, "parts", None) or []:
                added = self._part(part) or added
        return added

    def _part(self, part: Any) -> bool:
        call = getattr(part, "function_call", None)
        if call is not None:
            index = len(self.calls)
            self.calls.append(
                tool_call(call.id or f"call_{index}", call.name or "", call.args or {}, self.declared)
            )
            return False
        text = getattr(part, "text", None)
        if not text:
            return False
        (self.thoughts if getattr(part, "thought", None) else self.texts).append(text)
        return not getattr(part, "thought", None)

    def completion(self) -> Completion:
        usage = usage_of(self.usage)
        if self.blocked is not None:
            return Completion(
                error=f"Gemini blocked the prompt ({self.blocked})", finish_reason=self.blocked, usage=usage
            )
        if self.finish in SAFETY and not self.texts and not self.calls:
            return Completion(
                error=f"Gemini blocked the answer ({self.finish})", finish_reason=self.finish, usage=usage
            )
        return Completion(
            text=clean_text("".join(self.texts)),
            reasoning=clean_text("".join(self.thoughts)) if self.thoughts else None,
            finish_reason=self.finish,
            usage=usage,
            model_version=clean_text(self.version) if self.version else None,
            tool_calls=self.calls or None,
        )


SAFETY = {"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY"}
