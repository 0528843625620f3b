"""The result types convert into each other by their own methods (no field-by-field copies in
the stages): a completion kept in a result replays as the same completion, a score is stored as
it was measured, a trace answers as a completion."""

from __future__ import annotations

from evalkit.tools.trace import Trace
from evalkit.types import CaseResult, Completion, Score, Step, StoredScore, ToolCall, Usage


def _result(completion: Completion) -> CaseResult:
    return CaseResult(
        suite="s", case_id="c", variant="v", repeat=0, provider="p", messages=[], **completion.result_fields()
    )


def test_a_completion_kept_in_a_result_replays_as_the_same_completion() -> None:
    completion = Completion(
        text="Paris.",
        finish_reason="stop",
        usage=Usage(input_tokens=12, output_tokens=3),
        latency_ms=41.5,
        ttft_ms=9.25,
        model_version="m-2026-01-01",
        tool_calls=[ToolCall(id="t1", name="lookup", arguments={"city": "Paris"})],
        choice_logprobs=[-0.5, -2.0],
        choice_greedy=[True, False],
    )
    result = _result(completion.model_copy(update={"finish_reason": None})).model_copy(
        update={"finish_reason": "stop"}  # the stage sets it in the one vocabulary
    )
    assert result.output == "Paris." and result.usage.input_tokens == 12 and result.latency_ms == 41.5
    assert result.replayed() == completion


def test_a_failed_completion_keeps_no_output_and_replays_as_the_error() -> None:
    failed = Completion(text="half an answer", reasoning="hm", error="HTTP 500", attempts=3)
    result = _result(failed)
    assert (result.output, result.reasoning, result.error, result.attempts) == (None, None, "HTTP 500", 3)
    assert result.replayed() == Completion(error="HTTP 500")


def test_a_score_is_stored_as_measured() -> None:
    assert Score(name="exact", value=1.0, passed=True, reason="same").stored() == StoredScore(
        value=1.0, passed=True, reason="same"
    )


def test_a_trace_answers_as_a_completion_with_its_tool_calls() -> None:
    steps = [
        Step(id="s1", type="tool", name="search", input={"q": "x"}),
        Step(id="s2", type="llm", name="answer"),
    ]
    trace = Trace(output="done", steps=steps, model_version="v1")
    completion = trace.completion(latency_ms=5.0)
    assert (completion.text, completion.latency_ms, completion.model_version) == ("done", 5.0, "v1")
    assert completion.tool_calls == [ToolCall(id="s1", name="search", arguments={"q": "x"})]
    assert completion.steps == steps
