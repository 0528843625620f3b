"""The anthropic provider: the official SDK against a fake of the Messages API on 127.0.0.1."""

from __future__ import annotations

import json
from typing import Any

import pytest

from evalkit.errors import AuthenticationError, ModelNotFoundError, UserInputError
from evalkit.providers.anthropic_messages import AnthropicProvider, AnthropicSettings
from evalkit.types import FunctionSpec, ToolCall, ToolSchema
from tests.fake_anthropic import REFERENCE_MESSAGE, FakeAnthropic, fault
from tests.fake_http import Fault
from tests.providers.conftest import ANTHROPIC_KEY, connected, generate, requests, tool_follow_up


def make(fake: FakeAnthropic, concurrency: int = 4, **settings: Any) -> Any:
    options: dict[str, Any] = {"backoff_base_s": 0.01, "backoff_max_s": 0.02, **settings}
    provider = AnthropicProvider(
        "claude", AnthropicSettings(base_url=fake.url, model="claude-sonnet-5-5", **options)
    )
    return connected(provider, concurrency)


WEATHER = ToolSchema(
    function=FunctionSpec(
        name="get_weather",
        description="Current weather",
        parameters={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    )
)


def test_plain_answer_system_prompt_params_and_the_reference_usage(fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.responder = lambda body: {**REFERENCE_MESSAGE}
    [out] = generate(
        make(fake_anthropic), requests(1, system="Be brief.", temperature=0.2, max_tokens=64, stop=["\n\n"])
    )
    assert out.error is None and out.text == "Hi! My name is Claude."
    assert out.finish_reason == "end_turn" and out.model_version == "claude-sonnet-5-5"
    assert out.usage.input_tokens == 2095 and out.usage.output_tokens == 503
    assert out.usage.cached_input_tokens == 0 and out.usage.cache_write_tokens == 0
    assert out.latency_ms is not None and out.latency_ms > 0 and out.ttft_ms is None
    [seen] = fake_anthropic.seen
    body = seen.body
    assert body["system"] == "Be brief." and body["messages"] == [{"role": "user", "content": "question 0"}]
    assert body["max_tokens"] == 64 and body["stop_sequences"] == ["\n\n"]
    assert "temperature" not in body and "stream" not in body
    # the current API version authenticates with a bearer token
    assert seen.headers["Authorization"] == f"Bearer {ANTHROPIC_KEY}" and "x-api-key" not in seen.headers
    assert seen.headers["anthropic-version"]


def test_the_older_x_api_key_header_and_a_default_max_tokens(fake_anthropic: FakeAnthropic) -> None:
    [out] = generate(make(fake_anthropic, auth="x-api-key", max_tokens=321), requests(1))
    assert out.error is None and out.text == "echo: question 0"
    [seen] = fake_anthropic.seen
    assert seen.headers["x-api-key"] == ANTHROPIC_KEY and "Authorization" not in seen.headers
    assert seen.body["max_tokens"] == 321


def test_the_current_api_takes_no_sampling_params_and_the_plan_says_so(fake_anthropic: FakeAnthropic) -> None:
    provider = make(fake_anthropic)
    reqs = requests(1, temperature=0.5, top_p=0.9)
    assert provider.plugin.param_notes(reqs[0]) == [
        "not sent: temperature (the current Messages API takes none; sampling: send passes it)",
        "not sent: top_p (the current Messages API takes none; sampling: send passes it)",
    ]
    generate(provider, reqs)
    body = fake_anthropic.seen[0].body
    assert "temperature" not in body and "top_p" not in body


def test_temperature_and_top_p_are_not_both_sent_to_older_versions(fake_anthropic: FakeAnthropic) -> None:
    provider = make(fake_anthropic, sampling="send", api_version="2023-06-01", auth="x-api-key")
    reqs = requests(1, temperature=0.5, top_p=0.9, seed=3)
    assert provider.plugin.param_notes(reqs[0]) == [
        "not sent: top_p (current Claude models take temperature or top_p, not both)",
        "not sent: seed (the Messages API has no seed)",
    ]
    generate(provider, reqs)
    body = fake_anthropic.seen[0].body
    assert body["temperature"] == 0.5 and "top_p" not in body and "seed" not in body
    assert fake_anthropic.seen[0].headers["anthropic-version"] == "2023-06-01"


def test_cache_read_and_write_tokens_count_into_the_input(fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.responder = lambda body: {
        "content": [{"type": "text", "text": "ok"}],
        "stop_reason": "end_turn",
        "usage": {
            "input_tokens": 50,
            "cache_read_input_tokens": 1800,
            "cache_creation_input_tokens": 200,
            "output_tokens": 7,
        },
    }
    [out] = generate(make(fake_anthropic), requests(1))
    u = out.usage
    assert (u.input_tokens, u.cached_input_tokens, u.cache_write_tokens, u.output_tokens) == (
        2050,
        1800,
        200,
        7,
    )


def thinking_reply(body: dict[str, Any]) -> dict[str, Any]:
    return {
        "content": [
            {
                "type": "thinking",
                "thinking": "Let me add 2 and 2.",
                "signature": "EqQBCgIYAhIM1gbcDa9GJwZA2b3h",
            },
            {"type": "text", "text": "4"},
        ],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 12, "output_tokens": 40, "output_tokens_details": {"thinking_tokens": 31}},
    }


@pytest.mark.parametrize("stream", [False, True])
def test_extended_thinking_is_reasoning_kept_apart_from_the_answer(
    fake_anthropic: FakeAnthropic, stream: bool
) -> None:
    fake_anthropic.responder = thinking_reply
    provider = make(fake_anthropic, thinking_budget=2048, stream=stream, sampling="send")
    reqs = requests(1, temperature=0.7, max_tokens=100)
    assert provider.plugin.param_notes(reqs[0]) == [
        "not sent: temperature (extended thinking takes no temperature)"
    ]
    [out] = generate(provider, reqs)
    assert out.error is None and out.text == "4" and out.reasoning == "Let me add 2 and 2."
    assert out.usage.reasoning_tokens == 31 and out.usage.output_tokens == 40
    body = fake_anthropic.seen[0].body
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert body["max_tokens"] > 2048 and "temperature" not in body
    assert (out.ttft_ms is not None) == stream


def test_streamed_answers_match_the_plain_ones_with_time_to_first_token(
    fake_anthropic: FakeAnthropic,
) -> None:
    plain = generate(make(fake_anthropic), requests(3, content="a longer question number {i}"))
    streamed = generate(
        make(fake_anthropic, stream=True), requests(3, content="a longer question number {i}")
    )
    assert (
        [c.text for c in streamed]
        == [c.text for c in plain]
        == [f"echo: a longer question number {i}" for i in range(3)]
    )
    assert [c.usage for c in streamed] == [c.usage for c in plain]
    assert all(
        c.ttft_ms is not None and c.latency_ms is not None and c.ttft_ms <= c.latency_ms for c in streamed
    )
    assert all(s.body.get("stream") is True for s in fake_anthropic.seen[3:])


def tool_reply(body: dict[str, Any]) -> dict[str, Any]:
    if body["messages"][-1]["role"] == "user" and isinstance(body["messages"][-1]["content"], list):
        results = [b["content"] for b in body["messages"][-1]["content"]]
        return {
            "content": [{"type": "text", "text": " / ".join(results)}],
            "stop_reason": "end_turn",
            "usage": {"input_tokens": 30, "output_tokens": 5},
        }
    return {
        "content": [
            {"type": "text", "text": "I'll check both."},
            {
                "type": "tool_use",
                "id": "toolu_01A09q90qw90lq917835lq9",
                "name": "get_weather",
                "input": {"city": "Paris"},
            },
            {"type": "tool_use", "id": "toolu_01B", "name": "get_weather", "input": {"city": "Oslo"}},
        ],
        "stop_reason": "tool_use",
        "usage": {"input_tokens": 20, "output_tokens": 15},
    }


@pytest.mark.parametrize("stream", [False, True])
def test_parallel_tool_calls_and_their_results_round_trip(
    fake_anthropic: FakeAnthropic, stream: bool
) -> None:
    fake_anthropic.responder = tool_reply
    provider = make(fake_anthropic, stream=stream)
    [out] = generate(provider, requests(1, tools=(WEATHER,), tool_choice="required"))
    assert out.finish_reason == "tool_use" and out.text == "I'll check both."
    assert out.tool_calls == [
        ToolCall(id="toolu_01A09q90qw90lq917835lq9", name="get_weather", arguments={"city": "Paris"}),
        ToolCall(id="toolu_01B", name="get_weather", arguments={"city": "Oslo"}),
    ]
    body = fake_anthropic.seen[0].body
    assert body["tools"] == [
        {"name": "get_weather", "description": "Current weather", "input_schema": WEATHER.function.parameters}
    ]
    assert body["tool_choice"] == {"type": "any"}
    # the next turn: the assistant's tool_use blocks, then one user turn with both tool results
    follow = tool_follow_up(
        "I'll check both.",
        out.tool_calls,
        [("toolu_01A09q90qw90lq917835lq9", "sunny"), ("toolu_01B", "snow")],
        requests(1, tools=(WEATHER,))[0].params,
    )
    [answer] = generate(make(fake_anthropic, stream=stream), [follow])
    assert answer.text == "sunny / snow" and answer.tool_calls is None
    sent = fake_anthropic.seen[-1].body["messages"]
    assert sent[1] == {
        "role": "assistant",
        "content": [
            {"type": "text", "text": "I'll check both."},
            {
                "type": "tool_use",
                "id": "toolu_01A09q90qw90lq917835lq9",
                "name": "get_weather",
                "input": {"city": "Paris"},
            },
            {"type": "tool_use", "id": "toolu_01B", "name": "get_weather", "input": {"city": "Oslo"}},
        ],
    }
    assert sent[2] == {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": "toolu_01A09q90qw90lq917835lq9", "content": "sunny"},
            {"type": "tool_result", "tool_use_id": "toolu_01B", "content": "snow"},
        ],
    }


def test_an_undeclared_tool_is_flagged(fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.responder = lambda body: {
        "content": [{"type": "tool_use", "id": "toolu_9", "name": "rm_rf", "input": {}}],
        "stop_reason": "tool_use",
        "usage": {"input_tokens": 1, "output_tokens": 1},
    }
    [out] = generate(make(fake_anthropic), requests(1, tools=(WEATHER,)))
    assert out.tool_calls is not None and out.tool_calls[0].error == "tool 'rm_rf' is not declared"


def test_429_waits_the_servers_retry_after_and_529_and_503_are_retried(fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.fail(
        fault(
            429,
            "rate_limit_error",
            "Number of request tokens has exceeded your per-minute rate limit",
            **{"retry-after": "0.2"},
        ),
        fault(529, "overloaded_error", "Overloaded"),
        fault(503, "api_error", "Service unavailable"),
    )
    [out] = generate(make(fake_anthropic, concurrency=1), requests(1))
    assert out.error is None and out.text == "echo: question 0" and out.attempts == 4
    assert len(fake_anthropic.seen) == 4


def test_a_mid_stream_overloaded_error_event_is_retried(fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.stream_error = {"type": "overloaded_error", "message": "Overloaded"}
    provider = make(fake_anthropic, stream=True, max_attempts=2)
    [out] = generate(provider, requests(1))
    assert out.error is not None and out.error.startswith("gave up after 2 attempts: ")
    assert "Overloaded" in out.error and len(fake_anthropic.seen) == 2


def test_retry_after_beyond_the_cap_is_one_error(fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.fail(fault(429, "rate_limit_error", "slow down", **{"retry-after": "3600"}))
    [out] = generate(make(fake_anthropic), requests(1))
    assert (
        out.error == "HTTP 429 with a retry-after of 3600s, beyond the 120s cap"
        and len(fake_anthropic.seen) == 1
    )


def test_malformed_bodies_are_one_error_result_each(fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.fail(
        Fault(status=200, body="{not json"), Fault(status=200, body='{"type": "message", "content": 7}')
    )
    out = generate(make(fake_anthropic, concurrency=1, max_attempts=1), requests(3))
    assert [c.error is None for c in out].count(True) == 1
    bad = [c.error for c in out if c.error is not None]
    assert len(bad) == 2 and all(e.startswith("could not read the response") for e in bad)


def test_a_timeout_is_retried_then_reported(fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.fail(Fault(hang_s=1.0), Fault(hang_s=1.0))
    [out] = generate(make(fake_anthropic, timeout_s=0.2, max_attempts=2), requests(1))
    assert out.error == "gave up after 2 attempts: timed out after 0.2s"


def test_401_stops_the_run_and_the_key_never_shows(
    fake_anthropic: FakeAnthropic, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = "sk-ant-api03-wrong-key-9876543210"
    monkeypatch.setenv("ANTHROPIC_API_KEY", wrong)
    fake_anthropic.fail(fault(401, "authentication_error", f"invalid x-api-key {wrong}"))
    with pytest.raises(AuthenticationError) as raised:
        generate(make(fake_anthropic), requests(5))
    assert "refused the credentials (HTTP 401)" in str(raised.value)
    assert wrong not in str(raised.value) and "***" in str(raised.value)
    assert len(fake_anthropic.seen) <= 4  # nothing more is sent once refused


def test_a_model_the_api_does_not_know_is_asked_once_and_stops_the_run(fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.models = {"claude-sonnet-5-5"}
    provider = connected(
        AnthropicProvider(
            "claude", AnthropicSettings(base_url=fake_anthropic.url, model="claude-sonnet-9-9")
        ),
        concurrency=8,
    )
    with pytest.raises(ModelNotFoundError) as raised:
        generate(provider, requests(8))
    assert len(fake_anthropic.seen) == 1  # the first request went alone; the rest were never sent
    assert str(raised.value) == (
        "provider 'claude': the Anthropic API does not know model 'claude-sonnet-9-9' (HTTP 404): "
        "model: claude-sonnet-9-9 (check the model name in evalkit.yaml)"
    )
    assert raised.value.exit_code == 2


def test_a_known_model_is_not_held_back_after_its_first_answer(fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.latency_s = 0.3
    provider = connected(
        AnthropicProvider(
            "claude", AnthropicSettings(base_url=fake_anthropic.url, model="claude-sonnet-5-5")
        ),
        concurrency=8,
    )
    out = generate(provider, requests(9))
    assert (
        all(c.error is None for c in out) and fake_anthropic.max_in_flight >= 4
    )  # after the first, together


def test_a_missing_key_is_named_before_any_call(
    fake_anthropic: FakeAnthropic, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    with pytest.raises(UserInputError, match="environment variable ANTHROPIC_API_KEY is not set"):
        make(fake_anthropic)
    assert fake_anthropic.seen == []


def test_settings_are_typed_and_closed() -> None:
    with pytest.raises(ValueError, match="extra"):
        AnthropicSettings.model_validate({"model": "m", "temprature": 1})
    with pytest.raises(ValueError):
        AnthropicSettings.model_validate({"thinking_budget": 10})  # the API's minimum is 1024


def test_reference_fixture_is_the_documented_shape() -> None:
    assert json.loads(json.dumps(REFERENCE_MESSAGE))["usage"] == {"input_tokens": 2095, "output_tokens": 503}
