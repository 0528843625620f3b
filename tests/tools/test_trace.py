"""A `python` system returning a trace (final output + steps): sync and async, validated with an
error naming the case, and scored by the trajectory scorers end to end."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from evalkit.providers.python_callable import PythonCallableProvider, PythonSettings
from evalkit.providers.service import exactly_once
from evalkit.types import Completion, GenerationParams, Message, Request
from tests.conftest import write


def rag_system(messages: list[dict[str, Any]], params: dict[str, Any], options: dict[str, Any]) -> Any:
    question = messages[-1]["content"]
    if question == "broken":
        return {
            "output": "x",
            "steps": [{"id": "1", "type": "tool", "name": "t"}, {"id": "2", "type": "thinking"}],
        }
    if question == "twice":
        return {
            "output": "x",
            "steps": [{"id": "1", "type": "tool", "name": "t"}, {"id": "1", "type": "llm", "name": "m"}],
        }
    return {
        "output": f"answer to {question}",
        "usage": {"input_tokens": 30, "output_tokens": 5},
        "steps": [
            {"id": "route", "type": "router", "name": "classify", "output": "orders", "latency_ms": 1.5},
            {"id": "search", "type": "retrieval", "name": "search", "input": question, "latency_ms": 12.0},
            {
                "id": "lookup",
                "type": "tool",
                "name": "lookup_order",
                "input": {"order_id": "A1"},
                "latency_ms": 4,
            },
            {
                "id": "answer",
                "type": "llm",
                "name": "generate",
                "tokens": 35,
                "cost_usd": 0.0002,
                "latency_ms": 80,
            },
        ],
    }


async def async_system(
    messages: list[dict[str, Any]], params: dict[str, Any], options: dict[str, Any]
) -> Any:
    await asyncio.sleep(0)
    return rag_system(messages, params, options)


def complete(function: str, *questions: str) -> list[Completion]:
    provider = PythonCallableProvider("sys", PythonSettings(callable=f"tests.tools.test_trace:{function}"))
    provider.check()
    requests = [
        Request(
            key=q,
            suite="s",
            case_id=f"case-{q}",
            variant="v",
            repeat=0,
            messages=(Message(role="user", content=q),),
            params=GenerationParams(),
        )
        for q in questions
    ]

    async def go() -> list[Completion]:
        got = {r.key: c async for r, c in exactly_once(provider, requests)}
        return [got[r.key] for r in requests]

    return asyncio.run(go())


def test_sync_and_async_traces_are_accepted() -> None:
    for function in ("rag_system", "async_system"):
        (c,) = complete(function, "where is A1?")
        assert c.error is None and c.text == "answer to where is A1?"
        assert [s.id for s in c.steps or []] == ["route", "search", "lookup", "answer"]
        assert c.steps is not None and c.steps[3].cost_usd == 0.0002 and c.steps[1].input == "where is A1?"
        assert [(t.name, t.arguments) for t in c.tool_calls or []] == [("lookup_order", {"order_id": "A1"})]
        assert c.usage.input_tokens == 30


def test_invalid_traces_are_error_results_naming_the_case() -> None:
    bad, twice, good = complete("rag_system", "broken", "twice", "fine")
    assert bad.error is not None and bad.error.startswith(
        "case 'case-broken': invalid trace: steps.1.type: Input should be"
    )
    assert twice.error == "case 'case-twice': invalid trace: step id '1' is used twice"
    assert good.error is None  # one bad trace is one error result, not a dead run


def test_python_trace_scored_end_to_end(workdir: Path, cli) -> None:
    write(
        workdir / "evalkit.yaml",
        "providers:\n  sys: {type: python, callable: 'tests.tools.test_trace:rag_system'}\n"
        "variants:\n  v: {provider: sys}\n",
    )
    write(
        workdir / "t.yaml",
        """
        name: t
        prompt: "{{ q }}"
        scorers: [tool_called, tool_not_called, {type: step_budget, max_steps: 3}]
        cases:
          - {id: ok, vars: {q: "where is A1?"}, expected_tools: [lookup_order], forbidden_tools: [refund]}
          - {id: bad, vars: {q: broken}, expected_tools: [t]}
        """,
    )
    result = cli("run", "t.yaml", "--out", "out")
    lines = {
        d["case_id"]: d for d in map(json.loads, (workdir / "out" / "results.jsonl").read_text().splitlines())
    }
    assert lines["ok"]["scores"]["tool_called"]["passed"] is True
    assert lines["ok"]["scores"]["step_budget"]["reason"] == "4 steps, budget 3: step answer is over it"
    assert [s["type"] for s in lines["ok"]["steps"]] == ["router", "retrieval", "tool", "llm"]
    assert lines["bad"]["error"].startswith("case 'bad': invalid trace")
    assert result.exit_code == 3  # one error in two results is over max_error_rate
