"""`api: responses` on the `openai` provider against FakeOpenAI's /v1/responses, which speaks the
Responses API's documented JSON and event stream: the request's shape (instructions, input items,
max_output_tokens, reasoning, store), usage and reasoning tokens, reasoning summaries kept apart,
incomplete answers, function calls both ways (parallel ones, the agent loop), streaming with time
to first token, retries, malformed bodies, refused credentials, Azure's v1 API and the price."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import genai_prices
import pytest

from evalkit.agent.loop import AgentProvider, bind_tools, binding_key
from evalkit.errors import AuthenticationError
from evalkit.providers.openai_compat import OpenAICompatProvider, OpenAISettings
from evalkit.providers.service import exactly_once
from evalkit.spec.prices import database_price
from evalkit.types import AgentSettings, Message, Request, ToolSchema, Usage, normalise_finish
from tests.fake_openai import FakeOpenAI, Fault
from tests.providers.conftest import connected, generate, requests

KEY = "sk-proj-responses-test-0123456789abcdef"


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    with FakeOpenAI(api_key=KEY) as fake:
        yield fake


def provider(server: FakeOpenAI, **settings: Any) -> Any:
    cfg: Any = {
        "api": "responses",
        "base_url": server.url,
        "model": "gpt-5.1",
        "api_key_env": "OPENAI_API_KEY",
    }
    cfg.update(backoff_base_s=0.01, **settings)
    return connected(OpenAICompatProvider("gpt", OpenAISettings(**cfg)))


def test_posts_the_responses_body_and_reads_its_usage(server: FakeOpenAI) -> None:
    [out] = generate(
        provider(server, reasoning_effort="low"),
        requests(1, system="Answer briefly.", max_tokens=50, temperature=0.2),
    )
    assert out.error is None and out.text == "echo: question 0"
    assert server.paths[-1] == "/v1/responses"
    body = server.requests[-1]
    assert body == {
        "model": "gpt-5.1",
        "input": [{"role": "user", "content": "question 0"}],
        "store": False,
        "instructions": "Answer briefly.",
        "max_output_tokens": 50,
        "temperature": 0.2,
        "reasoning": {"effort": "low"},
    }
    assert server.headers_seen[-1]["Authorization"] == f"Bearer {KEY}"
    assert out.usage == Usage(input_tokens=4, output_tokens=3, cached_input_tokens=0, reasoning_tokens=0)
    assert out.model_version == "gpt-5.1-2026-01-01"
    assert normalise_finish(out.finish_reason) == ("stop", "completed")
    assert out.latency_ms is not None and out.latency_ms > 0


def test_store_can_be_turned_on(server: FakeOpenAI) -> None:
    generate(provider(server, store=True), requests(1))
    assert server.requests[-1]["store"] is True


def test_reasoning_summary_is_kept_apart_and_its_tokens_counted(server: FakeOpenAI) -> None:
    server.responses_responder = lambda body: {
        "content": "42",
        "reasoning": "Six times seven is forty two.",
        "cached_tokens": 2,
    }
    [out] = generate(provider(server, reasoning_effort="high", reasoning_summary="auto"), requests(1))
    assert server.requests[-1]["reasoning"] == {"effort": "high", "summary": "auto"}
    assert out.text == "42" and out.reasoning == "Six times seven is forty two."
    assert out.usage.reasoning_tokens == 18 and out.usage.output_tokens == 19
    assert out.usage.cached_input_tokens == 2


@pytest.mark.parametrize(
    ("reply", "normal"),
    [
        (
            {"content": "one two three four five six", "incomplete": "max_output_tokens"},
            ("length", "max_output_tokens"),
        ),
        ({"content": "", "incomplete": "content_filter"}, ("content_filter", None)),
        ({"refusal": "I can't help with that."}, ("content_filter", "refusal")),
    ],
)
def test_an_incomplete_or_refused_answer_says_why(server: FakeOpenAI, reply: Any, normal: Any) -> None:
    server.responses_responder = lambda body: reply
    [out] = generate(provider(server), requests(1))
    assert out.error is None
    assert normalise_finish(out.finish_reason) == normal


def test_max_output_tokens_cuts_the_answer_to_length(server: FakeOpenAI) -> None:
    server.responses_responder = lambda body: "a b c d e f g h"
    [out] = generate(provider(server), requests(1, max_tokens=3))
    assert out.text == "a b c" and normalise_finish(out.finish_reason)[0] == "length"


TOOLS = [
    ToolSchema.model_validate(
        {
            "type": "function",
            "function": {
                "name": "weather.get",
                "description": "The weather in a city",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
        }
    )
]


def parallel_calls(body: dict[str, Any]) -> Any:
    return {
        "content": None,
        "tool_calls": [
            {"id": "call_a", "name": "weather_get", "arguments": json.dumps({"city": "Paris"})},
            {"id": "call_b", "name": "weather_get", "arguments": json.dumps({"city": "Oslo"})},
        ],
    }


@pytest.mark.parametrize("stream", [False, True])
def test_parallel_function_calls_become_tool_calls(server: FakeOpenAI, stream: bool) -> None:
    server.responses_responder = parallel_calls
    [out] = generate(provider(server, stream=stream), requests(1, tools=TOOLS, tool_choice="required"))
    body = server.requests[-1]
    assert body["tools"] == [
        {
            "type": "function",
            "name": "weather_get",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            "description": "The weather in a city",
            "strict": False,
        }
    ]
    assert body["tool_choice"] == "required"
    assert out.error is None and out.tool_calls is not None
    assert [(c.id, c.name, c.arguments, c.error) for c in out.tool_calls] == [
        ("call_a", "weather.get", {"city": "Paris"}, None),
        ("call_b", "weather.get", {"city": "Oslo"}, None),
    ]
    assert normalise_finish(out.finish_reason)[0] == "tool_calls"


def test_a_named_tool_choice_is_sent_the_responses_way(server: FakeOpenAI) -> None:
    generate(
        provider(server),
        requests(1, tools=TOOLS, tool_choice={"type": "function", "function": {"name": "weather.get"}}),
    )
    assert server.requests[-1]["tool_choice"] == {"type": "function", "name": "weather_get"}


def test_the_agent_loop_sends_function_call_outputs_back(server: FakeOpenAI) -> None:
    """Two rounds: parallel calls, their outputs as function_call_output items, then an answer."""

    def respond(body: dict[str, Any]) -> Any:
        outputs = [i for i in body["input"] if i.get("type") == "function_call_output"]
        if not outputs:
            return {
                "content": None,
                "tool_calls": [
                    {"id": "call_1", "name": "add", "arguments": json.dumps({"a": 2, "b": 3})},
                    {"id": "call_2", "name": "add", "arguments": json.dumps({"a": 10, "b": 5})},
                ],
            }
        return "sums: " + ", ".join(o["output"] for o in outputs)

    server.responses_responder = respond
    tools = (
        ToolSchema.model_validate(
            {
                "type": "function",
                "function": {
                    "name": "add",
                    "parameters": {
                        "type": "object",
                        "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
                    },
                },
            }
        ),
    )
    agent = AgentSettings(tools={"add": "tests.agent.sample_tools:add"}, max_steps=4)
    [request] = requests(1, tools=tools)
    request = request.model_copy(update={"agent": agent})
    inner = provider(server)
    wrapped = AgentProvider(inner, {binding_key(agent): bind_tools(agent, "test")})

    async def go() -> Any:
        try:
            return [c async for _, c in exactly_once(wrapped, [request])]
        finally:
            await wrapped.aclose()

    [out] = asyncio.run(go())
    assert out.error is None and out.text == "sums: 5, 15"
    second = server.requests[-1]["input"]
    assert second[0] == {"role": "user", "content": "question 0"}
    assert second[1:] == [
        {"type": "function_call", "call_id": "call_1", "name": "add", "arguments": '{"a": 2, "b": 3}'},
        {"type": "function_call", "call_id": "call_2", "name": "add", "arguments": '{"a": 10, "b": 5}'},
        {"type": "function_call_output", "call_id": "call_1", "output": "5"},
        {"type": "function_call_output", "call_id": "call_2", "output": "15"},
    ]
    assert out.steps is not None and len(out.steps) >= 2


def test_streaming_reads_the_events_and_times_the_first_token(server: FakeOpenAI) -> None:
    server.token_delay_s = 0.05
    server.responses_responder = lambda body: {"content": "one two three four", "reasoning": "think"}
    [out] = generate(provider(server, stream=True, reasoning_summary="auto"), requests(1))
    assert server.requests[-1]["stream"] is True
    assert out.error is None and out.text == "one two three four" and out.reasoning == "think"
    assert out.usage.output_tokens == 7 and out.usage.reasoning_tokens == 3
    assert out.ttft_ms is not None and out.latency_ms is not None
    assert out.ttft_ms < out.latency_ms - 100  # three more tokens came 50 ms apart after the first


def test_a_stream_request_answered_with_a_whole_json_body_is_read_as_one(server: FakeOpenAI) -> None:
    server.ignore_stream = True  # a proxy that ignores `stream`: one application/json response
    server.responses_responder = lambda body: {"content": "one two", "reasoning": "think"}
    [out] = generate(provider(server, stream=True, reasoning_summary="auto"), requests(1))
    assert server.requests[-1]["stream"] is True and len(server.requests) == 1
    assert out.error is None and out.text == "one two" and out.reasoning == "think", out


def test_429_waits_the_retry_after_and_5xx_is_retried(server: FakeOpenAI) -> None:
    server.add_fault(Fault(status=429, headers={"Retry-After": "0.2"}))
    server.add_fault(Fault(status=503))
    [out] = generate(provider(server), requests(1))
    assert out.error is None and out.attempts == 3


@pytest.mark.parametrize(
    "body",
    ["{not json", '{"object": "response", "status": "completed"}', '{"output": [7]}', "[]"],
)
def test_a_malformed_body_is_one_error_result(server: FakeOpenAI, body: str) -> None:
    server.add_fault(Fault(status=200, body=body), times=10)
    outs = generate(provider(server, max_attempts=2), requests(2))
    assert all(o.error is not None and o.text is None for o in outs)


def test_a_failed_response_with_a_server_error_is_retried(server: FakeOpenAI) -> None:
    failed = {
        "object": "response",
        "status": "failed",
        "output": [],
        "error": {"code": "server_error", "message": "boom"},
    }
    server.add_fault(Fault(status=200, body=json.dumps(failed)))
    [out] = generate(provider(server), requests(1))
    assert out.error is None and out.attempts == 2


@pytest.mark.parametrize(
    "events",
    [
        ['{"type": "response.created", "response": {"status": "in_progress", "output": []}}'],
        ['{"type": "error", "code": "server_error", "message": "The server had an error", "param": null}'],
        ["{broken"],
    ],
)
def test_a_broken_stream_is_retried_then_one_error(server: FakeOpenAI, events: list[str]) -> None:
    server.add_fault(Fault(sse=events), times=2)
    [out] = generate(provider(server, stream=True, max_attempts=2), requests(1))
    assert out.error is not None and out.error.startswith("gave up after 2 attempts")


def test_401_stops_the_run_without_the_key(server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-proj-wrong-key-00000000000000")
    with pytest.raises(AuthenticationError) as info:
        generate(provider(server), requests(3))
    assert "refused the credentials (HTTP 401)" in str(info.value)
    assert "sk-proj-wrong" not in str(info.value)


def test_stop_and_seed_are_named_as_not_sent(server: FakeOpenAI) -> None:
    p = OpenAICompatProvider("gpt", OpenAISettings(api="responses", model="gpt-5.1"))
    [request] = requests(1, stop=["\n"], seed=7)
    assert p.param_notes(request) == [
        "not sent: stop (the Responses API has no stop sequences)",
        "not sent: seed (the Responses API has no seed)",
    ]
    generate(provider(server), [request])
    assert "stop" not in server.requests[-1] and "seed" not in server.requests[-1]


def test_the_api_and_reasoning_are_part_of_the_cache_identity() -> None:
    chat = OpenAICompatProvider("p", OpenAISettings(model="m"))
    responses = OpenAICompatProvider("p", OpenAISettings(model="m", api="responses", reasoning_effort="low"))
    [request] = requests(1)
    assert chat.cache_identity(request) == {
        "type": "openai",
        "base_url": "https://api.openai.com/v1",
        "model": "m",
    }
    assert responses.cache_identity(request) == {
        **(chat.cache_identity(request) or {}),
        "api": "responses",
        "reasoning": {"effort": "low"},
    }


def test_azure_speaks_the_responses_api_on_its_v1_path(
    server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
    server.api_key = None  # Azure's key comes in the api-key header
    settings = OpenAISettings(
        preset="azure",
        api="responses",
        azure_endpoint=server.url.removesuffix("/v1"),
        deployment="prod-gpt5",
        model="gpt-5.1",
    )
    p = connected(OpenAICompatProvider("az", settings))
    assert p.price_vendor() == "azure"
    [out] = generate(p, requests(1))
    assert out.error is None and out.text == "echo: question 0"
    assert server.paths[-1] == "/openai/v1/responses"
    assert server.requests[-1]["model"] == "prod-gpt5"
    headers = server.headers_seen[-1]
    assert headers["Api-Key"] == KEY and "Authorization" not in headers


def test_a_reasoning_model_is_priced_with_its_reasoning_tokens_as_output() -> None:
    price = database_price("openai", "gpt-5.1")
    assert price is not None
    usage = Usage(input_tokens=1000, output_tokens=600, cached_input_tokens=200, reasoning_tokens=500)
    reference = genai_prices.calc_price(
        genai_prices.Usage(input_tokens=1000, output_tokens=600, cache_read_tokens=200),
        "gpt-5.1",
        provider_id="openai",
    )
    assert price.cost(usage) == pytest.approx(float(reference.total_price))
    # the 500 reasoning tokens are billed: 100 output tokens alone would cost less
    less = price.cost(Usage(input_tokens=1000, output_tokens=100, cached_input_tokens=200))
    assert less is not None and price.cost(usage) > less


def test_a_conversation_with_a_tool_turn_is_sent_as_items(server: FakeOpenAI) -> None:
    [base] = requests(1)
    from evalkit.types import ToolCall

    messages = (
        Message(role="system", content="Be brief."),
        Message(role="user", content="Weather?"),
        Message(
            role="assistant",
            content="Checking.",
            tool_calls=[ToolCall(id="c1", name="w.get", arguments={"city": "Rome"})],
        ),
        Message(role="tool", content="sunny", tool_call_id="c1"),
    )
    request = Request(**{**base.model_dump(), "messages": messages})
    generate(provider(server), [request])
    body = server.requests[-1]
    assert body["instructions"] == "Be brief."
    assert body["input"] == [
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": "Checking."},
        {"type": "function_call", "call_id": "c1", "name": "w_get", "arguments": '{"city": "Rome"}'},
        {"type": "function_call_output", "call_id": "c1", "output": "sunny"},
    ]


def test_the_docs_example_is_a_valid_responses_provider() -> None:
    import yaml

    from tests.docs.conftest import ROOT, blocks

    page = ROOT / "docs" / "guide" / "providers.md"
    [example] = [b for b in blocks("yaml") if b.page == page and "api: responses" in b.body]
    entry = dict(yaml.safe_load(example.body)["providers"]["gpt"])
    assert entry.pop("type") == "openai"
    settings = OpenAISettings.model_validate(entry)
    assert (settings.api, settings.base_url, settings.store) == (
        "responses",
        "https://api.openai.com/v1",
        False,
    )
    p = OpenAICompatProvider("gpt", settings)
    assert p.describe()["reasoning"] == {"effort": "medium", "summary": "auto"}
    assert p.price_vendor() == "openai" and database_price("openai", settings.model) is not None


def test_responses_settings_on_chat_completions_are_refused_not_ignored() -> None:
    with pytest.raises(ValueError, match="reasoning_effort, store apply to api: responses only"):
        OpenAISettings(model="m", reasoning_effort="low", store=True)
    assert OpenAISettings(model="m", api="responses", reasoning_effort="low", store=True).store is True


@pytest.mark.parametrize(
    "content",
    [
        [{"type": "output_text", "text": {"x": 1}}],
        [{"type": "output_text", "text": ["a"]}],
        [{"type": "refusal", "refusal": 5}],
        7,
    ],
)
def test_an_answer_text_of_the_wrong_type_is_one_error_not_its_repr(content: Any) -> None:
    """`"text": {"x": 1}` became the answer "{'x': 1}" and was scored as a normal output."""
    from evalkit.providers.openai_response import UnexpectedResponse
    from evalkit.providers.openai_responses import completion_of

    body = {"status": "completed", "output": [{"type": "message", "content": content}]}
    with pytest.raises(UnexpectedResponse, match="unexpected response"):
        completion_of(body, None)
    ok = {
        "status": "completed",
        "output": [{"type": "message", "content": [{"type": "output_text", "text": ""}]}],
    }
    assert completion_of(ok, None).text == ""
