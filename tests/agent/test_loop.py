"""The agent loop against a real OpenAI-compatible server on 127.0.0.1: tool results go back
in the OpenAI wire format, tool errors and timeouts become steps, max_steps ends a loop, and
concurrent cases run their loops concurrently."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from evalkit.agent.loop import MAX_STEPS_REACHED, AgentProvider, bind_tools, binding_key
from evalkit.providers.openai_compat import OpenAICompatProvider, OpenAISettings
from evalkit.providers.service import bind_connections, exactly_once
from evalkit.types import AgentSettings, Completion, GenerationParams, Message, Request, ToolSchema
from tests.fake_openai import FakeOpenAI


def schema(name: str, **props: str) -> ToolSchema:
    properties = {k: {"type": v} for k, v in props.items()}
    return ToolSchema.model_validate(
        {
            "type": "function",
            "function": {"name": name, "parameters": {"type": "object", "properties": properties}},
        }
    )


TOOLS = (
    schema("add", a="number", b="number"),
    schema("lookup", key="string"),
    schema("explode", reason="string"),
)
TOOLS += (schema("slow", seconds="number"), schema("slow_sync", seconds="number"))
TOOLS += (
    schema("opaque"),
    schema("quit_run", code="integer"),
    schema("interrupt"),
    schema("huge", megabytes="integer"),
)
NAMES = ("add", "lookup", "explode", "slow", "slow_sync", "opaque", "quit_run", "interrupt", "huge")
AGENT = AgentSettings(
    tools={n: f"tests.agent.sample_tools:{n}" for n in NAMES},
    max_steps=4,
    tool_timeout_s=0.2,
)


def script(rounds: list[list[tuple[str, Any]]]) -> Any:
    """A model that makes these tool-call rounds, then answers with the tool results."""

    def respond(body: dict[str, Any]) -> Any:
        done = sum(1 for m in body["messages"] if m["role"] == "assistant" and m.get("tool_calls"))
        if done < len(rounds):
            calls = [
                {"id": f"c{done}{i}", "name": n, "arguments": a if isinstance(a, str) else json.dumps(a)}
                for i, (n, a) in enumerate(rounds[done])
            ]
            return {"content": None, "tool_calls": calls}
        return "final: " + " | ".join(m["content"] for m in body["messages"] if m["role"] == "tool")

    return respond


def request(i: int = 0, agent: AgentSettings = AGENT) -> Request:
    return Request(
        key=f"s/c{i}/v/0",
        suite="s",
        case_id=f"c{i}",
        variant="v",
        repeat=0,
        messages=(Message(role="user", content=f"task {i}"),),
        params=GenerationParams(tools=TOOLS),
        agent=agent,
    )


def run(server: FakeOpenAI, requests: list[Request], concurrency: int = 8) -> list[Completion]:
    cfg = OpenAISettings(base_url=server.url, model="m", backoff_base_s=0.01)
    inner = bind_connections({"api": OpenAICompatProvider("api", cfg)}, {"api": concurrency})["api"]
    inner.check()
    agents = [r.agent for r in requests if r.agent is not None]
    provider = AgentProvider(inner, {binding_key(a): bind_tools(a, "test") for a in agents})

    async def go() -> list[Completion]:
        try:
            got = {r.key: c async for r, c in exactly_once(provider, requests)}
            return [got[r.key] for r in requests]
        finally:
            await provider.aclose()

    return asyncio.run(go())


def test_loop_runs_tools_and_sends_results_in_openai_format() -> None:
    rounds = [[("add", {"a": 2, "b": 3}), ("lookup", {"key": "x"})], [("add", {"a": 5, "b": 1})]]
    with FakeOpenAI(responder=script(rounds)) as server:
        (completion,) = run(server, [request()])
        sent = server.requests
    assert completion.error is None
    assert completion.text == 'final: 5 | {"key": "x", "value": "X"} | 6'
    assert [(s.type, s.name) for s in completion.steps or []] == [
        ("llm", "model"),
        ("tool", "add"),
        ("tool", "lookup"),
        ("llm", "model"),
        ("tool", "add"),
        ("llm", "model"),
    ]
    assert [s.id for s in completion.steps or []] == ["s1", "s2", "s3", "s4", "s5", "s6"]
    assert [c.name for c in completion.tool_calls or []] == ["add", "lookup", "add"]
    # the second request carries the assistant's tool calls and one tool message per call
    second = sent[1]["messages"]
    assert second[1] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "c00", "type": "function", "function": {"name": "add", "arguments": '{"a": 2, "b": 3}'}},
            {"id": "c01", "type": "function", "function": {"name": "lookup", "arguments": '{"key": "x"}'}},
        ],
    }
    assert second[2] == {"role": "tool", "content": "5", "tool_call_id": "c00"}
    assert second[3]["tool_call_id"] == "c01" and len(sent) == 3
    assert all(r["tools"] for r in sent)
    # usage is the sum over model calls; tokens recorded per model step
    llm_tokens = sum(s.tokens or 0 for s in completion.steps or [] if s.type == "llm")
    assert completion.usage.input_tokens + completion.usage.output_tokens == llm_tokens > 0


def test_tool_errors_timeouts_and_bad_calls_are_steps_not_crashes() -> None:
    rounds = [
        [
            ("explode", {"reason": "no disk"}),
            ("slow", {"seconds": 5}),
            ("slow_sync", {"seconds": 5}),
            ("add", '{"a": 1,'),
            ("nuke", {}),
        ]
    ]
    with FakeOpenAI(responder=script(rounds)) as server:
        started = time.perf_counter()
        (completion,) = run(server, [request()])
        elapsed = time.perf_counter() - started
        tool_messages = [m for m in server.requests[1]["messages"] if m["role"] == "tool"]
    assert elapsed < 2.5  # neither slow tool held the loop beyond its 0.2 s timeout
    assert completion.error is None and completion.text is not None
    errors = {s.name: s.error for s in completion.steps or [] if s.type == "tool"}
    assert errors["explode"] == "RuntimeError: tool broke: no disk"
    assert errors["slow"] == errors["slow_sync"] == "timed out after 0.2s"
    assert errors["add"] == "arguments are not valid JSON"
    assert errors["nuke"] == "tool 'nuke' is not declared"
    add_step = next(s for s in completion.steps or [] if s.name == "add")
    assert add_step.input == '{"a": 1,'  # the raw string is kept
    assert tool_messages[0]["content"] == "error: RuntimeError: tool broke: no disk"


def test_a_tool_that_returns_an_object_or_exits_is_a_step_error() -> None:
    """A tool's value JSON cannot store, its `sys.exit(4)` or KeyboardInterrupt: that step's error;
    the loop goes on (they used to end the run with exit 3 or the tool's own exit code)."""
    rounds = [[("opaque", {}), ("quit_run", {"code": 4}), ("quit_run", {"code": 0}), ("interrupt", {})]]
    with FakeOpenAI(responder=script(rounds)) as server:
        (completion,) = run(server, [request()])
    assert completion.error is None and completion.text is not None
    errors = [s.error for s in completion.steps or [] if s.type == "tool"]
    assert errors[0] == "returned a Opaque, which JSON cannot store"
    assert "SystemExit(4)" in errors[1] and "SystemExit(0)" in errors[2] and "KeyboardInterrupt" in errors[3]


def test_a_huge_tool_result_is_cut_where_it_is_stored_and_resent() -> None:
    """A 50 MB tool result was stored whole and re-sent with every later model call."""
    from evalkit.agent.loop import TOOL_OUTPUT_LIMIT

    rounds = [[("huge", {"megabytes": 5})], [("add", {"a": 1, "b": 2})]]
    with FakeOpenAI(responder=script(rounds)) as server:
        (completion,) = run(server, [request()])
        sent = [len(json.dumps(r["messages"])) for r in server.requests]
    step = next(s for s in completion.steps or [] if s.name == "huge")
    assert isinstance(step.output, str) and len(step.output) < TOOL_OUTPUT_LIMIT + 100
    assert step.output.endswith("4,980,000 more characters not shown]")
    assert max(sent) < 2 * TOOL_OUTPUT_LIMIT  # every later request carries the cut text only


def test_max_steps_ends_the_loop_with_a_recorded_step() -> None:
    rounds = [[("add", {"a": i, "b": 1})] for i in range(10)]
    with FakeOpenAI(responder=script(rounds)) as server:
        (completion,) = run(server, [request()])
        calls = len(server.requests)
    assert calls == AGENT.max_steps
    assert completion.error is None and completion.text == "" and completion.finish_reason == "max_steps"
    steps = completion.steps or []
    assert steps[-1].error == MAX_STEPS_REACHED and steps[-1].type == "router"
    assert sum(1 for s in steps if s.type == "llm") == AGENT.max_steps


def test_model_failure_is_an_error_result_naming_the_step() -> None:
    with FakeOpenAI(responder=script([[("add", {"a": 1, "b": 1})]])) as server:
        from tests.fake_openai import Fault

        server.add_fault(Fault(status=400), times=1)
        (completion,) = run(server, [request()])
    assert completion.error is not None and completion.error.startswith("step s1 (model): HTTP 400")
    assert completion.steps is not None and completion.steps[0].error is not None


def test_concurrent_cases_run_their_loops_concurrently() -> None:
    rounds = [[("lookup", {"key": "k"})]]  # two model calls per case
    with FakeOpenAI(responder=script(rounds), latency_s=0.1) as server:
        started = time.perf_counter()
        out = run(server, [request(i) for i in range(16)], concurrency=16)
        elapsed = time.perf_counter() - started
        peak = server.max_in_flight
    assert all(c.error is None and c.text for c in out)
    assert peak >= 8
    assert elapsed < 16 * 2 * 0.1 / 4  # sequential loops would take 3.2 s
