"""The report's results reader (evalkit.report.rows): the same checks as CaseResult, into dicts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typing_extensions import get_type_hints, is_typeddict

from evalkit.errors import UserInputError
from evalkit.report import html
from evalkit.report.rows import MessageRow, ResultRow, ScoreRow, UsageRow, as_result, read_rows
from evalkit.rundir.dir import RunDir
from evalkit.rundir.files import read_results, result_line
from evalkit.types import (
    CaseResult,
    JudgeUsage,
    Message,
    RetrievedChunk,
    Step,
    StoredScore,
    ToolCall,
    Usage,
)

MIRRORS = [(ResultRow, CaseResult), (MessageRow, Message), (UsageRow, Usage), (ScoreRow, StoredScore)]


@pytest.mark.parametrize(("row", "model"), MIRRORS, ids=lambda x: x.__name__)
def test_each_row_mirrors_its_model_field_for_field(row: Any, model: Any) -> None:
    """A field added to a model and not to its row would be refused in every report: caught here."""
    assert is_typeddict(row)
    assert list(get_type_hints(row)) == list(model.model_fields)
    required = {name for name, f in model.model_fields.items() if f.is_required()}
    assert set(row.__required_keys__) == required


def rich() -> CaseResult:
    """A result with every field set, the rarely set nested ones included."""
    call = ToolCall(id="t1", name="lookup", arguments={"q": "x"})
    return CaseResult(
        suite="s",
        case_id="c1",
        variant="v",
        repeat=2,
        provider="api",
        model="m",
        tags=["a", "b"],
        case_hash="h1",
        input_hash="h2",
        messages=[
            Message(role="system", content="be brief"),
            Message(role="assistant", content="", tool_calls=(call,)),
            Message(role="tool", content="42", tool_call_id="t1"),
        ],
        references=["r1"],
        output="out",
        reasoning="because",
        finish_reason="stop",
        vendor_finish_reason="end_turn",
        latency_ms=12.5,
        ttft_ms=3.0,
        batch_ms=None,
        batch_size=None,
        usage=Usage(input_tokens=5, output_tokens=6, cached_input_tokens=1, reasoning_tokens=2),
        cost_usd=0.25,
        model_version="m-1",
        cached=True,
        attempts=2,
        fallback_from="other",
        retrieval_query="q",
        retrieval_ids=["d#0"],
        retrieval=[RetrievedChunk(id="d#0", doc_id="d", text="doc text", score=1.5)],
        scores={"exact": StoredScore(value=0.0, passed=False, reason="step s1 (lookup) failed")},
        judges={"j": JudgeUsage(provider="api", calls=1, input_tokens=3, output_tokens=4)},
        tool_calls=[call],
        steps=[Step(id="s1", type="tool", name="lookup", input={"q": "x"}, output=42, latency_ms=1.0)],
        choice_logprobs=[-0.1, -2.0],
        choice_greedy=[True, False],
    )


def test_a_row_holds_what_the_model_holds(tmp_path: Path) -> None:
    results = tmp_path / "results.jsonl"
    plain = rich().model_copy(update={"steps": None, "tool_calls": None, "retrieval": None, "judges": {}})
    results.write_text(result_line(rich()) + "\n" + result_line(plain) + "\n", encoding="utf-8")
    rows = list(read_rows(results))
    assert [as_result(r) for r in rows] == list(read_results(results))
    assert rows[1]["messages"][0] == {
        "role": "system",
        "content": "be brief",
        "tool_calls": None,
        "tool_call_id": None,
    }


def test_an_older_line_is_migrated_as_read_results_migrates_it(tmp_path: Path) -> None:
    results = tmp_path / "results.jsonl"
    old = json.loads(result_line(rich()))
    old["schema_version"] = 2
    results.write_text(json.dumps(old) + "\n", encoding="utf-8")
    assert [as_result(r) for r in read_rows(results)] == list(read_results(results))


def _tampered() -> list[tuple[str, dict[str, Any]]]:
    """Lines CaseResult refuses, each in a field the report shows or in one it never reads."""
    good = json.loads(result_line(rich()))
    cases: list[tuple[str, dict[str, Any]]] = []
    for what, change in [
        ("an unknown field", {"surprise": 1}),
        ("a field of the wrong type the report never reads", {"case_hash": 5}),
        ("a wrong finish reason", {"finish_reason": "bored"}),
        ("no suite", {"suite": None}),
        ("usage with an unknown count", {"usage": {"input_tokens": 1, "free_tokens": 2}}),
        ("a message with a made-up role", {"messages": [{"role": "wizard", "content": "x"}]}),
        ("a score without a value", {"scores": {"exact": {"passed": True}}}),
        ("a score with an unknown field", {"scores": {"exact": {"value": 1.0, "weight": 2}}}),
        ("a step of an unknown type", {"steps": [{"id": "s", "type": "magic", "name": "n"}]}),
        ("a judge with a negative-free string count", {"judges": {"j": {"provider": "p", "calls": "many"}}}),
        ("a newer schema", {"schema_version": 99}),
    ]:
        line = {**good, **change}
        if change.get("suite", "") is None:
            del line["suite"]
        cases.append((what, line))
    return cases


@pytest.mark.parametrize(("what", "line"), _tampered(), ids=[w for w, _ in _tampered()])
def test_a_line_the_model_refuses_is_refused_with_its_line(
    tmp_path: Path, what: str, line: dict[str, Any]
) -> None:
    results = tmp_path / "results.jsonl"
    good = result_line(rich())
    results.write_text(f"{good}\n{json.dumps(line, separators=(',', ':'))}\n{good}\n", encoding="utf-8")
    with pytest.raises(UserInputError, match=r"results\.jsonl:2") as before:
        list(read_results(results))
    with pytest.raises(UserInputError, match=r"results\.jsonl:2") as now:
        list(read_rows(results))
    assert str(now.value) == str(before.value)  # the same words
    run = RunDir(tmp_path)
    with run.lock("test"), pytest.raises(UserInputError, match=r"results\.jsonl:2"):
        html.write(run)


def test_not_json_and_a_torn_tail(tmp_path: Path) -> None:
    results = tmp_path / "results.jsonl"
    results.write_text(result_line(rich()) + "\n" + result_line(rich())[:50], encoding="utf-8")
    assert len(list(read_rows(results))) == 1  # the unfinished last line of a killed run
    results.write_text(result_line(rich()) + "\nnot json\n", encoding="utf-8")
    with pytest.raises(UserInputError, match=r"results\.jsonl:2.*not a result line"):
        list(read_rows(results))
