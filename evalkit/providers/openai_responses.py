"""evalkit's requests and completions in the shape of OpenAI's Responses API (`api: responses`).

Requests: system messages become `instructions`; user and assistant turns `input` messages; an
assistant turn that called tools becomes `function_call` items and each tool turn answering it a
`function_call_output` item (parallel calls too), so the agent loop works unchanged; tools are
Responses function tools (flat, `strict: false` unless the suite says so). Responses: the
`message` items' `output_text` parts are the output, the `reasoning` items' summaries the
reasoning (kept apart), `function_call` items evalkit's `ToolCall`s; `status: incomplete` is
finish `max_output_tokens` / `content_filter` (types.FINISH_REASONS maps them to `length` and
`content_filter`). A stream's final `response.completed` (or `.incomplete`, `.failed`) event
carries the whole response, read the same way; its first `response.output_text.delta` is the
time to first token.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from evalkit._util.textsafe import clean_text
from evalkit.providers.openai_response import (
    StreamError,
    UnexpectedResponse,
    error_message,
    finish_text,
    token_count,
)
from evalkit.tools.wire import tool_call, wire_name
from evalkit.types import Completion, GenerationParams, Message, ToolCall, ToolSchema, Usage

TERMINAL_EVENTS = frozenset({"response.completed", "response.incomplete", "response.failed"})


def input_to_wire(messages: Sequence[Message]) -> tuple[str | None, list[dict[str, Any]]]:
    """(the instructions, the input items) for a conversation."""
    system = [m.content for m in messages if m.role == "system"]
    items: list[dict[str, Any]] = []
    for m in messages:
        if m.role == "system":
            continue
        if m.role == "tool":
            items.append(
                {"type": "function_call_output", "call_id": m.tool_call_id or "", "output": m.content}
            )
            continue
        if m.content or not m.tool_calls:
            items.append({"role": m.role, "content": m.content})
        for c in m.tool_calls or ():
            arguments = c.raw_arguments if c.raw_arguments is not None else json.dumps(c.arguments)
            # no item id: with store false, an id would ask the API for the stored reasoning item
            items.append(
                {"type": "function_call", "call_id": c.id, "name": wire_name(c.name), "arguments": arguments}
            )
    return ("\n\n".join(system) if system else None), items


def tools_to_wire(tools: Sequence[ToolSchema]) -> list[dict[str, Any]]:
    """Responses function tools are flat; their `strict` defaults to true there, so a suite's
    schema (not written for strict mode) goes with `strict: false` unless it says otherwise."""
    out = []
    for tool in tools:
        f = tool.function
        spec: dict[str, Any] = {"type": "function", "name": wire_name(f.name), "parameters": f.parameters}
        if f.description:
            spec["description"] = f.description
        spec["strict"] = bool(f.strict)
        out.append(spec)
    return out


def tool_choice_to_wire(choice: Any) -> Any:
    """`auto` / `none` / `required` as they are; {"function": {"name"}} → {"type": "function", "name"}."""
    function = choice.get("function") if isinstance(choice, dict) else None
    if isinstance(function, dict) and isinstance(function.get("name"), str):
        return {"type": "function", "name": wire_name(function["name"])}
    return choice


def not_sent(params: GenerationParams) -> list[str]:
    """What the Responses API has no parameter for."""
    dropped = []
    if params.stop:
        dropped.append("stop (the Responses API has no stop sequences)")
    if params.seed is not None:
        dropped.append("seed (the Responses API has no seed)")
    return dropped


def request_body(
    params: GenerationParams,
    messages: Sequence[Message],
    model: str | None,
    *,
    store: bool,
    reasoning: dict[str, str],
    stream: bool,
) -> dict[str, Any]:
    instructions, items = input_to_wire(messages)
    body: dict[str, Any] = {"model": model, "input": items, "store": store}
    if instructions is not None:
        body["instructions"] = instructions
    if params.max_tokens is not None:
        body["max_output_tokens"] = params.max_tokens
    for key in ("temperature", "top_p"):
        if (value := getattr(params, key)) is not None:
            body[key] = value
    if reasoning:
        body["reasoning"] = reasoning
    if params.tools:
        body["tools"] = tools_to_wire(params.tools)
    if params.tool_choice is not None:
        body["tool_choice"] = tool_choice_to_wire(params.tool_choice)
    if stream:
        body["stream"] = True
    if params.extra_body:
        body.update(params.extra_body)
    return body


def declared(body: dict[str, Any]) -> list[str] | None:
    tools = body.get("tools")
    if not isinstance(tools, list):
        return None
    return [str(t.get("name")) for t in tools if isinstance(t, dict)]


def usage_of(raw: Any) -> Usage:
    if not isinstance(raw, dict):
        return Usage()
    inp, out = raw.get("input_tokens_details"), raw.get("output_tokens_details")
    return Usage(
        input_tokens=token_count(raw.get("input_tokens")),
        output_tokens=token_count(raw.get("output_tokens")),
        cached_input_tokens=token_count(inp.get("cached_tokens")) if isinstance(inp, dict) else None,
        reasoning_tokens=token_count(out.get("reasoning_tokens")) if isinstance(out, dict) else None,
    )


class _Output:
    """The output items of one response, sorted into text, reasoning and calls."""

    def __init__(self, declared_names: list[str] | None) -> None:
        self.texts: list[str] = []
        self.thoughts: list[str] = []
        self.calls: list[ToolCall] = []
        self.refused = False
        self.declared = declared_names

    def add(self, item: Any) -> None:
        if not isinstance(item, dict):
            raise UnexpectedResponse(f"unexpected response: an output item is a {type(item).__name__}")
        kind = item.get("type")
        if kind == "message":
            self._message(item.get("content"))
        elif kind == "reasoning":
            for part in item.get("summary") or []:
                if isinstance(part, dict) and isinstance(part.get("text"), str):
                    self.thoughts.append(part["text"])
        elif kind == "function_call":
            call_id = str(item.get("call_id") or item.get("id") or f"call_{len(self.calls)}")
            self.calls.append(
                tool_call(call_id, str(item.get("name") or ""), item.get("arguments"), self.declared)
            )

    def _message(self, content: Any) -> None:
        """A message's parts: output text, or a refusal; a text that is not a string (or
        content that is not a list) is one error result, never its repr scored as an answer."""
        if content is not None and not isinstance(content, list):
            raise UnexpectedResponse(
                f"unexpected response: a message's content is a {type(content).__name__}"
            )
        for part in content or []:
            kind = part.get("type") if isinstance(part, dict) else None
            if kind not in ("output_text", "refusal"):
                continue
            text = part.get("text" if kind == "output_text" else "refusal")
            if text is not None and not isinstance(text, str):
                raise UnexpectedResponse(
                    f"unexpected response: an {kind} part's text is a {type(text).__name__}"
                )
            self.texts.append(text or "")
            self.refused = self.refused or kind == "refusal"


def _finish(data: dict[str, Any], output: _Output) -> str | None:
    status = data.get("status")
    if status == "incomplete":
        details = data.get("incomplete_details")
        reason = details.get("reason") if isinstance(details, dict) else None
        return finish_text(reason) or "incomplete"
    if output.refused:
        return "refusal"
    if status == "completed" and output.calls:
        return "tool_calls"
    return finish_text(status)


def completion_of(data: Any, declared_names: list[str] | None) -> Completion:
    """A whole Response object as evalkit's completion. `status: failed` raises `StreamError`
    for a server error (retried), `UnexpectedResponse` otherwise (one error result)."""
    if not isinstance(data, dict):
        raise UnexpectedResponse(f"unexpected response: a JSON {type(data).__name__}, not an object")
    if data.get("status") == "failed" or (data.get("error") and not data.get("output")):
        error = data.get("error")
        code = error.get("code") if isinstance(error, dict) else None
        text = f"the response failed: {error_message(error)}"
        raise (StreamError if code in ("server_error", "rate_limit_exceeded") else UnexpectedResponse)(text)
    items = data.get("output")
    if not isinstance(items, list):
        raise UnexpectedResponse("unexpected response: no 'output' list")
    output = _Output(declared_names)
    for item in items:
        output.add(item)
    model = data.get("model")
    return Completion(
        text=clean_text("".join(output.texts)),
        reasoning=clean_text("\n\n".join(output.thoughts)) if output.thoughts else None,
        finish_reason=_finish(data, output),
        usage=usage_of(data.get("usage")),
        model_version=clean_text(str(model)) if model else None,
        tool_calls=output.calls or None,
    )


class StreamReader:
    """The events of a streamed response (`add` each `data:` payload), then `completion()`."""

    def __init__(self, declared_names: list[str] | None) -> None:
        self.declared = declared_names
        self.final: dict[str, Any] | None = None

    def add(self, event: Any) -> bool:
        """One event; True when it carried answer text (the first one times the first token)."""
        if not isinstance(event, dict):
            raise UnexpectedResponse(f"unexpected stream event: a JSON {type(event).__name__}")
        kind = event.get("type")
        if kind == "error":
            raise StreamError(f"the server reported an error mid-stream: {error_message(event)}")
        if kind in TERMINAL_EVENTS:
            response = event.get("response")
            if not isinstance(response, dict):
                raise UnexpectedResponse(f"unexpected stream event: {kind} without its response")
            self.final = response
            return False
        return kind == "response.output_text.delta" and bool(event.get("delta"))

    def completion(self, ttft_ms: float | None) -> Completion:
        if self.final is None:
            raise StreamError("the response stream ended early")
        completion = completion_of(self.final, self.declared)
        completion.ttft_ms = ttft_ms
        return completion
