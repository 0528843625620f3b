"""evalkit's requests and completions in the shape of Amazon Bedrock's Converse API.

Requests: system messages become `system` text blocks; every other message a Converse message
of content blocks (turns of one role in a row are merged: Converse wants them alternating); an
assistant turn that called tools carries `toolUse` blocks, and the tool turns answering it one
user turn of `toolResult` blocks (parallel calls answered together); OpenAI-style tools become
`toolConfig.tools[].toolSpec` with the JSON schema under `inputSchema.json`. Responses: text
blocks are the output, `reasoningContent` the reasoning (kept apart), `toolUse` blocks evalkit's
`ToolCall`s; usage counts the prompt-cache tokens into the input (Bedrock's `inputTokens`
leaves them out, as Anthropic's does).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from evalkit._util.textsafe import clean_text
from evalkit.tools.wire import declared_names, tool_call, wire_name
from evalkit.types import Completion, GenerationParams, Message, ToolSchema, Usage

# Converse's stop reasons that mean the answer was withheld, not given
FILTERED = {"guardrail_intervened", "content_filtered"}


def messages_to_wire(messages: Sequence[Message]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(the `system` blocks, the `messages`) as Converse takes them."""
    system = [{"text": m.content} for m in messages if m.role == "system" and m.content]
    out: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "system":
            continue
        role = "assistant" if message.role == "assistant" else "user"
        blocks = _blocks(message)
        if not blocks:
            continue
        if out and out[-1]["role"] == role:
            out[-1]["content"].extend(blocks)  # parallel tool results, or two user turns in a row
        else:
            out.append({"role": role, "content": blocks})
    return system, out


def _blocks(message: Message) -> list[dict[str, Any]]:
    if message.role == "tool":
        content = [{"text": message.content}] if message.content else []
        result = {"toolUseId": message.tool_call_id or "", "content": content}
        return [{"toolResult": result}]
    blocks: list[dict[str, Any]] = [{"text": message.content}] if message.content else []
    for call in message.tool_calls or ():
        arguments = call.arguments if isinstance(call.arguments, dict) else {}
        blocks.append({"toolUse": {"toolUseId": call.id, "name": wire_name(call.name), "input": arguments}})
    return blocks


def inference_config(params: GenerationParams, default_max_tokens: int | None) -> dict[str, Any]:
    config: dict[str, Any] = {}
    max_tokens = params.max_tokens or default_max_tokens
    if max_tokens is not None:
        config["maxTokens"] = max_tokens
    if params.temperature is not None:
        config["temperature"] = params.temperature
    if params.top_p is not None:
        config["topP"] = params.top_p
    if params.stop:
        config["stopSequences"] = list(params.stop)
    return config


def tool_config(tools: Sequence[ToolSchema], choice: Any) -> dict[str, Any]:
    specs = []
    for tool in tools:
        spec: dict[str, Any] = {
            "name": wire_name(tool.function.name),
            "inputSchema": {"json": tool.function.parameters},
        }
        if tool.function.description:
            spec["description"] = tool.function.description
        specs.append({"toolSpec": spec})
    config: dict[str, Any] = {"tools": specs}
    wire_choice = tool_choice_to_wire(choice)
    if wire_choice is not None:
        config["toolChoice"] = wire_choice
    return config


def tool_choice_to_wire(choice: Any) -> dict[str, Any] | None:
    """OpenAI's `auto` / `required` / {"function": {"name"}} as Converse's; `none` has no
    Converse form (the tools are still declared: a conversation with tool blocks needs them)."""
    if choice == "auto":
        return {"auto": {}}
    if choice == "required":
        return {"any": {}}
    function = choice.get("function") if isinstance(choice, dict) else None
    if isinstance(function, dict) and isinstance(function.get("name"), str):
        return {"tool": {"name": wire_name(function["name"])}}
    return None


def param_notes(params: GenerationParams) -> list[str]:
    notes = []
    if params.seed is not None:
        notes.append(
            "not sent: seed (Converse has no seed; additional_model_request_fields passes a model's own)"
        )
    if params.tool_choice == "none":
        notes.append("not sent: tool_choice none (Converse has no such choice; the tools stay declared)")
    return notes


def usage_of(raw: Any) -> Usage:
    """Converse's usage: its `inputTokens` leave out the cache reads and writes; ours count them."""
    if not isinstance(raw, dict):
        return Usage()
    inp = _count(raw.get("inputTokens"))
    read = _count(raw.get("cacheReadInputTokens"))
    write = _count(raw.get("cacheWriteInputTokens"))
    return Usage(
        input_tokens=None if inp is None else inp + (read or 0) + (write or 0),
        output_tokens=_count(raw.get("outputTokens")),
        cached_input_tokens=read,
        cache_write_tokens=write,
    )


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def completion_of(response: Any, tools: Sequence[ToolSchema] | None) -> Completion:
    """A parsed Converse response (botocore's dict) as evalkit's completion; a body without a
    message is one error result, an answer withheld by a filter an error naming the reason."""
    output = response.get("output") if isinstance(response, dict) else None
    message = output.get("message") if isinstance(output, dict) else None
    content = message.get("content") if isinstance(message, dict) else None
    if not isinstance(content, list):
        return Completion(error="could not read the response (no output.message.content in it)")
    assembled = Assembled(tools)
    for block in content:
        if isinstance(block, dict):
            assembled.block(block)
    assembled.stop = response.get("stopReason")
    assembled.usage = usage_of(response.get("usage"))
    return assembled.completion()


class Assembled:
    """The content blocks of a response, or the deltas of a streamed one, as one completion."""

    def __init__(self, tools: Sequence[ToolSchema] | None) -> None:
        self.texts: list[str] = []
        self.thoughts: list[str] = []
        self.calls: list[Any] = []
        self.stop: str | None = None
        self.usage = Usage()
        self.declared = [wire_name(n) for n in declared_names(tools) or ()] if tools is not None else None

    def block(self, block: dict[str, Any]) -> None:
        if isinstance(block.get("text"), str):
            self.texts.append(block["text"])
        elif isinstance(block.get("toolUse"), dict):
            use = block["toolUse"]
            index = len(self.calls)
            self.calls.append(
                tool_call(
                    str(use.get("toolUseId") or f"call_{index}"),
                    str(use.get("name") or ""),
                    use.get("input") if use.get("input") is not None else {},
                    self.declared,
                )
            )
        elif isinstance(block.get("reasoningContent"), dict):
            reasoning = block["reasoningContent"]
            text = (reasoning.get("reasoningText") or {}).get("text")
            self.thoughts.append(text if isinstance(text, str) else "[redacted reasoning]")

    def completion(self) -> Completion:
        stop = str(self.stop) if self.stop is not None else None
        if stop in FILTERED and not self.texts and not self.calls:
            return Completion(
                error=f"Bedrock withheld the answer ({stop})", finish_reason=stop, usage=self.usage
            )
        return Completion(
            text=clean_text("".join(self.texts)),
            reasoning=clean_text("\n\n".join(self.thoughts)) if self.thoughts else None,
            finish_reason=stop,
            usage=self.usage,
            tool_calls=self.calls or None,
        )


class Streamed:
    """ConverseStream's events (botocore's parsed dicts) gathered into one completion: each
    block's deltas by `contentBlockIndex`, then the blocks in order as a non-streamed answer."""

    def __init__(self, tools: Sequence[ToolSchema] | None) -> None:
        self.tools = tools
        self.blocks: dict[int, dict[str, Any]] = {}
        self.stop: str | None = None
        self.usage: Any = None

    def add(self, event: dict[str, Any]) -> bool:
        """One event; True when it added answer text."""
        if "contentBlockStart" in event:
            start = event["contentBlockStart"]
            use = (start.get("start") or {}).get("toolUse")
            if isinstance(use, dict):
                self._block(start).update({"id": use.get("toolUseId"), "name": use.get("name")})
        elif "contentBlockDelta" in event:
            return self._delta(event["contentBlockDelta"])
        elif "messageStop" in event:
            self.stop = event["messageStop"].get("stopReason")
        elif "metadata" in event:
            self.usage = event["metadata"].get("usage")
        return False

    def _block(self, event: dict[str, Any]) -> dict[str, Any]:
        return self.blocks.setdefault(
            int(event.get("contentBlockIndex") or 0), {"text": "", "input": "", "thought": ""}
        )

    def _delta(self, event: dict[str, Any]) -> bool:
        delta, block = event.get("delta") or {}, self._block(event)
        if isinstance(delta.get("text"), str):
            block["text"] += delta["text"]
            return bool(delta["text"])
        if isinstance(delta.get("toolUse"), dict):
            block["input"] += str(delta["toolUse"].get("input") or "")
        elif isinstance(delta.get("reasoningContent"), dict):
            reasoning = delta["reasoningContent"]
            block["thought"] += str(reasoning.get("text") or "")
            block["reasoning"] = True
        return False

    def completion(self) -> Completion:
        assembled = Assembled(self.tools)
        for _, block in sorted(self.blocks.items()):
            if block.get("name") is not None:
                use = {"toolUseId": block["id"], "name": block["name"], "input": block["input"] or "{}"}
                assembled.block({"toolUse": use})
            elif block.get("reasoning"):
                assembled.block({"reasoningContent": {"reasoningText": {"text": block["thought"]}}})
            else:
                assembled.block({"text": block["text"]})
        assembled.stop = self.stop
        assembled.usage = usage_of(self.usage)
        return assembled.completion()
