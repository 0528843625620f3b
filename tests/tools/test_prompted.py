"""Tool calls by prompt (agent.protocol: prompt) for models without native tool calling: the
tools described in the system message, <tool_call> blocks read back, results as user turns."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from evalkit.tools.prompted import parse_prompted, to_prompt
from evalkit.tools.wire import NOT_JSON
from evalkit.types import Message, ToolCall, ToolSchema
from tests.conftest import write
from tests.fake_openai import FakeOpenAI

TOOL = ToolSchema.model_validate(
    {"type": "function", "function": {"name": "add", "parameters": {"type": "object", "properties": {}}}}
)


def test_parse_prompted_blocks() -> None:
    text = 'Sure.\n<tool_call>\n{"name": "add", "arguments": {"a": 1}}\n</tool_call>\n<tool_call>{"name": "rm"}</tool_call>'
    rest, calls = parse_prompted(text, ["add"])
    assert rest == "Sure."
    assert calls is not None and [(c.name, c.arguments, c.error) for c in calls] == [
        ("add", {"a": 1}, None),
        ("rm", {}, "tool 'rm' is not declared"),
    ]
    _, broken = parse_prompted("<tool_call>{not json", ["add"])
    assert broken is not None and broken[0].error == NOT_JSON and broken[0].raw_arguments == "{not json"
    assert parse_prompted("just an answer", ["add"]) == ("just an answer", None)


def test_to_prompt_turns_tool_messages_into_chat_turns() -> None:
    messages = (
        Message(role="system", content="Be brief."),
        Message(role="user", content="1+1?"),
        Message(role="assistant", content="", tool_calls=(ToolCall(id="c", name="add", arguments={"a": 1}),)),
        Message(role="tool", content="2", tool_call_id="c"),
    )
    out = to_prompt(messages, [TOOL])
    assert [m.role for m in out] == ["system", "user", "assistant", "user"]
    assert (
        out[0].content.startswith("Be brief.\n\nYou can call these tools")
        and '"name": "add"' in out[0].content
    )
    assert out[2].content == '<tool_call>\n{"name": "add", "arguments": {"a": 1}}\n</tool_call>'
    assert out[3].content == "<tool_response>\n2\n</tool_response>"
    assert all(m.tool_calls is None and m.tool_call_id is None for m in out)


def plain_model(body: dict[str, Any]) -> str:
    """A model with no native tools: it writes a <tool_call> block, then answers."""
    assert "tools" not in body and "tool_choice" not in body
    last = body["messages"][-1]["content"]
    if last.startswith("<tool_response>"):
        return "The order is " + json.loads(last.split("\n")[1])["status"]
    return '<tool_call>\n{"name": "lookup_order", "arguments": {"order_id": "A1003"}}\n</tool_call>'


def test_prompt_protocol_runs_the_loop_end_to_end(workdir: Path, cli) -> None:
    suite = Path(__file__).resolve().parents[2] / "suites" / "agent" / "agent.yaml"
    with FakeOpenAI(responder=plain_model) as server:
        write(
            workdir / "evalkit.yaml",
            f"providers:\n  p: {{type: openai, base_url: {server.url}, model: m}}\n"
            "variants:\n  v: {provider: p, agent: {protocol: prompt, max_steps: 3}}\n",
        )
        result = cli("run", str(suite), "--out", "out")
        first = server.requests[0]
    assert result.exit_code == 0, result.output
    assert "<tools>" in first["messages"][0]["content"] and "lookup_order" in first["messages"][0]["content"]
    lines = {
        d["case_id"]: d for d in map(json.loads, (workdir / "out" / "results.jsonl").read_text().splitlines())
    }
    shipped = lines["status-shipped"]
    assert shipped["output"] == "The order is shipped"
    assert [s["name"] for s in shipped["steps"]] == ["model", "lookup_order", "model"]
    assert shipped["scores"]["tool_call_f1_args"]["value"] == 1.0
    assert lines["policy-books"]["scores"]["tool_not_called"]["passed"] is False  # it looked up an order
