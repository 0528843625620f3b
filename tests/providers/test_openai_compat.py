"""The OpenAI-compatible provider against a real server on 127.0.0.1 with injected faults."""

from __future__ import annotations

import time

import pytest

from evalkit.errors import AuthenticationError, ModelNotFoundError, UserInputError
from evalkit.providers.openai_compat import OpenAICompatProvider, OpenAISettings, parse_retry_after
from tests.fake_openai import FakeOpenAI, Fault
from tests.helpers.openai_provider import generate, make, requests


def test_records_output_usage_latency_and_model_version(fake_server: FakeOpenAI) -> None:
    out, seen = generate(make(fake_server), requests(3, temperature=0.0, max_tokens=50, stop=["\n"], seed=7))
    assert [c.text for c in out] == [f"echo: question {i}" for i in range(3)]
    assert sorted(seen) == sorted(r.key for r in requests(3))
    first = out[0]
    assert first.finish_reason == "stop" and first.model_version == "m1-2026-01-01 (fp_fake)"
    assert first.usage.input_tokens == 2 and first.usage.output_tokens == 3
    assert first.usage.cached_input_tokens == 0 and first.usage.reasoning_tokens == 0
    assert first.latency_ms is not None and first.latency_ms > 0 and first.attempts == 1
    body = fake_server.requests[0]
    assert (
        body["temperature"] == 0.0
        and body["max_tokens"] == 50
        and body["stop"] == ["\n"]
        and body["seed"] == 7
    )


def test_truncation_at_max_tokens_is_recorded(fake_server: FakeOpenAI) -> None:
    out, _ = generate(make(fake_server), requests(1, max_tokens=1))
    assert out[0].finish_reason == "length" and out[0].text == "echo:"


def test_retries_500_then_succeeds(fake_server: FakeOpenAI) -> None:
    fake_server.add_fault(Fault(status=500), times=2)
    out, _ = generate(make(fake_server, concurrency=1), requests(1))
    assert out[0].error is None and out[0].attempts == 3
    assert len(fake_server.requests) == 3


def test_429_honours_retry_after(fake_server: FakeOpenAI) -> None:
    fake_server.add_fault(Fault(status=429, headers={"Retry-After": "1"}))
    started = time.perf_counter()
    out, _ = generate(make(fake_server, concurrency=1), requests(1))
    assert out[0].error is None and out[0].attempts == 2
    assert time.perf_counter() - started >= 1.0


def test_retry_after_beyond_cap_fails_fast(fake_server: FakeOpenAI) -> None:
    fake_server.add_fault(Fault(status=503, headers={"Retry-After": "3600"}))
    started = time.perf_counter()
    out, _ = generate(make(fake_server, concurrency=1, retry_after_cap_s=5), requests(1))
    assert out[0].error is not None and "beyond the 5s cap" in out[0].error
    assert time.perf_counter() - started < 2.0
    assert len(fake_server.requests) == 1


def test_400_is_not_retried(fake_server: FakeOpenAI) -> None:
    fake_server.add_fault(Fault(status=400, body='{"error": {"message": "bad param"}}'))
    out, _ = generate(make(fake_server, concurrency=1), requests(1))
    assert out[0].error == "HTTP 400: bad param"
    assert len(fake_server.requests) == 1


def test_gives_up_after_max_attempts(fake_server: FakeOpenAI) -> None:
    fake_server.add_fault(Fault(status=502), times=10)
    out, _ = generate(make(fake_server, concurrency=1, max_attempts=3), requests(1))
    assert out[0].error is not None and out[0].error.startswith("gave up after 3 attempts: HTTP 502")
    assert len(fake_server.requests) == 3


def test_dropped_connection_and_truncated_body_are_retried(fake_server: FakeOpenAI) -> None:
    fake_server.add_fault(Fault(drop=True))
    fake_server.add_fault(Fault(truncate=True))
    out, _ = generate(make(fake_server, concurrency=1), requests(1))
    assert out[0].error is None and out[0].text == "echo: question 0" and out[0].attempts == 3


def test_hanging_request_times_out_and_retries(fake_server: FakeOpenAI) -> None:
    fake_server.add_fault(Fault(hang_s=2.0))
    out, _ = generate(make(fake_server, concurrency=1, timeout_s=0.5), requests(1))
    assert out[0].error is None and out[0].attempts == 2


def test_401_aborts_with_clear_error_and_no_key_in_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_KEY", "sk-wrong-key-123456")
    with FakeOpenAI(api_key="sk-right") as server:
        provider = make(server, api_key_env="FAKE_KEY")
        with pytest.raises(AuthenticationError) as info:
            generate(provider, requests(5))
        assert "HTTP 401" in str(info.value) and "sk-wrong" not in str(info.value)
        assert len(server.requests) <= 4  # only what was in flight when the first 401 came back


def test_api_key_is_sent_as_bearer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_KEY", "sk-right-abcdef")
    with FakeOpenAI(api_key="sk-right-abcdef") as server:
        out, _ = generate(make(server, api_key_env="FAKE_KEY"), requests(2))
        assert all(c.error is None for c in out)
        assert server.headers_seen[0]["Authorization"] == "Bearer sk-right-abcdef"


def test_missing_key_env_is_a_user_error(fake_server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOPE_KEY", raising=False)
    cfg = OpenAISettings(base_url=fake_server.url, model="m", api_key_env="NOPE_KEY")
    with pytest.raises(UserInputError, match="NOPE_KEY is not set"):
        OpenAICompatProvider("api", cfg).check()


def test_concurrency_is_bounded() -> None:
    with FakeOpenAI(latency_s=0.05) as server:
        out, _ = generate(make(server, concurrency=5), requests(40))
        assert all(c.error is None for c in out)
        assert server.max_in_flight == 5


def test_parse_retry_after() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    future = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 30))
    value = parse_retry_after(future)
    assert value is not None and 27 <= value <= 31
    for odd in ("nan", "NaN", "inf", "-inf", "-5", "1e9999"):  # `nan` passed the cap (13x longer)
        assert parse_retry_after(odd) is None, odd


def test_a_nan_retry_after_is_not_waited_on() -> None:
    with FakeOpenAI() as server:
        server.faults.append(Fault(status=429, headers={"Retry-After": "nan"}))
        started = time.perf_counter()
        out, _ = generate(make(server), requests(1))
    assert out[0].error is None and time.perf_counter() - started < 5


def test_streaming_records_time_to_first_token() -> None:
    with FakeOpenAI(token_delay_s=0.05) as server:
        plain, _ = generate(make(server), requests(1))
        streamed, _ = generate(make(server, stream=True), requests(2, max_tokens=50))
    first = streamed[0]
    assert first.error is None and first.text == plain[0].text == "echo: question 0"
    assert first.finish_reason == "stop" and first.model_version == "m1-2026-01-01"
    assert first.usage.input_tokens == 2 and first.usage.output_tokens == 3
    assert first.ttft_ms is not None and first.latency_ms is not None
    assert (
        first.ttft_ms < first.latency_ms - 80
    )  # 3 words, 50 ms apart: the first arrives well before the end
    assert server.requests[-1]["stream"] is True and server.requests[-1]["stream_options"] == {
        "include_usage": True
    }
    assert plain[0].ttft_ms is None


def test_a_stream_request_answered_with_a_whole_json_body_is_read_as_one() -> None:
    """A proxy that ignores `stream` answers application/json: read as a non-streamed answer,
    not retried three times as 'the response stream ended early'."""
    with FakeOpenAI(ignore_stream=True) as server:
        plain, _ = generate(make(server), requests(2))
        streamed, _ = generate(make(server, stream=True), requests(2))
    assert [c.error for c in streamed] == [None, None], streamed
    assert [c.text for c in streamed] == [c.text for c in plain] == ["echo: question 0", "echo: question 1"]
    assert streamed[0].usage == plain[0].usage and streamed[0].finish_reason == "stop"
    assert server.requests[-1]["stream"] is True and len(server.requests) == 4  # one attempt each


@pytest.mark.parametrize("stream", [False, True])
def test_a_200_error_body_reads_the_same_streamed_or_not(fake_server: FakeOpenAI, stream: bool) -> None:
    fake_server.add_fault(Fault(status=200, match="question 0"))  # {"error": {"message": "injected 200"}}
    out, _ = generate(make(fake_server, stream=stream), requests(2))
    assert out[0].error is not None and "the server answered with an error: injected 200" in out[0].error
    assert out[0].attempts == 1 and len(fake_server.requests) == 2, out[0]
    assert out[1].error is None and out[1].text == "echo: question 1"


def _body(choice: object, usage: object = None) -> str:
    import json

    data = {"model": "m1", "choices": [choice] if choice is not None else []}
    if usage is not None:
        data["usage"] = usage
    return json.dumps(data)


@pytest.mark.parametrize(
    ("body", "text", "finish"),
    [
        (  # content as a list of parts (a legitimate OpenAI format): the text parts, joined
            _body(
                {
                    "message": {
                        "role": "assistant",
                        "content": [
                            {"type": "text", "text": "Par"},
                            {"type": "image_url", "image_url": {"url": "x"}},
                            {"type": "text", "text": "is"},
                        ],
                    },
                    "finish_reason": "stop",
                }
            ),
            "Paris",
            "stop",
        ),
        (_body({"message": "Paris", "finish_reason": "stop"}), "Paris", "stop"),  # message as a string
        (_body({"message": {"content": "Paris"}, "finish_reason": 1}), "Paris", "1"),  # numeric reason
        (_body({"message": {"content": "Paris\ud800"}, "finish_reason": "stop"}), "Paris\ufffd", "stop"),
    ],
)
def test_valid_json_of_unexpected_shape_is_parsed(
    fake_server: FakeOpenAI, body: str, text: str, finish: str
) -> None:
    fake_server.add_fault(Fault(status=200, body=body))
    out, _ = generate(make(fake_server, max_attempts=1), requests(1))
    assert out[0].error is None and out[0].text == text and out[0].finish_reason == finish


def test_fractional_token_counts_are_rounded(fake_server: FakeOpenAI) -> None:
    usage = {"prompt_tokens": 3.0, "completion_tokens": 2.6, "prompt_tokens_details": {"cached_tokens": "x"}}
    fake_server.add_fault(Fault(status=200, body=_body({"message": {"content": "ok"}}, usage)))
    out, _ = generate(make(fake_server, max_attempts=1), requests(1))
    assert out[0].error is None and out[0].usage.input_tokens == 3 and out[0].usage.output_tokens == 3
    assert out[0].usage.cached_input_tokens is None


@pytest.mark.parametrize(
    "body",
    [
        '{"choices": []}',
        '{"choices": "none"}',
        "[1, 2]",
        '{"choices": [{"message": {"content": 42}}]}',
        "null",
    ],
)
def test_unusable_json_is_one_error_result_not_a_dead_run(fake_server: FakeOpenAI, body: str) -> None:
    fake_server.add_fault(Fault(status=200, body=body, match="question 1"))
    out, _ = generate(make(fake_server, max_attempts=1), requests(3))
    assert [c.error is None for c in out] == [True, False, True], [c.error for c in out]
    assert "unexpected response" in (out[1].error or "")


@pytest.mark.parametrize(
    "events",
    [
        ['{"choices": [{"delta": {"content": "Par"}}]}', '{"error": {"message": "overloaded"}}', "[DONE]"],
        [
            '{"choices": [{"delta": {"content": "Par"}}]}',
            'event: error\ndata: {"message": "overloaded"}',
            "[DONE]",
        ],
    ],
)
def test_stream_error_event_then_done_is_an_error(fake_server: FakeOpenAI, events: list[str]) -> None:
    """An `error` event followed by [DONE] was stored as a successful, truncated answer."""
    fake_server.add_fault(Fault(sse=events))
    out, _ = generate(make(fake_server, stream=True, max_attempts=1), requests(1))
    assert out[0].error is not None and "overloaded" in out[0].error, out[0]


@pytest.mark.parametrize(
    ("events", "text"),
    [
        (
            [
                '{"choices": [{"delta": {"content": [{"type": "text", "text": "Par"}]}}]}',
                '{"choices": [{"delta": {"content": "is"}, "finish_reason": 0}]}',
                "[DONE]",
            ],
            "Paris",
        ),
        (["[1, 2]", "[DONE]"], None),
        (['{"choices": "x"}', "[DONE]"], None),
        (['{"choices": [{"delta": "x"}]}', "[DONE]"], None),
        (['{"choices": [{"delta": {"content": "a"}}], "usage": {"prompt_tokens": 1.5}}', "[DONE]"], "a"),
    ],
)
def test_malformed_stream_chunks_never_kill_the_run(
    fake_server: FakeOpenAI, events: list[str], text: str | None
) -> None:
    fake_server.add_fault(Fault(sse=events, match="question 0"))
    out, _ = generate(make(fake_server, stream=True, max_attempts=1), requests(2))
    assert out[1].error is None and out[1].text == "echo: question 1"
    if text is None:
        assert out[0].error is not None and "unexpected" in out[0].error, out[0]
    else:
        assert out[0].error is None and out[0].text == text


@pytest.mark.parametrize("api", ["chat", "responses"])
def test_a_model_the_server_does_not_know_is_asked_once_and_stops_the_run(api: str) -> None:
    with FakeOpenAI(missing_models=frozenset({"gpt-nope"})) as server:
        provider = make(server, concurrency=8, model="gpt-nope", api=api)
        with pytest.raises(ModelNotFoundError) as raised:
            generate(provider, requests(8))
        assert len(server.requests) == 1  # the first request went alone; the rest were never sent
        url = server.url
    assert str(raised.value) == (
        f"provider 'api': the API at {url} does not know model 'gpt-nope' (HTTP 404): "
        "The model `gpt-nope` does not exist or you do not have access to it. "
        "(check the model name in evalkit.yaml)"
    )


def test_a_404_for_a_wrong_path_is_one_error_result_not_a_missing_model() -> None:
    with FakeOpenAI() as server:
        server.add_fault(Fault(status=404, body='{"error": {"message": "Not Found"}}'), times=2)
        out, _ = generate(make(server), requests(2))
    assert [o.error for o in out] == ["HTTP 404: Not Found"] * 2
