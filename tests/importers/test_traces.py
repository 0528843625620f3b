"""`evalkit import traces`: trace files made by the OpenTelemetry SDK (GenAI and OpenInference
conventions) become cases whose recorded answers and steps are replayed, scored and gated."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from tests.importers.conftest import sdk_trace_export, to_otlp_json_hex


def _results(path: Path) -> dict[str, dict[str, Any]]:
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    return {r["vars_input"] if "vars_input" in r else r["case_id"]: r for r in lines}


def test_genai_traces_become_cases_that_run_with_their_steps(workdir: Path, cli: Any) -> None:
    (workdir / "export.json").write_text(json.dumps(sdk_trace_export("genai")))
    got = cli("import", "traces", "export.json", "--out", "prod")
    assert got.exit_code == 0, got.output
    assert "10 case(s) from 10 trace(s)" in " ".join(got.output.split())
    suite = yaml.safe_load((workdir / "prod" / "suites" / "production.yaml").read_text())
    assert len(suite["cases"]) == 10 and suite["cases"][0]["metadata"]["service"] == "support-bot"
    inputs = sorted(c["vars"]["input"] for c in suite["cases"])
    assert inputs[0] == "Where is order 0? Mail me at user0@example.com"
    suite["scorers"] = [{"type": "step_budget", "max_steps": 1}, {"type": "contains", "text": "ships"}]
    (workdir / "prod" / "suites" / "production.yaml").write_text(yaml.safe_dump(suite))
    ran = cli("run", "--config", "prod/evalkit.yaml", "--out", "run", "--no-baseline")
    assert ran.exit_code == 0, ran.output
    results = [json.loads(line) for line in (workdir / "run" / "results.jsonl").read_text().splitlines()]
    by_order = {int(r["messages"][0]["content"].split()[3].rstrip("?")): r for r in results}
    assert by_order[3]["output"] == "Order 3 ships on Monday." and by_order[3]["usage"]["input_tokens"] == 30
    assert [(s["type"], s["name"]) for s in by_order[2]["steps"]] == [
        ("llm", "support-model"),
        ("tool", "lookup_order"),
    ]
    assert by_order[2]["tool_calls"][0]["arguments"] == {"order": 2}
    assert by_order[4]["steps"][1]["error"] == "order service timed out"
    assert {i: r["scores"]["step_budget"]["passed"] for i, r in by_order.items()} == {
        i: i % 2 == 1 for i in range(10)
    }
    assert all(r["scores"]["contains"]["passed"] for r in results)


def test_openinference_spans_hex_ids_and_jsonl(workdir: Path, cli: Any) -> None:
    folder = workdir / "exports"
    folder.mkdir()
    document = to_otlp_json_hex(sdk_trace_export("openinference", n=4))
    (folder / "collector.jsonl").write_text(json.dumps(document) + "\n")
    got = cli("import", "traces", "exports", "--out", "prod", "--suite", "oi")
    assert got.exit_code == 0, got.output
    lines = [json.loads(line) for line in (workdir / "prod" / "traces" / "oi.jsonl").read_text().splitlines()]
    assert len(lines) == 4 and all(r["case_id"].startswith("t-") and len(r["case_id"]) == 18 for r in lines)
    zero = next(r for r in lines if "order 0?" in r["messages"][0]["content"])
    assert zero["output"] == "Order 0 ships on Monday."
    assert [(s["type"], s["name"], s["tokens"]) for s in zero["steps"]] == [
        ("llm", "support-model", 38),
        ("tool", "lookup_order", None),
    ]
    assert zero["steps"][1]["input"] == {"order": 0}


def test_sample_and_pii_scrub(workdir: Path, cli: Any) -> None:
    (workdir / "export.json").write_text(json.dumps(sdk_trace_export("genai", n=40)))
    first = cli("import", "traces", "export.json", "--out", "a", "--sample", "0.5", "--scrub-pii")
    again = cli("import", "traces", "export.json", "--out", "b", "--sample", "0.5", "--scrub-pii")
    other = cli("import", "traces", "export.json", "--out", "c", "--sample", "0.5", "--seed", "other")
    assert first.exit_code == again.exit_code == other.exit_code == 0
    ids = [
        [c["id"] for c in yaml.safe_load((workdir / d / "suites" / "production.yaml").read_text())["cases"]]
        for d in "abc"
    ]
    assert ids[0] == ids[1] and ids[0] != ids[2] and 10 <= len(ids[0]) <= 30  # deterministic, about half
    written = "".join(p.read_text() for p in (workdir / "a").rglob("*") if p.is_file())
    assert "@example.com" not in written and "Mail me at [EMAIL]" in written
    unscrubbed = "".join(p.read_text() for p in (workdir / "c").rglob("*") if p.is_file())
    assert "@example.com" in unscrubbed


def test_bad_trace_files_are_exit_2(workdir: Path, cli: Any) -> None:
    (workdir / "x.json").write_text('{"spans": []}')
    got = cli("import", "traces", "x.json")
    assert got.exit_code == 2 and "no resourceSpans" in got.output and "x.json" in got.output
    (workdir / "y.jsonl").write_text('{"resourceSpans": []}\n{oops\n')
    got = cli("import", "traces", "y.jsonl")
    assert got.exit_code == 2 and "y.jsonl:2" in got.output
    assert cli("import", "traces", "x.json", "--sample", "0").exit_code == 2
