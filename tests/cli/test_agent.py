"""`evalkit run` on the bundled agent suite (suites/agent) against a scripted tool-calling model
on 127.0.0.1: the loop, the trace on each result line, the trajectory scores and their reasons;
and bad tool configuration rejected with exit 2 before any model call."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import write
from tests.fake_openai import FakeOpenAI
from tests.helpers.agent import AGENT_SUITE, agent_responder, config


@pytest.fixture
def agent_server():
    with FakeOpenAI(responder=agent_responder) as server:
        yield server


def test_bundled_agent_suite_end_to_end(workdir: Path, agent_server: FakeOpenAI, cli) -> None:
    write(workdir / "evalkit.yaml", config(agent_server.url))
    result = cli("run", str(AGENT_SUITE), "--out", "out")
    assert result.exit_code == 0, result.output
    lines = {
        d["case_id"]: d for d in map(json.loads, (workdir / "out" / "results.jsonl").read_text().splitlines())
    }
    assert len(lines) == 17 and all(d["error"] is None for d in lines.values())

    good = lines["refund-eligible-electronics"]
    assert [(s["id"], s["type"], s["name"]) for s in good["steps"]] == [
        ("s1", "llm", "model"),
        ("s2", "tool", "lookup_order"),
        ("s3", "llm", "model"),
        ("s4", "tool", "refund_policy"),
        ("s5", "llm", "model"),
    ]
    assert good["steps"][1]["output"]["total"] == 39.9  # the real tool ran over data/orders.json
    assert [c["name"] for c in good["tool_calls"]] == ["lookup_order", "refund_policy"]
    assert all(s["passed"] in (True, None) for s in good["scores"].values())
    assert good["scores"]["tool_call_f1_args"]["value"] == 1.0
    # each model step is priced; the result's cost is their sum, and the trace scorer sums too
    step_costs = [s["cost_usd"] for s in good["steps"] if s["type"] == "llm"]
    assert all(c > 0 for c in step_costs)
    assert good["cost_usd"] == pytest.approx(sum(step_costs))
    assert good["scores"]["trace_cost_usd"]["value"] == pytest.approx(sum(step_costs))
    assert good["scores"]["trace_steps"]["value"] == 5.0

    wrong_order = lines["refund-clothing"]["scores"]["tool_order"]
    assert wrong_order["passed"] is False
    assert wrong_order["reason"] == "step s2 (refund_policy) comes before step s4 (lookup_order)"
    looped = lines["refund-food"]["scores"]
    assert looped["tool_loop"]["reason"] == "step s4 (lookup_order) is call 2 of the same tool and arguments"
    assert looped["tool_called"]["reason"] == "never called: refund_policy"
    unknown = lines["unknown-order"]
    assert unknown["steps"][1]["error"] == "KeyError: 'no order Z9999'"
    parallel = lines["compare-orders"]
    assert [s["type"] for s in parallel["steps"]] == ["llm", "tool", "tool", "llm"]
    assert "tool_not_called" not in lines["status-cancelled"]["scores"]  # no forbidden tools: no score

    # every model call declared the tools; the loop is never served from the response cache
    assert all(len(r["tools"]) == 3 for r in agent_server.requests)
    again = cli("run", str(AGENT_SUITE), "--out", "out2")
    assert again.exit_code == 0, again.output
    model_calls = sum(1 for d in lines.values() for s in d["steps"] if s["type"] == "llm")
    assert len(agent_server.requests) == 2 * model_calls


SUITE = """
name: t
prompt: "{{ q }}"
tools:
  - {type: function, function: {name: add, parameters: {type: object, properties: {a: {type: number}}}}}
%s
cases:
  - {id: c1, vars: {q: hi}}
"""


@pytest.mark.parametrize(
    ("extra", "provider", "message"),
    [
        ("", "{type: transformers}", "provider 'p' (transformers) does not support tools"),
        (
            "agent: {tools: {sub: 'tests.agent.sample_tools:add'}}",
            "OPENAI",
            "agent.tools.sub: no tool of that name",
        ),
        (
            "agent: {tools: {add: 'tests.agent.sample_tools:nope'}}",
            "OPENAI",
            "cannot import suite 't', variant 'v': tool",
        ),
        ("agent: {tools: {}}", "OPENAI", "tool 'add' has no callable in agent.tools"),
    ],
)
def test_bad_tool_configuration_exits_2_before_any_call(
    workdir: Path, fake_server: FakeOpenAI, cli, extra: str, provider: str, message: str
) -> None:
    provider = provider.replace("OPENAI", f"{{type: openai, base_url: {fake_server.url}, model: m}}")
    write(workdir / "evalkit.yaml", f"providers:\n  p: {provider}\nvariants:\n  v: {{provider: p}}\n")
    write(workdir / "t.yaml", SUITE % extra)
    result = cli("run", "t.yaml", "--out", "out")
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output
    assert fake_server.requests == []


def test_invalid_tool_schema_names_file_and_line(workdir: Path, cli) -> None:
    write(workdir / "t.yaml", (SUITE % "").replace("type: number", "type: 12"))
    result = cli("validate", "t.yaml")
    assert result.exit_code == 2
    assert "t.yaml" in result.output and "not a valid JSON schema" in " ".join(result.output.split())


def test_gate_flags_a_trace_that_got_longer(workdir: Path, cli) -> None:
    rounds = {"n": 1}

    def model(body: dict) -> object:
        done = sum(1 for m in body["messages"] if m["role"] == "assistant" and m.get("tool_calls"))
        if done < rounds["n"]:
            args = json.dumps({"a": done, "b": 1})
            return {"content": None, "tool_calls": [{"id": f"c{done}", "name": "add", "arguments": args}]}
        return "done"

    cases = "\n".join(f"  - {{id: c{i}, vars: {{q: 'task {i}'}}}}" for i in range(24))
    write(
        workdir / "suites" / "t.yaml",
        "name: t\nprompt: '{{ q }}'\n"
        "tools: [{type: function, function: {name: add, parameters: {type: object}}}]\n"
        "agent: {tools: {add: 'tests.agent.sample_tools:add'}}\n"
        "scorers: [trace]\nthresholds:\n  trace_steps: {max_increase: 0.5}\n"
        f"cases:\n{cases}\n",
    )
    with FakeOpenAI(responder=model) as server:
        write(workdir / "evalkit.yaml", config(server.url))
        assert cli("run", "suites/t.yaml", "-o", "runs/a").exit_code == 0
        assert cli("baseline", "save", "runs/a").exit_code == 0
        same = cli("run", "suites/t.yaml", "-o", "runs/b")
        assert same.exit_code == 0, same.output
        rounds["n"] = 3  # every case now takes two more model calls and two more tool runs
        longer = cli("run", "suites/t.yaml", "-o", "runs/c")
    assert longer.exit_code == 1, longer.output
    summary = json.loads((workdir / "runs" / "c" / "summary.json").read_text())
    assert summary["regressions"] == ["t · api · trace_steps"]


def test_tool_selection_without_a_loop_is_recorded_and_cached(workdir: Path, cli) -> None:
    def model(body: dict) -> object:
        calls = [
            {"id": "a", "name": "lookup_order", "arguments": '{"order_id": "A1"}'},
            {"id": "b", "name": "refund_policy", "arguments": '{"category": "books"'},
        ]
        return {"content": None, "tool_calls": calls}

    suite = (SUITE % "").replace("name: add", "name: lookup_order")
    suite = suite.replace(
        "  - {id: c1, vars: {q: hi}}", "  - {id: c1, vars: {q: hi}, forbidden_tools: [refund_policy]}"
    )
    suite = suite.replace("cases:", "tool_choice: required\nscorers: [tool_not_called]\ncases:")
    write(workdir / "t.yaml", suite)
    with FakeOpenAI(responder=model) as server:
        write(workdir / "evalkit.yaml", config(server.url))
        assert cli("run", "t.yaml", "--out", "a").exit_code == 0
        assert cli("run", "t.yaml", "--out", "b").exit_code == 0
        assert len(server.requests) == 1 and server.requests[0]["tool_choice"] == "required"
    for run in ("a", "b"):
        (line,) = map(json.loads, (workdir / run / "results.jsonl").read_text().splitlines())
        assert line["output"] == "" and line["steps"] is None
        assert [(c["name"], c["arguments"], c["error"]) for c in line["tool_calls"]] == [
            ("lookup_order", {"order_id": "A1"}, None),
            ("refund_policy", None, "tool 'refund_policy' is not declared; arguments are not valid JSON"),
        ]
        assert line["scores"]["tool_not_called"]["reason"] == "tool call 2 (refund_policy) is forbidden"
    assert line["cached"] is True


@pytest.mark.slow
def test_bundled_agent_runs_offline_on_the_embedded_model(workdir: Path, cli) -> None:
    import shutil

    import yaml

    folder = workdir / "agent"
    shutil.copytree(AGENT_SUITE.parent, folder)
    spec = yaml.safe_load((folder / "agent.yaml").read_text())
    spec["cases"] = spec["cases"][:2]
    spec["params"]["max_tokens"] = 48
    spec["agent"]["max_steps"] = 2
    (folder / "agent.yaml").write_text(yaml.safe_dump(spec))
    result = cli("run", "--config", str(folder / "evalkit.yaml"), "--variant", "embedded", "--out", "out")
    assert result.exit_code == 0, result.output
    lines = [json.loads(x) for x in (workdir / "out" / "results.jsonl").read_text().splitlines()]
    assert len(lines) == 2 and all(d["error"] is None for d in lines)
    for d in lines:
        assert d["steps"][0]["type"] == "llm" and d["steps"][0]["tokens"] > 0
        assert "tool_call_f1" in d["scores"]  # scored, whatever the tiny model did
