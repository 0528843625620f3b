"""Timeline rows for the report: steps, or tool calls when there is no trace, with the ones a
failing score names marked."""

from __future__ import annotations

from evalkit.tools.timeline import MAX_CHARS, failing_steps, trace_rows
from evalkit.types import CaseResult, Message, Step, StoredScore, ToolCall


def result(**fields: object) -> CaseResult:
    base: dict[str, object] = {
        "suite": "s",
        "case_id": "c",
        "variant": "v",
        "repeat": 0,
        "provider": "p",
        "messages": [Message(role="user", content="q")],
        "output": "a",
    }
    return CaseResult.model_validate({**base, **fields})


def test_calls_without_steps_become_rows_named_by_number() -> None:
    r = result(
        tool_calls=[
            ToolCall(id="x", name="get", arguments={"id": 1}),
            ToolCall(id="y", name="rm", raw_arguments="{"),
        ],
        scores={
            "tool_not_called": StoredScore(value=0.0, passed=False, reason="tool call 2 (rm) is forbidden"),
            "other": StoredScore(
                value=1.0, passed=True, reason="step 1 fine"
            ),  # a passing score marks nothing
        },
    )
    assert failing_steps(r) == {"2"}
    rows = trace_rows(r)
    assert rows == [
        ("1", "call", "get", '{"id": 1}', None, None, None, False),
        ("2", "call", "rm", "{", None, None, None, True),
    ]


def test_long_values_are_cut_and_plain_results_have_no_rows() -> None:
    r = result(steps=[Step(id="s1", type="tool", name="dump", output="x" * (MAX_CHARS + 50))])
    rows = trace_rows(r)
    assert rows is not None and len(rows[0][4] or "") == MAX_CHARS and (rows[0][4] or "").endswith("…")
    assert trace_rows(result()) is None
