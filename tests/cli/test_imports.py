"""`evalkit import bfcl` end to end: the converted suite runs against an OpenAI-compatible server
(per-case tools, dotted names sent as the API wants them and mapped back), and its verdicts are
BFCL's."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from evalkit.importers import bfcl
from tests.conftest import write
from tests.fake_openai import FakeOpenAI

pytest.importorskip("bfcl_eval", reason="pip install --no-deps bfcl-eval (the README's test command does)")


def answers(category: str, n: int) -> dict[str, list[dict[str, Any]]]:
    """Question text → BFCL's first acceptable call(s), as a model would send them."""
    cases_file, answers_file = bfcl.category_files(category, bfcl.data_dir())
    truth = {row["id"]: row["ground_truth"] for _, row in bfcl.read_lines(answers_file)}
    out = {}
    for _, row in list(bfcl.read_lines(cases_file))[:n]:
        calls = []
        for call in truth[row["id"]]:
            for name, params in call.items():
                args = {
                    p: next(v for v in values if v != "")
                    for p, values in params.items()
                    if any(v != "" for v in values)
                }
                calls.append({"name": name, "arguments": args})
        out[row["question"][0][0]["content"]] = calls
    return out


def test_a_converted_parallel_suite_runs_and_passes_with_right_calls(workdir: Path, cli: Any) -> None:
    right = answers("parallel", 6)
    seen_tools: list[list[str]] = []

    def responder(body: dict[str, Any]) -> dict[str, Any]:
        seen_tools.append([t["function"]["name"] for t in body["tools"]])
        calls = right[body["messages"][-1]["content"]]
        return {
            "content": None,
            "tool_calls": [  # the model answers with the names it was given
                {
                    "id": f"call_{i}",
                    "name": c["name"].replace(".", "_"),
                    "arguments": json.dumps(c["arguments"]),
                }
                for i, c in enumerate(reversed(calls))  # parallel calls in any order
            ],
        }

    result = cli("import", "bfcl", "parallel", "--limit", "6", "--out", "suites")
    assert result.exit_code == 0, result.output
    assert "wrote suites/bfcl_parallel.yaml" in result.output
    server = FakeOpenAI(responder=responder).start()
    try:
        write(
            workdir / "evalkit.yaml",
            f"""
            providers:
              api: {{type: openai, base_url: {server.url}, model: m}}
            variants:
              fc: {{provider: api}}
            """,
        )
        run = cli("run", "suites/bfcl_parallel.yaml", "--out", "reports/r")
    finally:
        server.stop()
    assert run.exit_code == 0, run.output
    assert all("." not in name for names in seen_tools for name in names)
    assert any("spotify_play" in names for names in seen_tools)
    lines = [json.loads(x) for x in (workdir / "reports/r/results.jsonl").read_text().splitlines()]
    assert len(lines) == 6
    assert all(line["scores"]["tool_arguments"]["passed"] is True for line in lines), lines[0]["scores"]
    names = {c["name"] for line in lines for c in line["tool_calls"]}
    assert "spotify.play" in names  # the declared name, not the one on the wire


def test_import_refuses_an_unknown_category_and_a_missing_folder(workdir: Path, cli: Any) -> None:
    result = cli("import", "bfcl", "java_simple")
    assert result.exit_code == 2 and "unknown BFCL category 'java_simple'" in result.output
    result = cli("import", "bfcl", "simple", "--data", str(workdir / "nowhere"))
    assert result.exit_code == 2 and "no BFCL_v4_simple_python.json" in result.output
