"""The gemini provider: the official google-genai SDK against a fake of the Gemini API on 127.0.0.1."""

from __future__ import annotations

from typing import Any

import pytest

from evalkit.errors import AuthenticationError, ModelNotFoundError, UserInputError
from evalkit.providers.gemini import GeminiProvider, GeminiSettings
from evalkit.types import FunctionSpec, ToolCall, ToolSchema
from tests.conftest import GEMINI_KEY
from tests.fake_gemini import REFERENCE_RESPONSE, FakeGemini, error
from tests.fake_http import Fault
from tests.providers.conftest import connected, generate, requests, tool_follow_up

WEATHER = ToolSchema(
    function=FunctionSpec(
        name="get_weather",
        description="Current weather",
        parameters={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    )
)


def make(fake: FakeGemini, concurrency: int = 4, **settings: Any) -> Any:
    options: dict[str, Any] = {"backoff_base_s": 0.01, "backoff_max_s": 0.02, **settings}
    provider = GeminiProvider(
        "gemini", GeminiSettings(base_url=fake.url, model="gemini-2.5-flash", **options)
    )
    return connected(provider, concurrency)


def test_plain_answer_config_and_the_key_in_a_header_not_the_url(fake_gemini: FakeGemini) -> None:
    fake_gemini.responder = lambda body: REFERENCE_RESPONSE
    [out] = generate(
        make(fake_gemini),
        requests(1, system="Be brief.", temperature=0.3, top_p=0.9, max_tokens=64, stop=["\n"], seed=7),
    )
    assert out.error is None and out.text == "The capital of France is Paris."
    assert out.finish_reason == "STOP" and out.model_version == "gemini-2.5-flash"
    assert (out.usage.input_tokens, out.usage.output_tokens) == (8, 7)
    [seen] = fake_gemini.seen
    assert seen.path == "/v1beta/models/gemini-2.5-flash:generateContent"
    assert seen.headers["x-goog-api-key"] == GEMINI_KEY and "key" not in seen.query
    body = fake_gemini.body(0)
    assert body["systemInstruction"]["parts"] == [{"text": "Be brief."}]
    assert body["contents"] == [{"role": "user", "parts": [{"text": "question 0"}]}]
    config = body["generationConfig"]
    assert config == {
        "temperature": 0.3,
        "topP": 0.9,
        "maxOutputTokens": 64,
        "stopSequences": ["\n"],
        "seed": 7,
    }


def thinking_reply(body: dict[str, Any]) -> dict[str, Any]:
    return {
        "parts": [{"text": "Two plus two is four.", "thought": True}, {"text": "4"}],
        "finishReason": "STOP",
        "usageMetadata": {
            "promptTokenCount": 1200,
            "cachedContentTokenCount": 1000,
            "candidatesTokenCount": 1,
            "thoughtsTokenCount": 25,
            "totalTokenCount": 1226,
        },
    }


@pytest.mark.parametrize("stream", [False, True])
def test_thinking_and_cached_content_tokens(fake_gemini: FakeGemini, stream: bool) -> None:
    fake_gemini.responder = thinking_reply
    [out] = generate(make(fake_gemini, thinking_budget=1024, stream=stream), requests(1))
    assert out.error is None and out.text == "4" and out.reasoning == "Two plus two is four."
    u = out.usage
    # Google bills thoughts as output: they count into output_tokens
    assert (u.input_tokens, u.cached_input_tokens, u.output_tokens, u.reasoning_tokens) == (
        1200,
        1000,
        26,
        25,
    )
    config = fake_gemini.body(0)["generationConfig"]
    assert config["thinkingConfig"] == {"thinkingBudget": 1024, "includeThoughts": True}
    assert (out.ttft_ms is not None) == stream
    if stream:
        assert (
            fake_gemini.seen[0].path.endswith(":streamGenerateContent")
            and fake_gemini.seen[0].query["alt"] == "sse"
        )


def test_streamed_answers_match_the_plain_ones(fake_gemini: FakeGemini) -> None:
    plain = generate(make(fake_gemini), requests(3))
    streamed = generate(make(fake_gemini, stream=True), requests(3))
    assert [c.text for c in streamed] == [c.text for c in plain] == [f"echo: question {i}" for i in range(3)]
    assert [c.usage for c in streamed] == [c.usage for c in plain]


def tool_reply(body: dict[str, Any]) -> dict[str, Any]:
    last = body["contents"][-1]["parts"]
    if "functionResponse" in last[0]:
        text = " / ".join(p["functionResponse"]["response"]["result"] for p in last)
        return {
            "parts": [{"text": text}],
            "finishReason": "STOP",
            "usageMetadata": {"promptTokenCount": 9, "candidatesTokenCount": 3},
        }
    return {
        "parts": [
            {"functionCall": {"id": "fc-1", "name": "get_weather", "args": {"city": "Paris"}}},
            {"functionCall": {"id": "fc-2", "name": "get_weather", "args": {"city": "Oslo"}}},
        ],
        "finishReason": "STOP",
        "usageMetadata": {"promptTokenCount": 9, "candidatesTokenCount": 12},
    }


@pytest.mark.parametrize("stream", [False, True])
def test_parallel_function_calls_and_their_responses_round_trip(
    fake_gemini: FakeGemini, stream: bool
) -> None:
    fake_gemini.responder = tool_reply
    [out] = generate(make(fake_gemini, stream=stream), requests(1, tools=(WEATHER,), tool_choice="required"))
    assert out.tool_calls == [
        ToolCall(id="fc-1", name="get_weather", arguments={"city": "Paris"}),
        ToolCall(id="fc-2", name="get_weather", arguments={"city": "Oslo"}),
    ]
    body = fake_gemini.body(0)
    [declared] = body["tools"][0]["functionDeclarations"]
    assert (
        declared["name"] == "get_weather" and declared["parametersJsonSchema"] == WEATHER.function.parameters
    )
    assert body["toolConfig"] == {"functionCallingConfig": {"mode": "ANY"}}
    follow = tool_follow_up(
        "",
        out.tool_calls,
        [("fc-1", "sunny"), ("fc-2", "snow")],
        requests(1, tools=(WEATHER,))[0].params,
    )
    [answer] = generate(make(fake_gemini, stream=stream), [follow])
    assert answer.text == "sunny / snow"
    sent = fake_gemini.body(-1)["contents"]
    assert sent[1] == {
        "role": "model",
        "parts": [
            {"functionCall": {"id": "fc-1", "name": "get_weather", "args": {"city": "Paris"}}},
            {"functionCall": {"id": "fc-2", "name": "get_weather", "args": {"city": "Oslo"}}},
        ],
    }
    assert sent[2]["parts"] == [
        {"functionResponse": {"id": "fc-1", "name": "get_weather", "response": {"result": "sunny"}}},
        {"functionResponse": {"id": "fc-2", "name": "get_weather", "response": {"result": "snow"}}},
    ]


@pytest.mark.parametrize("stream", [False, True])
def test_a_blocked_prompt_is_an_error_with_its_reason(fake_gemini: FakeGemini, stream: bool) -> None:
    fake_gemini.responder = lambda body: {
        "promptFeedback": {
            "blockReason": "SAFETY",
            "safetyRatings": [{"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH"}],
        },
        "usageMetadata": {"promptTokenCount": 7, "totalTokenCount": 7},
    }
    [out] = generate(make(fake_gemini, stream=stream), requests(1))
    assert out.error == "Gemini blocked the prompt (SAFETY)" and out.text is None
    assert out.usage.input_tokens == 7


def test_a_blocked_answer_is_an_error_not_an_empty_output(fake_gemini: FakeGemini) -> None:
    fake_gemini.responder = lambda body: {
        "candidates": [
            {
                "finishReason": "SAFETY",
                "index": 0,
                "safetyRatings": [
                    {"category": "HARM_CATEGORY_HARASSMENT", "probability": "HIGH", "blocked": True}
                ],
            }
        ],
        "usageMetadata": {"promptTokenCount": 5},
    }
    [out] = generate(make(fake_gemini), requests(1))
    assert out.error == "Gemini blocked the answer (SAFETY)" and out.text is None


def test_429_waits_the_retry_delay_and_503_is_retried(fake_gemini: FakeGemini) -> None:
    fake_gemini.fail(
        error(
            429, "RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota).", retry_delay="0.2s"
        ),
        error(503, "UNAVAILABLE", "The model is overloaded. Please try again later."),
    )
    [out] = generate(make(fake_gemini, concurrency=1), requests(1))
    assert out.error is None and out.attempts == 3 and len(fake_gemini.seen) == 3


def test_a_retry_delay_beyond_the_cap_is_one_error(fake_gemini: FakeGemini) -> None:
    fake_gemini.fail(error(429, "RESOURCE_EXHAUSTED", "quota", retry_delay="3600s"))
    [out] = generate(make(fake_gemini), requests(1))
    assert out.error == "HTTP 429 RESOURCE_EXHAUSTED with a retry delay of 3600s, beyond the 120s cap"


def test_malformed_bodies_are_error_results(fake_gemini: FakeGemini) -> None:
    fake_gemini.fail(Fault(status=200, body="{not json"))
    out = generate(make(fake_gemini, concurrency=1, max_attempts=1), requests(2))
    assert out[0].error is not None and out[0].error.startswith("could not read the response")
    assert out[1].error is None


def test_a_timeout_is_retried_then_reported(fake_gemini: FakeGemini) -> None:
    fake_gemini.fail(Fault(hang_s=2.0), Fault(hang_s=2.0))
    [out] = generate(make(fake_gemini, timeout_s=0.3, max_attempts=2), requests(1))
    assert out.error == "gave up after 2 attempts: timed out after 0.3s"


def test_an_invalid_key_stops_the_run_and_never_shows(
    fake_gemini: FakeGemini, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = "AIzaSyD-wrong-key-99999999999999999"
    monkeypatch.setenv("GEMINI_API_KEY", wrong)
    with pytest.raises(AuthenticationError) as raised:
        generate(make(fake_gemini), requests(3))
    assert "API key not valid" in str(raised.value) and wrong not in str(raised.value)
    assert all(wrong not in s.path and wrong not in str(s.query) for s in fake_gemini.seen)


def test_a_model_the_api_does_not_know_is_asked_once_and_stops_the_run(fake_gemini: FakeGemini) -> None:
    fake_gemini.models = {"gemini-2.5-flash"}
    provider = connected(
        GeminiProvider("g", GeminiSettings(base_url=fake_gemini.url, model="gemini-9-ultra")), 8
    )
    with pytest.raises(ModelNotFoundError) as raised:
        generate(provider, requests(8))
    assert len(fake_gemini.seen) == 1
    assert str(raised.value) == (
        "provider 'g': the Gemini API does not know model 'gemini-9-ultra' (HTTP 404): "
        "models/gemini-9-ultra is not found for API version v1beta (check the model name in evalkit.yaml)"
    )


def test_a_missing_key_is_named_before_any_call(
    fake_gemini: FakeGemini, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GEMINI_API_KEY")
    with pytest.raises(UserInputError, match="environment variable GEMINI_API_KEY is not set"):
        make(fake_gemini)
    assert fake_gemini.seen == []
