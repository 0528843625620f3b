"""The bedrock provider: boto3 (botocore signs with SigV4) against a fake of Bedrock Runtime's
Converse API on 127.0.0.1, which checks every signature with botocore's own signer."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from evalkit._util import secrets
from evalkit.errors import AuthenticationError, ModelNotFoundError, UserInputError
from evalkit.providers.bedrock import BedrockProvider, BedrockSettings
from evalkit.types import FunctionSpec, ToolCall, ToolSchema
from tests.conftest import AWS_KEY_ID, AWS_SECRET, AWS_TOKEN
from tests.fake_bedrock import AUTH, REFERENCE_RESPONSE, FakeBedrock, error
from tests.fake_http import Fault
from tests.providers.conftest import connected, generate, requests, tool_follow_up

MODEL = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
WEATHER = ToolSchema(
    function=FunctionSpec(
        name="get_weather",
        description="Current weather",
        parameters={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    )
)


def make(fake: FakeBedrock, concurrency: int = 4, **settings: Any) -> Any:
    options: dict[str, Any] = {"backoff_base_s": 0.01, "backoff_max_s": 0.02, "model": MODEL, **settings}
    provider = BedrockProvider("bedrock", BedrockSettings(endpoint_url=fake.url, **options))
    return connected(provider, concurrency)


def test_plain_answer_request_shape_and_a_sigv4_signature_botocore_verifies(
    fake_bedrock: FakeBedrock,
) -> None:
    fake_bedrock.responder = lambda body: REFERENCE_RESPONSE
    [out] = generate(
        make(fake_bedrock, region="eu-west-3"),
        requests(1, system="Be brief.", temperature=0.3, top_p=0.9, max_tokens=64, stop=["\n"]),
    )
    assert out.error is None and out.text == "The capital of France is Paris."
    assert out.finish_reason == "end_turn" and out.latency_ms is not None
    assert (out.usage.input_tokens, out.usage.output_tokens, out.usage.cached_input_tokens) == (30, 9, None)
    [seen] = fake_bedrock.seen
    assert seen.path == f"/model/{MODEL}/converse"
    assert seen.body == {
        "messages": [{"role": "user", "content": [{"text": "question 0"}]}],
        "system": [{"text": "Be brief."}],
        "inferenceConfig": {"maxTokens": 64, "temperature": 0.3, "topP": 0.9, "stopSequences": ["\n"]},
    }
    match = AUTH.fullmatch(seen.headers["Authorization"])
    assert match is not None and match["key"] == AWS_KEY_ID
    assert (match["region"], match["service"]) == ("eu-west-3", "bedrock")  # `region:` wins over AWS_REGION
    assert seen.headers["X-Amz-Security-Token"] == AWS_TOKEN
    assert seen.headers["amz-sdk-request"] == "attempt=1; max=1"  # botocore's retries are off


def test_a_wrong_secret_is_refused_by_the_signature_check_and_stops_the_run(
    fake_bedrock: FakeBedrock, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYWRONGSECRET"
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", wrong)
    with pytest.raises(AuthenticationError) as raised:
        generate(make(fake_bedrock, concurrency=1), requests(3))
    message = str(raised.value)
    assert "refused the credentials (HTTP 403 InvalidSignatureException)" in message
    assert "The Canonical String for this request should have been" in message
    # AWS's message quotes the canonical request, whose headers hold the session token
    for secret in (wrong, AWS_TOKEN, AWS_KEY_ID):
        assert secret not in message
    assert len(fake_bedrock.seen) == 1  # the run stopped at the first refusal


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("UnrecognizedClientException", "The security token included in the request is invalid."),
        ("AccessDeniedException", "You don't have access to the model with the specified model ID."),
    ],
)
def test_a_403_stops_the_run(fake_bedrock: FakeBedrock, code: str, message: str) -> None:
    fake_bedrock.fail(error(403, code, message))
    with pytest.raises(AuthenticationError, match=f"refused the credentials \\(HTTP 403 {code}\\)"):
        generate(make(fake_bedrock, concurrency=1), requests(3))
    assert len(fake_bedrock.seen) == 1


def test_an_unknown_access_key_is_refused(fake_bedrock: FakeBedrock, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAI44QH8DHBEXAMPLE")
    with pytest.raises(AuthenticationError, match="UnrecognizedClientException"):
        generate(make(fake_bedrock), requests(2))


def tool_reply(body: dict[str, Any]) -> dict[str, Any]:
    last = body["messages"][-1]["content"]
    if "toolResult" in last[0]:
        text = " / ".join(b["toolResult"]["content"][0]["text"] for b in last)
        return {
            "content": [{"text": text}],
            "stopReason": "end_turn",
            "usage": {"inputTokens": 9, "outputTokens": 3},
        }
    return {
        "content": [
            {"text": "Let me check both."},
            {"toolUse": {"toolUseId": "tooluse_1", "name": "get_weather", "input": {"city": "Paris"}}},
            {"toolUse": {"toolUseId": "tooluse_2", "name": "get_weather", "input": {"city": "Oslo"}}},
        ],
        "stopReason": "tool_use",
        "usage": {"inputTokens": 9, "outputTokens": 12},
    }


def test_parallel_tool_use_and_the_tool_results_round_trip(fake_bedrock: FakeBedrock) -> None:
    fake_bedrock.responder = tool_reply
    [out] = generate(make(fake_bedrock), requests(1, tools=(WEATHER,), tool_choice="required"))
    assert out.finish_reason == "tool_use" and out.text == "Let me check both."
    assert out.tool_calls == [
        ToolCall(id="tooluse_1", name="get_weather", arguments={"city": "Paris"}),
        ToolCall(id="tooluse_2", name="get_weather", arguments={"city": "Oslo"}),
    ]
    assert fake_bedrock.body(0)["toolConfig"] == {
        "tools": [
            {
                "toolSpec": {
                    "name": "get_weather",
                    "inputSchema": {"json": WEATHER.function.parameters},
                    "description": "Current weather",
                }
            }
        ],
        "toolChoice": {"any": {}},
    }
    follow = tool_follow_up(
        "Let me check both.",
        out.tool_calls,
        [("tooluse_1", "sunny"), ("tooluse_2", "snow")],
        requests(1, tools=(WEATHER,))[0].params,
    )
    [answer] = generate(make(fake_bedrock), [follow])
    assert answer.text == "sunny / snow" and answer.finish_reason == "end_turn"
    sent = fake_bedrock.body(-1)["messages"]
    assert sent[1] == {
        "role": "assistant",
        "content": [
            {"text": "Let me check both."},
            {"toolUse": {"toolUseId": "tooluse_1", "name": "get_weather", "input": {"city": "Paris"}}},
            {"toolUse": {"toolUseId": "tooluse_2", "name": "get_weather", "input": {"city": "Oslo"}}},
        ],
    }
    assert sent[2] == {  # both results in one user turn
        "role": "user",
        "content": [
            {"toolResult": {"toolUseId": "tooluse_1", "content": [{"text": "sunny"}]}},
            {"toolResult": {"toolUseId": "tooluse_2", "content": [{"text": "snow"}]}},
        ],
    }
    assert "toolChoice" not in fake_bedrock.body(-1)["toolConfig"]


def reasoning_reply(body: dict[str, Any]) -> dict[str, Any]:
    return {
        "content": [
            {
                "reasoningContent": {
                    "reasoningText": {"text": "Two plus two is four.", "signature": "EqQBCgIYAhIM"}
                }
            },
            {"text": "4"},
        ],
        "stopReason": "end_turn",
        "usage": {
            "inputTokens": 12,
            "cacheReadInputTokens": 1000,
            "cacheWriteInputTokens": 200,
            "outputTokens": 30,
        },
    }


@pytest.mark.parametrize("stream", [False, True])
def test_reasoning_is_kept_apart_and_cache_tokens_count_into_the_input(
    fake_bedrock: FakeBedrock, stream: bool
) -> None:
    fake_bedrock.responder = reasoning_reply
    thinking = {"thinking": {"type": "enabled", "budget_tokens": 2048}}
    [out] = generate(make(fake_bedrock, additional_model_request_fields=thinking, stream=stream), requests(1))
    assert out.text == "4" and out.reasoning == "Two plus two is four."
    u = out.usage
    assert (u.input_tokens, u.cached_input_tokens, u.cache_write_tokens, u.output_tokens) == (
        1212,
        1000,
        200,
        30,
    )
    assert fake_bedrock.body(0)["additionalModelRequestFields"] == thinking


@pytest.mark.parametrize("stop", ["max_tokens", "stop_sequence", "model_context_window_exceeded"])
def test_stop_reasons_are_kept_as_the_vendor_said_them(fake_bedrock: FakeBedrock, stop: str) -> None:
    fake_bedrock.responder = lambda body: {**REFERENCE_RESPONSE, "stopReason": stop}
    [out] = generate(make(fake_bedrock), requests(1))
    assert out.error is None and out.finish_reason == stop


def test_a_withheld_answer_is_an_error_and_a_guardrail_message_is_kept(fake_bedrock: FakeBedrock) -> None:
    fake_bedrock.responder = lambda body: {
        "content": [],
        "stopReason": "content_filtered",
        "usage": {"inputTokens": 7, "outputTokens": 0},
    }
    [out] = generate(make(fake_bedrock), requests(1))
    assert out.error == "Bedrock withheld the answer (content_filtered)" and out.text is None
    assert out.usage.input_tokens == 7
    canned = "Sorry, the model cannot answer this question."
    fake_bedrock.responder = lambda body: {
        "content": [{"text": canned}],
        "stopReason": "guardrail_intervened",
        "usage": {"inputTokens": 7, "outputTokens": 0},
    }
    guardrail = {"guardrailIdentifier": "gr-1", "guardrailVersion": "1", "trace": "enabled"}
    [out] = generate(make(fake_bedrock, guardrail_config=guardrail), requests(1))
    assert out.error is None and out.text == canned and out.finish_reason == "guardrail_intervened"
    assert fake_bedrock.body(-1)["guardrailConfig"] == guardrail


def test_throttling_and_unavailable_models_are_retried(fake_bedrock: FakeBedrock) -> None:
    fake_bedrock.fail(
        error(429, "ThrottlingException", "Too many requests, please wait before trying again."),
        error(503, "ServiceUnavailableException", "The service is temporarily unable to handle the request."),
        error(429, "ModelNotReadyException", "The model is not ready to serve inference requests."),
        error(500, "InternalServerException", "An internal server error occurred."),
    )
    [out] = generate(make(fake_bedrock, concurrency=1), requests(1))
    assert out.error is None and out.attempts == 5 and len(fake_bedrock.seen) == 5


def test_a_request_bedrock_rejects_is_one_error_not_retried(fake_bedrock: FakeBedrock) -> None:
    fake_bedrock.fail(
        error(400, "ValidationException", "The maximum tokens you requested exceeds the model limit.")
    )
    out = generate(make(fake_bedrock, concurrency=1), requests(2))
    assert out[0].error == (
        "ValidationException (HTTP 400): The maximum tokens you requested exceeds the model limit."
    )
    assert out[1].error is None and len(fake_bedrock.seen) == 2


@pytest.mark.parametrize(
    ("status", "code", "message"),
    [
        (400, "ValidationException", "The provided model identifier is invalid."),
        (404, "ResourceNotFoundException", "Model not found."),
    ],
)
def test_a_model_bedrock_does_not_know_is_asked_once_and_stops_the_run(
    fake_bedrock: FakeBedrock, status: int, code: str, message: str
) -> None:
    fake_bedrock.fail(error(status, code, message))
    with pytest.raises(ModelNotFoundError) as raised:
        generate(make(fake_bedrock, concurrency=4, model="anthropic.claude-9"), requests(3))
    assert len(fake_bedrock.seen) == 1  # the first request went alone; the others were never sent
    assert str(raised.value) == (
        f"provider 'bedrock': Bedrock ({fake_bedrock.url}) does not know model 'anthropic.claude-9' "
        f"({code} (HTTP {status})): {message} (check the model name in evalkit.yaml)"
    )


def test_malformed_bodies_are_error_results(fake_bedrock: FakeBedrock) -> None:
    fake_bedrock.fail(Fault(status=200, body="{not json"))
    out = generate(make(fake_bedrock, concurrency=1, max_attempts=1), requests(2))
    assert out[0].error == "could not read the response (no output.message.content in it)"
    assert out[1].error is None


def test_a_timeout_is_retried_then_reported(fake_bedrock: FakeBedrock) -> None:
    fake_bedrock.fail(Fault(hang_s=2.0), Fault(hang_s=2.0))
    [out] = generate(make(fake_bedrock, timeout_s=0.3, max_attempts=2), requests(1))
    assert out.error == "gave up after 2 attempts: timed out after 0.3s"


def timed(provider: Any, n: int) -> float:
    asyncio.run(provider.start())  # the client (botocore loads its service model) is made first
    started = time.perf_counter()
    out = generate(provider, requests(n))
    assert all(c.error is None for c in out)
    return time.perf_counter() - started


def test_calls_run_in_parallel_up_to_the_connections_limit(fake_bedrock: FakeBedrock) -> None:
    """A model's first call goes alone, then the connection's limit applies: the server sees the
    other 7 of 8 at once under a limit of 8 (boto3 is synchronous: each on a worker thread), and
    never more than 2 under a limit of 2. Counted at the server, not timed (a busy CI machine)."""
    fake_bedrock.latency_s = 0.5
    timed(make(fake_bedrock, concurrency=8), 8)
    assert fake_bedrock.max_in_flight >= 5  # 7 unless a worker thread starts half a second late
    fake_bedrock.max_in_flight = 0
    timed(make(fake_bedrock, concurrency=2), 4)
    assert fake_bedrock.max_in_flight == 2


def test_missing_credentials_and_region_are_named_before_any_call(
    fake_bedrock: FakeBedrock, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name)
    with pytest.raises(UserInputError, match="no AWS credentials found"):
        make(fake_bedrock)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", AWS_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", AWS_SECRET)
    monkeypatch.delenv("AWS_REGION")
    with pytest.raises(UserInputError, match="no AWS region"):
        make(fake_bedrock)
    with pytest.raises(UserInputError, match="The config profile \\(nobody\\) could not be found"):
        make(fake_bedrock, region="us-east-1", profile="nobody")
    assert fake_bedrock.seen == []


@pytest.mark.parametrize("region", ["us east 1", "us-east-1/x", "-"])
def test_a_region_botocore_refuses_is_named_before_any_call(fake_bedrock: FakeBedrock, region: str) -> None:
    """botocore checks a region's format only when the client is made (at the run's start, after
    the run directory): `region: us east 1` was "internal error: InvalidRegionError", exit 3."""
    with pytest.raises(UserInputError, match="doesn't match a supported format"):
        make(fake_bedrock, region=region)
    assert fake_bedrock.seen == []


def test_a_profile_of_the_shared_credentials_file(
    fake_bedrock: FakeBedrock, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name)
    key, secret = "AKIAJ7EVALKITPROFILE", "profile/secret/key/0123456789abcdefghijkl"
    fake_bedrock.credentials = {key: (secret, None)}
    (tmp_path / "credentials").write_text(
        f"[evals]\naws_access_key_id = {key}\naws_secret_access_key = {secret}\n"
    )
    (tmp_path / "config").write_text("[profile evals]\nregion = ap-southeast-2\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.delenv("AWS_REGION")
    [out] = generate(make(fake_bedrock, profile="evals"), requests(1))
    assert out.error is None and fake_bedrock.regions == ["ap-southeast-2"]
    assert secrets.scrub(f"{key} {secret}") == f"{secrets.REDACTED} {secrets.REDACTED}"


def test_a_bedrock_api_key_alone_is_credentials_enough_and_a_secret(
    fake_bedrock: FakeBedrock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """botocore sends AWS_BEARER_TOKEN_BEDROCK as a bearer token (over HTTPS only, so the
    plain-HTTP fake is not asked): no SigV4 credentials are then needed, and the key is scrubbed."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name)
    token = "ABSKQmVkcm9ja0FQSUtleS1leGFtcGxlLTAxMjM0NTY3ODk="
    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", token)
    make(fake_bedrock)  # checked: no "no AWS credentials found"
    assert secrets.scrub(f"key {token}") == f"key {secrets.REDACTED}"


@pytest.mark.parametrize("responder", ["echo", "tools", "reasoning"])
def test_streamed_answers_match_the_plain_ones_with_a_time_to_first_token(
    fake_bedrock: FakeBedrock, responder: str
) -> None:
    replies = {"tools": tool_reply, "reasoning": reasoning_reply}
    if responder in replies:
        fake_bedrock.responder = replies[responder]
    plain = generate(make(fake_bedrock), requests(3, tools=(WEATHER,)))
    streamed = generate(make(fake_bedrock, stream=True), requests(3, tools=(WEATHER,)))
    assert [c.model_dump(exclude={"latency_ms", "ttft_ms"}) for c in streamed] == [
        c.model_dump(exclude={"latency_ms", "ttft_ms"}) for c in plain
    ]
    assert all(c.error is None and c.ttft_ms is not None and c.ttft_ms <= c.latency_ms for c in streamed)
    assert all(c.ttft_ms is None for c in plain)
    assert [s.path.rsplit("/", 1)[-1] for s in fake_bedrock.seen] == ["converse"] * 3 + [
        "converse-stream"
    ] * 3


def test_an_exception_frame_mid_stream_is_retried_or_one_error(fake_bedrock: FakeBedrock) -> None:
    fake_bedrock.stream_error = ("throttlingException", "Too many tokens, please wait before trying again.")
    [out] = generate(make(fake_bedrock, stream=True, max_attempts=2), requests(1))
    assert out.error == (
        "gave up after 2 attempts: ThrottlingException (mid-stream): "
        "Too many tokens, please wait before trying again."
    )
    fake_bedrock.stream_error = ("validationException", "Input is too long for requested model.")
    [out] = generate(make(fake_bedrock, stream=True), requests(1))
    assert out.error == "ValidationException (mid-stream): Input is too long for requested model."


def test_a_frame_with_a_bad_checksum_is_an_error_result(fake_bedrock: FakeBedrock) -> None:
    from tests.fake_bedrock import event

    good = event("messageStart", {"role": "assistant"})
    bad = good[:-1] + bytes([good[-1] ^ 0xFF])  # the message CRC32 no longer matches
    fake_bedrock.fail(Fault(status=200, body=bad, content_type="application/vnd.amazon.eventstream"))
    [out] = generate(make(fake_bedrock, stream=True, max_attempts=1), requests(1))
    assert out.error is not None and "ChecksumMismatch" in out.error


def test_credentials_botocore_refreshes_are_secrets_too(
    fake_bedrock: FakeBedrock, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A credential process (a real link of the chain) hands out short-lived keys: botocore
    refreshes them as they near expiry, and every one it signs with is scrubbed."""
    import sys

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name)
    issued = {
        f"ASIAPROCESSKEY00000{n}": (f"process/secret/{n}/0123456789abcdefghij", f"token-{n}-0123456789abcdef")
        for n in range(1, 200)
    }
    fake_bedrock.credentials = dict(issued)
    script = tmp_path / "issue.py"
    script.write_text(
        "import json, datetime, pathlib\n"
        f"counter = pathlib.Path({str(tmp_path / 'n')!r})\n"
        "n = int(counter.read_text()) + 1 if counter.exists() else 1\n"
        "counter.write_text(str(n))\n"
        "soon = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=5)\n"
        "print(json.dumps({'Version': 1, 'AccessKeyId': f'ASIAPROCESSKEY00000{n}',\n"
        "    'SecretAccessKey': f'process/secret/{n}/0123456789abcdefghij',\n"
        "    'SessionToken': f'token-{n}-0123456789abcdef', 'Expiration': soon.isoformat()}))\n"
    )
    (tmp_path / "config").write_text(f"[profile issued]\ncredential_process = {sys.executable} {script}\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    out = generate(make(fake_bedrock, concurrency=1, profile="issued"), requests(3))
    assert all(c.error is None for c in out)
    used = {AUTH.fullmatch(s.headers["Authorization"])["key"] for s in fake_bedrock.seen}  # type: ignore[index]
    assert len(used) >= 2  # within 10 minutes of expiry, botocore fetches new keys
    for key in used:  # what went on the wire: the key id and the session token
        assert secrets.scrub(f"{key} {issued[key][1]}") == f"{secrets.REDACTED} {secrets.REDACTED}"
    # (a secret key never goes on the wire; those refreshed are registered when the provider
    # reads them before a call, but with keys this short-lived botocore refreshes again to sign)
