"""Tool calling by prompt, for models without native tool calls (local ones): the tools are
described in the system message, the model answers a call as a `<tool_call>{"name": ...,
"arguments": {...}}</tool_call>` block (the Hermes convention many chat models are trained on),
and tool results go back as `<tool_response>` user turns."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Sequence

from evalkit.tools.wire import NOT_JSON, tool_call
from evalkit.types import Completion, Message, Request, ToolCall, ToolSchema

CallModel = Callable[[Request], Awaitable[Completion]]
_BLOCK = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.S)

INSTRUCTIONS = """You can call these tools (JSON schemas):
<tools>
{tools}
</tools>
To call a tool, reply with only a block like this (one block per call):
<tool_call>
{{"name": "<tool name>", "arguments": {{<the arguments as JSON>}}}}
</tool_call>
Tool results come back in <tool_response> blocks. When you can answer, reply with plain text."""


def instructions(tools: Sequence[ToolSchema]) -> str:
    listed = "\n".join(json.dumps(t.function.model_dump(mode="json", exclude_none=True)) for t in tools)
    return INSTRUCTIONS.format(tools=listed)


def to_prompt(messages: Sequence[Message], tools: Sequence[ToolSchema]) -> tuple[Message, ...]:
    """The conversation in plain chat turns, with the tools described in the system message."""
    out: list[Message] = []
    guide = instructions(tools)
    if messages and messages[0].role == "system":
        out.append(Message(role="system", content=f"{messages[0].content}\n\n{guide}"))
        rest = messages[1:]
    else:
        out.append(Message(role="system", content=guide))
        rest = messages
    for m in rest:
        if m.role == "assistant" and m.tool_calls:
            blocks = [
                "<tool_call>\n"
                + json.dumps(
                    {"name": c.name, "arguments": c.arguments if c.raw_arguments is None else c.raw_arguments}
                )
                + "\n</tool_call>"
                for c in m.tool_calls
            ]
            out.append(Message(role="assistant", content="\n".join(filter(None, [m.content, *blocks]))))
        elif m.role == "tool":
            out.append(Message(role="user", content=f"<tool_response>\n{m.content}\n</tool_response>"))
        else:
            out.append(m)
    return tuple(out)


def parse_prompted(text: str, declared: Sequence[str]) -> tuple[str, list[ToolCall] | None]:
    """(the text outside tool-call blocks, the calls in them)."""
    calls: list[ToolCall] = []
    for i, body in enumerate(_BLOCK.findall(text)):
        try:
            data = json.loads(body)
        except json.JSONDecodeError:
            calls.append(ToolCall(id=f"call_{i}", name="", raw_arguments=body, error=NOT_JSON))
            continue
        if not isinstance(data, dict) or not isinstance(data.get("name"), str):
            calls.append(ToolCall(id=f"call_{i}", name="", raw_arguments=body, error="no tool name"))
            continue
        arguments = data.get("arguments", {})
        calls.append(
            tool_call(
                f"call_{i}",
                data["name"],
                arguments,
                declared,
            )
        )
    remaining = _BLOCK.sub("", text).strip()
    return remaining, calls or None


def prompted(call_model: CallModel) -> CallModel:
    """Wrap a model call: tools into the prompt on the way in, calls out of the text on the way back."""

    async def call(request: Request) -> Completion:
        tools = request.params.tools or ()
        plain = request.model_copy(
            update={
                "messages": to_prompt(request.messages, tools),
                "params": request.params.model_copy(update={"tools": None, "tool_choice": None}),
            }
        )
        completion = await call_model(plain)
        if completion.error is not None or completion.text is None:
            return completion
        text, calls = parse_prompted(completion.text, [t.function.name for t in tools])
        return completion.model_copy(update={"text": text if calls else completion.text, "tool_calls": calls})

    return call
