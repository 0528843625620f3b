"""Tool calls through the `openai` provider against a server speaking the OpenAI tool-call wire
format on 127.0.0.1: normal and streamed responses, parallel calls, malformed arguments and a
tool the request did not declare."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from evalkit.providers.openai_compat import OpenAICompatProvider, OpenAISettings
from evalkit.providers.service import bind_connections, exactly_once
from evalkit.tools.wire import NOT_JSON
from evalkit.types import Completion, GenerationParams, Message, Request, ToolSchema
from tests.fake_openai import FakeOpenAI

TOOLS = (
    ToolSchema.model_validate(
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Weather for a city",
                "parameters": {
                    "type": "object",
                    "properties": {"city": {"type": "string"}},
                    "required": ["city"],
                },
            },
        }
    ),
    ToolSchema.model_validate({"type": "function", "function": {"name": "get_time"}}),
)

PARALLEL = {
    "content": None,
    "tool_calls": [
        {
            "id": "call_a",
            "name": "get_weather",
            "arguments": json.dumps({"city": "Paris, France", "units": "metric"}),
        },
        {"id": "call_b", "name": "get_weather", "arguments": json.dumps({"city": "Lagos"})},
        {"id": "call_c", "name": "get_time", "arguments": ""},
    ],
}
BROKEN = {
    "content": "Let me check.",
    "tool_calls": [
        {"id": "call_x", "name": "get_weather", "arguments": '{"city": "Par'},
        {"id": "call_y", "name": "launch_rockets", "arguments": '{"count": 3}'},
    ],
}


def responder(body: dict[str, Any]) -> Any:
    question = body["messages"][-1]["content"]
    return {"parallel": PARALLEL, "broken": BROKEN}.get(question, "no tools needed")


def ask(stream: bool, question: str, **params: Any) -> tuple[Completion, dict[str, Any]]:
    with FakeOpenAI(responder=responder) as server:
        cfg = OpenAISettings(base_url=server.url, model="m", stream=stream, backoff_base_s=0.01)
        provider = bind_connections({"api": OpenAICompatProvider("api", cfg)}, {"api": 2})["api"]
        provider.check()
        request = Request(
            key="s/c/v/0",
            suite="s",
            case_id="c",
            variant="v",
            repeat=0,
            messages=(Message(role="user", content=question),),
            params=GenerationParams(tools=TOOLS, **params),
        )

        async def go() -> list[Completion]:
            try:
                return [c async for _, c in exactly_once(provider, [request])]
            finally:
                await provider.aclose()

        completion = asyncio.run(go())[0]
        return completion, server.requests[0]


@pytest.mark.parametrize("stream", [False, True])
def test_parallel_tool_calls_parsed(stream: bool) -> None:
    completion, sent = ask(stream, "parallel", tool_choice="required")
    assert sent["tools"] == [t.model_dump(mode="json", exclude_none=True) for t in TOOLS]
    assert sent["tool_choice"] == "required"
    assert completion.error is None and completion.finish_reason == "tool_calls"
    calls = completion.tool_calls
    assert calls is not None
    assert [(c.id, c.name) for c in calls] == [
        ("call_a", "get_weather"),
        ("call_b", "get_weather"),
        ("call_c", "get_time"),
    ]
    assert calls[0].arguments == {"city": "Paris, France", "units": "metric"}
    assert calls[1].arguments == {"city": "Lagos"}
    assert calls[2].arguments == {}  # an empty argument string is no arguments
    assert all(c.raw_arguments is None and c.error is None for c in calls)
    assert completion.text == ""


@pytest.mark.parametrize("stream", [False, True])
def test_malformed_arguments_kept_raw_and_undeclared_tool_flagged(stream: bool) -> None:
    completion, _ = ask(stream, "broken")
    assert completion.text == "Let me check."
    calls = completion.tool_calls
    assert calls is not None and len(calls) == 2
    assert (
        calls[0].arguments is None
        and calls[0].raw_arguments == '{"city": "Par'
        and calls[0].error == NOT_JSON
    )
    assert calls[1].name == "launch_rockets" and calls[1].arguments == {"count": 3}
    assert calls[1].error == "tool 'launch_rockets' is not declared"


@pytest.mark.parametrize("stream", [False, True])
def test_plain_answers_have_no_tool_calls(stream: bool) -> None:
    completion, sent = ask(stream, "hello")
    assert completion.text == "no tools needed" and completion.tool_calls is None
    assert "tool_choice" not in sent


def test_named_tool_choice_sent_verbatim() -> None:
    choice = {"type": "function", "function": {"name": "get_time"}}
    _, sent = ask(False, "hello", tool_choice=choice)
    assert sent["tool_choice"] == choice
