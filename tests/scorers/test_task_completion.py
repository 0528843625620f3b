"""Task completion judged with the trace in the judge's prompt (a judge on 127.0.0.1)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from evalkit.tools.render import render_trace
from evalkit.types import Step, ToolCall
from tests.conftest import write
from tests.fake_openai import FakeOpenAI


def test_render_trace_lists_steps_and_errors() -> None:
    steps = [
        Step(id="s1", type="llm", name="model", input={"messages": 2}, output=[{"name": "get"}]),
        Step(id="s2", type="tool", name="get", input={"id": 7}, output={"v": 1}),
        Step(id="s3", type="tool", name="put", input={"v": 2}, error="TimeoutError"),
    ]
    assert render_trace(steps) == (
        '[s1] llm model -> [{"name": "get"}]\n[s2] tool get input={"id": 7} -> {"v": 1}\n'
        '[s3] tool put input={"v": 2} ERROR: TimeoutError'
    )
    calls = [ToolCall(id="a", name="f", arguments=None, raw_arguments="{x")]
    assert render_trace([], calls) == "[call 1] f({x)"
    assert render_trace([]) == ""


def judge(body: dict[str, Any]) -> str:
    prompt = body["messages"][-1]["content"]
    assert "TRACE (each step the agent took, in order):" in prompt
    if "ERROR: KeyError" in prompt:
        return json.dumps({"reasoning": "step lookup failed, answer invented", "verdict": "fail"})
    return json.dumps({"reasoning": "answer matches step lookup", "verdict": "pass"})


def test_task_completion_judges_the_trace(workdir: Path, cli) -> None:
    with FakeOpenAI(responder=judge) as server:
        write(
            workdir / "evalkit.yaml",
            f"""
            providers:
              sys: {{type: python, callable: 'tests.scorers.test_task_completion:system'}}
              judge: {{type: openai, base_url: {server.url}, model: judge-model}}
            variants:
              v: {{provider: sys}}
            """,
        )
        write(
            workdir / "t.yaml",
            """
            name: t
            prompt: "{{ q }}"
            scorers: [{type: judge, provider: judge, mode: task_completion}]
            cases:
              - {id: good, vars: {q: A1}}
              - {id: bad, vars: {q: Z9}}
            """,
        )
        result = cli("run", "t.yaml", "--out", "out")
        prompts = [r["messages"][-1]["content"] for r in server.requests]
    lines = {
        d["case_id"]: d for d in map(json.loads, (workdir / "out" / "results.jsonl").read_text().splitlines())
    }
    assert lines["good"]["scores"]["task_completion"] == {
        "value": 1.0,
        "passed": True,
        "reason": "answer matches step lookup",
    }
    assert lines["bad"]["scores"]["task_completion"]["passed"] is False
    assert any('[lookup] tool lookup input={"id": "Z9"} ERROR: KeyError' in p for p in prompts)
    assert result.exit_code == 0, result.output


def system(messages: list[dict[str, Any]], params: dict[str, Any], options: dict[str, Any]) -> Any:
    order = messages[-1]["content"]
    ok = order == "A1"
    step = {"id": "lookup", "type": "tool", "name": "lookup", "input": {"id": order}}
    step.update({"output": {"status": "shipped"}} if ok else {"error": "KeyError"})
    return {"output": "It has shipped." if ok else "It was delivered.", "steps": [step]}
