"""evalkit's requests and completions in the shape of Anthropic's Messages API.

Requests: system messages become the top-level `system`; an assistant turn that called tools
becomes `tool_use` blocks and the tool turns answering it one user turn of `tool_result`
blocks (parallel calls answered together); OpenAI-style tools and `tool_choice` become
Anthropic's. Responses: text blocks are the output, thinking blocks the reasoning (kept apart),
tool_use blocks evalkit's `ToolCall`s; usage counts the prompt-cache tokens into the input the
way types.Usage counts them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from evalkit._util.textsafe import clean_text
from evalkit.tools.wire import declared_names, tool_call, wire_name
from evalkit.types import Completion, GenerationParams, Message, ToolSchema, Usage


def messages_to_wire(messages: Sequence[Message]) -> tuple[str | None, list[dict[str, Any]]]:
    """(the system prompt, the conversation) as the Messages API takes them."""
    system = [m.content for m in messages if m.role == "system"]
    out: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "system":
            continue
        if message.role == "tool":
            block = {
                "type": "tool_result",
                "tool_use_id": message.tool_call_id or "",
                "content": message.content,
            }
            if out and out[-1]["role"] == "user" and _all_tool_results(out[-1]["content"]):
                out[-1]["content"].append(block)  # parallel calls are answered in one user turn
            else:
                out.append({"role": "user", "content": [block]})
        elif message.role == "assistant" and message.tool_calls:
            blocks: list[dict[str, Any]] = (
                [{"type": "text", "text": message.content}] if message.content else []
            )
            blocks += [
                {
                    "type": "tool_use",
                    "id": c.id,
                    "name": wire_name(c.name),
                    "input": c.arguments if c.arguments is not None else {},
                }
                for c in message.tool_calls
            ]
            out.append({"role": "assistant", "content": blocks})
        else:
            out.append({"role": message.role, "content": message.content})
    return ("\n\n".join(system) if system else None), out


def _all_tool_results(content: Any) -> bool:
    return isinstance(content, list) and all(b.get("type") == "tool_result" for b in content)


def tools_to_wire(tools: Sequence[ToolSchema]) -> list[dict[str, Any]]:
    out = []
    for tool in tools:
        spec: dict[str, Any] = {
            "name": wire_name(tool.function.name),
            "input_schema": tool.function.parameters,
        }
        if tool.function.description:
            spec["description"] = tool.function.description
        out.append(spec)
    return out


def tool_choice_to_wire(choice: Any) -> dict[str, Any] | None:
    """OpenAI's `auto` / `required` / `none` / {"function": {"name"}} as Anthropic's."""
    if choice == "auto":
        return {"type": "auto"}
    if choice == "required":
        return {"type": "any"}
    if choice == "none":
        return {"type": "none"}
    function = choice.get("function") if isinstance(choice, dict) else None
    if isinstance(function, dict) and isinstance(function.get("name"), str):
        return {"type": "tool", "name": wire_name(function["name"])}
    return choice if isinstance(choice, dict) else None


def sampling(params: GenerationParams, *, thinking: bool, send: bool) -> tuple[dict[str, Any], list[str]]:
    """The sampling parameters to send, and what was left out (and why). The current Messages
    API version takes none (`sampling: send` passes them for models that still do: then
    `temperature` or `top_p`, not both, and neither with extended thinking)."""
    out: dict[str, Any] = {}
    dropped: list[str] = []
    for key in ("temperature", "top_p"):
        value = getattr(params, key)
        if value is None:
            continue
        if not send:
            dropped.append(f"{key} (the current Messages API takes none; sampling: send passes it)")
        elif thinking:
            dropped.append(f"{key} (extended thinking takes no {key})")
        elif key == "top_p" and "temperature" in out:
            dropped.append("top_p (current Claude models take temperature or top_p, not both)")
        else:
            out[key] = value
    if params.seed is not None:
        dropped.append("seed (the Messages API has no seed)")
    return out, dropped


def usage_of(raw: Any) -> Usage:
    """Anthropic's usage: its `input_tokens` leave out the cache reads and writes; ours count them."""
    if raw is None:
        return Usage()
    inp = _count(getattr(raw, "input_tokens", None))
    read = _count(getattr(raw, "cache_read_input_tokens", None))
    write = _count(getattr(raw, "cache_creation_input_tokens", None))
    details = getattr(raw, "output_tokens_details", None)
    return Usage(
        input_tokens=None if inp is None else inp + (read or 0) + (write or 0),
        output_tokens=_count(getattr(raw, "output_tokens", None)),
        cached_input_tokens=read,
        cache_write_tokens=write,
        reasoning_tokens=_count(getattr(details, "thinking_tokens", None)),
    )


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def completion_of(message: Any, tools: Sequence[ToolSchema] | None) -> Completion:
    """A Message object (the SDK's) as evalkit's completion."""
    texts: list[str] = []
    thoughts: list[str] = []
    calls = []
    declared = [wire_name(n) for n in declared_names(tools) or ()] if tools is not None else None
    for block in message.content or []:
        kind = getattr(block, "type", None)
        if kind == "text":
            texts.append(block.text)
        elif kind == "thinking":
            thoughts.append(block.thinking)
        elif kind == "redacted_thinking":
            thoughts.append("[redacted thinking]")
        elif kind == "tool_use":
            calls.append(tool_call(block.id, block.name, block.input, declared))
    return Completion(
        text=clean_text("".join(texts)),
        reasoning=clean_text("\n\n".join(thoughts)) if thoughts else None,
        finish_reason=message.stop_reason,
        usage=usage_of(message.usage),
        model_version=clean_text(str(message.model)) if message.model else None,
        tool_calls=calls or None,
    )
