"""Native vendor providers from evalkit.yaml through run, report and bad input, against fakes of
the vendors' APIs on 127.0.0.1: tokens and dollars with only `type:` and `model:` set."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import genai_prices
import pytest

from tests.conftest import ANTHROPIC_KEY, QA, qa_suite_yaml, write
from tests.fake_anthropic import FakeAnthropic
from tests.fake_openai import FakeOpenAI


def claude_answers(body: dict[str, Any]) -> dict[str, Any]:
    question = body["messages"][-1]["content"]
    return {
        "content": [{"type": "text", "text": QA.get(question, "I am not sure.")}],
        "stop_reason": "end_turn" if question != "Who wrote Hamlet?" else "max_tokens",
        "usage": {
            "input_tokens": 12,
            "cache_read_input_tokens": 100,
            "cache_creation_input_tokens": 20,
            "output_tokens": 3,
        },
    }


def gemini_answers(body: dict[str, Any]) -> dict[str, Any]:
    question = body["contents"][-1]["parts"][0]["text"]
    return {
        "parts": [{"text": QA.get(question, "I am not sure.")}],
        "finishReason": "STOP",
        "usageMetadata": {"promptTokenCount": 9, "candidatesTokenCount": 4, "totalTokenCount": 13},
    }


def config(anthropic_url: str, openai_url: str, claude_model: str = "claude-sonnet-5-5") -> str:
    return f"""
providers:
  claude: {{type: anthropic, base_url: "{anthropic_url}", model: {claude_model}}}
  api:
    type: openai
    base_url: {openai_url}
    model: good-model
    pricing: {{input_per_mtok: 1.0, output_per_mtok: 2.0}}
variants:
  claude: {{provider: claude}}
  gpt: {{provider: api}}
"""


def reference_cost(model: str, usage: dict[str, Any]) -> float:
    result = genai_prices.calc_price(
        genai_prices.Usage(
            input_tokens=usage["input_tokens"],
            output_tokens=usage["output_tokens"],
            cache_read_tokens=usage["cached_input_tokens"],
            cache_write_tokens=usage["cache_write_tokens"],
        ),
        model,
        provider_id="anthropic",
    )
    return float(result.total_price)


def test_a_claude_variant_gets_tokens_and_dollars_from_type_and_model_alone(
    workdir: Path, fake_anthropic: FakeAnthropic, fake_server: FakeOpenAI, cli: Any
) -> None:
    fake_anthropic.responder = claude_answers
    write(workdir / "suites" / "qa.yaml", qa_suite_yaml(scorers="[exact]"))
    write(workdir / "evalkit.yaml", config(fake_anthropic.url, fake_server.url))
    result = cli("run", "suites/qa.yaml", "--out", "out", "--no-baseline")
    assert result.exit_code == 0, result.output
    run = workdir / "out"
    lines = [json.loads(x) for x in (run / "results.jsonl").read_text().splitlines()]
    claude = [x for x in lines if x["variant"] == "claude"]
    assert len(claude) == len(QA) and all(x["error"] is None for x in claude)
    for line in claude:
        usage = line["usage"]
        assert (usage["input_tokens"], usage["cached_input_tokens"], usage["cache_write_tokens"]) == (
            132,
            100,
            20,
        )
        assert line["cost_usd"] == pytest.approx(reference_cost("claude-sonnet-5-5", usage))
        assert line["cost_usd"] > 0
    finishes = sorted({(x["finish_reason"], x["vendor_finish_reason"]) for x in claude})
    assert finishes == [("length", "max_tokens"), ("stop", "end_turn")]
    # run.json says where each price came from
    prices = json.loads((run / "run.json").read_text())["plan"]["prices"]
    assert prices["claude/claude-sonnet-5-5"]["source"] == f"genai-prices {genai_prices.__version__}"
    assert prices["api/good-model"] == {
        "source": "config",
        "model": "good-model",
        "input_per_mtok": 1.0,
        "output_per_mtok": 2.0,
    }
    summary = json.loads((run / "summary.json").read_text())
    groups = {g["variant"]: g for g in summary["groups"]}
    assert groups["claude"]["cost_usd"] == pytest.approx(sum(x["cost_usd"] for x in claude))
    # the answer cut at max_tokens: a truncation rate per suite × variant on every surface
    assert (groups["claude"]["truncated"], groups["gpt"]["truncated"]) == (1, 0)
    assert (
        groups["claude"]["truncation_rate"] == pytest.approx(1 / 6) and groups["gpt"]["truncation_rate"] == 0
    )
    assert groups["claude"]["tokens"]["cache_write"] == 20 * 6
    terminal = " ".join(result.output.split())
    assert "truncated" in terminal and "16.7% (1)" in terminal
    assert "- qa · claude: 16.7% (1 of 6)" in (run / "summary.md").read_text()
    assert "truncated" in (run / "report.html").read_text()
    cost = groups["claude"]["cost_usd"]
    assert f"${cost:.6f} |" in (run / "summary.md").read_text()
    assert max(x["latency_ms"] for x in claude) < 2000  # the SDK's import is load time, not latency
    # the key is in no file of the run and not in the output
    assert ANTHROPIC_KEY not in result.output
    for path in run.rglob("*"):
        if path.is_file():
            assert ANTHROPIC_KEY not in path.read_text(errors="replace"), path


def test_a_model_without_a_price_is_named_and_its_cost_unmeasured(
    workdir: Path, fake_anthropic: FakeAnthropic, fake_server: FakeOpenAI, cli: Any
) -> None:
    write(workdir / "suites" / "qa.yaml", qa_suite_yaml(scorers="[exact]"))
    write(
        workdir / "evalkit.yaml", config(fake_anthropic.url, fake_server.url, claude_model="claude-private-1")
    )
    result = cli("run", "suites/qa.yaml", "--out", "out", "--no-baseline", "--variant", "claude")
    assert result.exit_code == 0, result.output
    assert "no price known for model 'claude-private-1' (claude)" in " ".join(result.output.split())
    lines = [json.loads(x) for x in (workdir / "out" / "results.jsonl").read_text().splitlines()]
    assert {x["cost_usd"] for x in lines} == {None}  # unmeasured, never 0
    summary = json.loads((workdir / "out" / "summary.json").read_text())
    assert summary["groups"][0]["cost_usd"] is None


def test_an_unknown_provider_type_lists_the_known_ones_at_its_line(workdir: Path, cli: Any) -> None:
    write(workdir / "suites" / "qa.yaml", qa_suite_yaml(scorers="[exact]"))
    write(
        workdir / "evalkit.yaml", "providers:\n  claude:\n    type: antropic\n    model: claude-sonnet-5-5\n"
    )
    result = cli("run", "suites/qa.yaml", "--out", "out")
    assert result.exit_code == 2 and "Traceback" not in result.output
    text = " ".join(result.output.split())
    assert (
        "evalkit.yaml:3:" in text and "unknown provider type 'antropic' (did you mean 'anthropic'?)" in text
    )
    assert "known: " in text and "openai" in text and "transformers" in text


def test_a_missing_key_is_named_before_any_model_call(
    workdir: Path,
    fake_anthropic: FakeAnthropic,
    fake_server: FakeOpenAI,
    cli: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    write(workdir / "suites" / "qa.yaml", qa_suite_yaml(scorers="[exact]"))
    write(workdir / "evalkit.yaml", config(fake_anthropic.url, fake_server.url))
    result = cli("run", "suites/qa.yaml", "--out", "out")
    assert result.exit_code == 2, result.output
    assert "environment variable ANTHROPIC_API_KEY is not set" in " ".join(result.output.split())
    assert fake_anthropic.seen == [] and fake_server.requests == []  # no model was called


def test_a_missing_sdk_names_its_pip_line(
    workdir: Path,
    fake_anthropic: FakeAnthropic,
    fake_server: FakeOpenAI,
    cli: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "anthropic" else real(name, *a)
    )
    write(workdir / "suites" / "qa.yaml", qa_suite_yaml(scorers="[exact]"))
    write(workdir / "evalkit.yaml", config(fake_anthropic.url, fake_server.url))
    result = cli("run", "suites/qa.yaml", "--out", "out")
    assert result.exit_code == 2, result.output
    assert "pip install 'evalkit[anthropic]'" in " ".join(result.output.split())
    assert fake_anthropic.seen == [] and fake_server.requests == []


def test_refused_credentials_stop_the_run(
    workdir: Path,
    fake_anthropic: FakeAnthropic,
    fake_server: FakeOpenAI,
    cli: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-api03-revoked-000000000000")
    write(workdir / "suites" / "qa.yaml", qa_suite_yaml(scorers="[exact]"))
    write(workdir / "evalkit.yaml", config(fake_anthropic.url, fake_server.url))
    result = cli("run", "suites/qa.yaml", "--out", "out", "--variant", "claude")
    assert result.exit_code == 3, result.output
    text = " ".join(result.output.split())
    assert "refused the credentials (HTTP 401)" in text and "sk-ant-api03-revoked" not in text


def docs_example() -> str:
    """The "compare GPT, Claude and Gemini" config of docs/guide/providers.md."""
    from tests.docs.conftest import ROOT, blocks

    page = ROOT / "docs" / "guide" / "providers.md"
    return next(b.body for b in blocks("yaml") if b.page == page and b.body.startswith("# evalkit.yaml"))


def test_the_docs_example_compares_gpt_claude_and_gemini_with_tokens_and_dollars(
    workdir: Path,
    fake_anthropic: FakeAnthropic,
    fake_gemini: Any,
    fake_server: FakeOpenAI,
    cli: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import yaml

    monkeypatch.setenv("OPENAI_API_KEY", "sk-proj-test-0123456789abcdef")
    fake_anthropic.responder = claude_answers
    fake_gemini.responder = gemini_answers
    config = yaml.safe_load(docs_example())
    urls = {"gpt": fake_server.url, "claude": fake_anthropic.url, "gemini": fake_gemini.url}
    for name, url in urls.items():  # the one change: each vendor's API is its local fake
        config["providers"][name]["base_url"] = url
    write(workdir / "evalkit.yaml", yaml.safe_dump(config))
    write(workdir / "suites" / "qa.yaml", qa_suite_yaml(scorers="[exact]"))
    result = cli("run", "suites/qa.yaml", "--out", "out", "--no-baseline")
    assert result.exit_code == 0, result.output
    lines = [json.loads(x) for x in (workdir / "out" / "results.jsonl").read_text().splitlines()]
    vendors = {
        "gpt": ("openai", "gpt-5.1"),
        "claude": ("anthropic", "claude-sonnet-5-5"),
        "gemini": ("google", "gemini-2.5-flash"),
    }
    for line in lines:
        vendor, model = vendors[line["variant"]]
        u = line["usage"]
        assert line["error"] is None and u["input_tokens"] > 0 and u["output_tokens"] > 0
        expected = genai_prices.calc_price(
            genai_prices.Usage(
                input_tokens=u["input_tokens"],
                output_tokens=u["output_tokens"],
                cache_read_tokens=u["cached_input_tokens"] or 0,
                cache_write_tokens=u["cache_write_tokens"] or 0,
            ),
            model,
            provider_id=vendor,
        ).total_price
        assert line["cost_usd"] == pytest.approx(float(expected)) and line["cost_usd"] > 0
    summary = json.loads((workdir / "out" / "summary.json").read_text())
    costs = {g["variant"]: g["cost_usd"] for g in summary["groups"]}
    assert set(costs) == {"gpt", "claude", "gemini"} and all(c is not None and c > 0 for c in costs.values())
    prices = json.loads((workdir / "out" / "run.json").read_text())["plan"]["prices"]
    assert {k: v["source"].split()[0] for k, v in prices.items()} == {
        "gpt/gpt-5.1": "genai-prices",
        "claude/claude-sonnet-5-5": "genai-prices",
        "gemini/gemini-2.5-flash": "genai-prices",
    }
    markdown = (workdir / "out" / "summary.md").read_text()
    for variant, cost in costs.items():
        assert f"| qa | {variant} |" in markdown and f"${cost:.6f}" in markdown
    assert "–" not in result.output.split("cost")[-1].splitlines()[0]  # no unmeasured cost on the terminal
    # the frontier: all three answer every case right, so the best is the cheapest and the pick
    (frontier,) = summary["frontier"]
    per_case = {g["variant"]: g["cost_per_case_usd"] for g in summary["groups"]}
    cheapest = min(per_case, key=per_case.__getitem__)
    assert {v["variant"]: v["cost_per_case_usd"] for v in frontier["variants"]} == per_case
    assert frontier["best"] == frontier["pick"] == cheapest and frontier["metric"] == "exact"
    assert all(v["worse_than_best"] in (None, False) for v in frontier["variants"])
    text = " ".join(result.output.split())
    assert "cost–quality frontier: suite qa" in text and f"pick: {cheapest}: the best variant is also" in text
    assert f"| **{cheapest}** |" in markdown and "### Cost–quality frontier: qa" in markdown


def test_a_gemini_safety_block_is_an_error_result_not_an_empty_answer(
    workdir: Path, fake_gemini: Any, cli: Any
) -> None:
    fake_gemini.responder = lambda body: {
        "promptFeedback": {"blockReason": "SAFETY"},
        "usageMetadata": {"promptTokenCount": 9, "totalTokenCount": 9},
    }
    write(
        workdir / "evalkit.yaml",
        f'providers:\n  g: {{type: gemini, model: gemini-2.5-flash, base_url: "{fake_gemini.url}"}}\n',
    )
    write(workdir / "suites" / "qa.yaml", qa_suite_yaml(scorers="[exact]"))
    result = cli("run", "suites/qa.yaml", "--out", "out", "--no-baseline")
    assert result.exit_code == 3, result.output  # every case errored: over the error budget
    lines = [json.loads(x) for x in (workdir / "out" / "results.jsonl").read_text().splitlines()]
    assert {(x["error"], x["output"], x["finish_reason"], x["vendor_finish_reason"]) for x in lines} == {
        ("Gemini blocked the prompt (SAFETY)", None, "error", "SAFETY")
    }


def test_a_truncation_rate_threshold_fails_the_run(
    workdir: Path, fake_anthropic: FakeAnthropic, fake_server: FakeOpenAI, cli: Any
) -> None:
    fake_anthropic.responder = claude_answers
    write(
        workdir / "suites" / "qa.yaml",
        qa_suite_yaml(scorers="[exact]", extra="thresholds:\n  truncation_rate: {max: 0.1}\n"),
    )
    write(workdir / "evalkit.yaml", config(fake_anthropic.url, fake_server.url))
    result = cli("run", "suites/qa.yaml", "--out", "out", "--no-baseline")
    assert result.exit_code == 1, result.output
    summary = json.loads((workdir / "out" / "summary.json").read_text())
    checks = {g["variant"]: g["thresholds"] for g in summary["groups"]}
    assert [c["metric"] for c in checks["claude"] if not c["passed"]] == ["truncation_rate"]
    assert all(c["passed"] for c in checks["gpt"])


def test_a_claude_judge_grading_gpt_answers_is_priced_as_claude(
    workdir: Path, fake_anthropic: FakeAnthropic, fake_server: FakeOpenAI, cli: Any
) -> None:
    fake_anthropic.responder = lambda body: {
        "content": [{"type": "text", "text": '{"reasoning": "It names the answer.", "verdict": "pass"}'}],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 150, "output_tokens": 20},
    }
    scorers = (
        "[{type: judge, provider: claude, mode: pass_fail, name: correct, criteria: Answers the question.}]"
    )
    write(workdir / "suites" / "qa.yaml", qa_suite_yaml(scorers=scorers))
    write(workdir / "evalkit.yaml", config(fake_anthropic.url, fake_server.url))
    result = cli("run", "suites/qa.yaml", "--out", "out", "--no-baseline", "--variant", "gpt")
    assert result.exit_code == 0, result.output
    lines = [json.loads(x) for x in (workdir / "out" / "results.jsonl").read_text().splitlines()]
    judge_cost = float(
        genai_prices.calc_price(
            genai_prices.Usage(input_tokens=150, output_tokens=20),
            "claude-sonnet-5-5",
            provider_id="anthropic",
        ).total_price
    )
    for line in lines:
        judge = line["judges"]["correct"]
        assert (judge["provider"], judge["model"], judge["calls"]) == ("claude", "claude-sonnet-5-5", 1)
        assert judge["cost_usd"] == pytest.approx(judge_cost)
        generation = (line["usage"]["input_tokens"] * 1.0 + line["usage"]["output_tokens"] * 2.0) / 1e6
        assert line["cost_usd"] == pytest.approx(generation + judge_cost)
        assert line["scores"]["correct"]["passed"] is True


def gpt_reasoning_answers(body: dict[str, Any]) -> dict[str, Any]:
    question = body["input"][-1]["content"]
    return {
        "content": QA.get(question, "I am not sure."),
        "reasoning": "Recall the fact.",
        "cached_tokens": 2,
    }


def test_a_responses_api_variant_gets_reasoning_tokens_and_dollars(
    workdir: Path, fake_server: FakeOpenAI, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = "sk-proj-responses-e2e-0123456789abcdef"
    monkeypatch.setenv("OPENAI_API_KEY", key)
    fake_server.responses_responder = gpt_reasoning_answers
    write(workdir / "suites" / "qa.yaml", qa_suite_yaml(scorers="[exact]"))
    write(
        workdir / "evalkit.yaml",
        f"""
providers:
  gpt:
    type: openai
    preset: openai
    base_url: {fake_server.url}
    api: responses
    model: gpt-5.1
    reasoning_effort: medium
    reasoning_summary: auto
    stream: true
""",
    )
    result = cli("run", "suites/qa.yaml", "--out", "out", "--no-baseline")
    assert result.exit_code == 0, result.output
    assert {p.split("?")[0] for p in fake_server.paths} == {"/v1/responses"}
    assert all(
        b["store"] is False and b["reasoning"] == {"effort": "medium", "summary": "auto"}
        for b in fake_server.requests
    )
    lines = [json.loads(x) for x in (workdir / "out" / "results.jsonl").read_text().splitlines()]
    assert len(lines) == len(QA) and all(
        x["error"] is None and x["scores"]["exact"]["value"] == 1.0 for x in lines
    )
    for line in lines:
        u = line["usage"]
        assert u["reasoning_tokens"] == 9 and u["cached_input_tokens"] == 2 and u["output_tokens"] > 9
        assert line["reasoning"] == "Recall the fact." and line["ttft_ms"] is not None
        expected = genai_prices.calc_price(
            genai_prices.Usage(
                input_tokens=u["input_tokens"], output_tokens=u["output_tokens"], cache_read_tokens=2
            ),
            "gpt-5.1",
            provider_id="openai",
        ).total_price
        assert line["cost_usd"] == pytest.approx(float(expected)) and line["cost_usd"] > 0
    summary = json.loads((workdir / "out" / "summary.json").read_text())
    assert summary["groups"][0]["tokens"]["reasoning"] == 9 * len(QA)
    assert key not in result.output
    for path in (workdir / "out").rglob("*"):
        if path.is_file():
            assert key not in path.read_text(errors="replace"), path


@pytest.mark.parametrize("vendor", ["anthropic", "gemini", "openai"])
def test_a_model_the_vendor_rejects_stops_the_run_with_one_clear_error(
    workdir: Path, fake_anthropic: FakeAnthropic, fake_gemini: Any, cli: Any, vendor: str
) -> None:
    fake_anthropic.models = {"claude-sonnet-5-5"}
    fake_gemini.models = {"gemini-2.5-flash"}
    with FakeOpenAI(missing_models=frozenset({"gpt-nope"})) as fake_openai:
        url = {"anthropic": fake_anthropic.url, "gemini": fake_gemini.url, "openai": fake_openai.url}[vendor]
        model = {"anthropic": "claude-sonnet-9-9", "gemini": "gemini-9-ultra", "openai": "gpt-nope"}[vendor]
        write(workdir / "suites" / "qa.yaml", qa_suite_yaml(scorers="[exact]"))
        entry = f'type: {vendor}, base_url: "{url}", model: {model}'
        write(workdir / "evalkit.yaml", f"providers:\n  m: {{{entry}}}\n")
        result = cli("run", "suites/qa.yaml", "--out", "out", "--no-baseline")
        sent = {"anthropic": fake_anthropic.seen, "gemini": fake_gemini.seen, "openai": fake_openai.requests}[
            vendor
        ]
        assert len(sent) == 1  # asked once, not once per case
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert "provider 'm':" in text and f"does not know model '{model}' (HTTP 404)" in text
    assert "Traceback" not in result.output
    lines = (workdir / "out" / "results.jsonl").read_text().splitlines()
    assert lines == []  # no error result per case
    summary = json.loads((workdir / "out" / "summary.json").read_text())
    assert summary["exit_code"] == 2 and f"does not know model '{model}'" in summary["aborted"]
    assert ANTHROPIC_KEY not in result.output


def test_gemini_on_vertex_ai_from_the_config_keeps_its_token_out_of_every_file(
    workdir: Path, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.fake_gemini import FakeGemini

    token = "ya29.a0-vertex-e2e-token-0123456789abcdef"
    monkeypatch.setenv("VERTEX_TOKEN", token)
    with FakeGemini() as fake:
        fake.vertex_token = token
        write(workdir / "suites" / "qa.yaml", qa_suite_yaml(scorers="[exact]"))
        write(
            workdir / "evalkit.yaml",
            f"""
providers:
  gemini:
    type: gemini
    model: gemini-2.5-flash
    vertexai: true
    project: evals-prod
    location: us-central1
    access_token_env: VERTEX_TOKEN
    base_url: {fake.url}
""",
        )
        result = cli("run", "suites/qa.yaml", "--out", "out", "--no-baseline")
        paths = {s.path for s in fake.seen}
    assert paths == {
        "/v1beta1/projects/evals-prod/locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent"
    }
    lines = [json.loads(x) for x in (workdir / "out" / "results.jsonl").read_text().splitlines()]
    assert len(lines) == len(QA) and all(x["error"] is None and x["cost_usd"] > 0 for x in lines)
    assert token not in result.output
    for path in (workdir / "out").rglob("*"):
        if path.is_file():
            assert token not in path.read_text(errors="replace"), path
    run = json.loads((workdir / "out" / "run.json").read_text())
    assert "evals-prod" in json.dumps(run) and "VERTEX_TOKEN" in json.dumps(run)  # the variable's name only
