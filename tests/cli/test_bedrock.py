"""The bedrock provider from evalkit.yaml through run, gate and report, against a fake of Bedrock
Runtime on 127.0.0.1 that verifies every SigV4 signature: tokens and dollars with only `type:`
and `model:` set, and the AWS credentials in no file, line or message."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import genai_prices
import pytest

from tests.conftest import AWS_KEY_ID, AWS_SECRET, AWS_TOKEN, QA, qa_suite_yaml, write
from tests.fake_bedrock import FakeBedrock

MODEL = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"


def answers(wrong: bool = False) -> Any:
    def reply(body: dict[str, Any]) -> dict[str, Any]:
        question = body["messages"][-1]["content"][0]["text"]
        return {
            "content": [{"text": "no idea" if wrong else QA.get(question, "I am not sure.")}],
            "stopReason": "max_tokens" if question == "Who wrote Hamlet?" else "end_turn",
            "usage": {
                "inputTokens": 12,
                "cacheReadInputTokens": 100,
                "cacheWriteInputTokens": 20,
                "outputTokens": 3,
            },
        }

    return reply


def config(url: str, model: str = MODEL) -> str:
    return f'providers:\n  claude: {{type: bedrock, model: "{model}", endpoint_url: "{url}"}}\ncache: {{enabled: false}}\n'


def assert_no_aws_secret(*texts: str, folders: tuple[Path, ...] = ()) -> None:
    for path in (p for folder in folders for p in folder.rglob("*") if p.is_file()):
        texts += (path.read_text(errors="replace"),)
    for text in texts:
        for secret in (AWS_KEY_ID, AWS_SECRET, AWS_TOKEN):
            assert secret not in text


def test_run_gate_and_report_with_tokens_and_dollars_from_type_and_model(
    workdir: Path, fake_bedrock: FakeBedrock, cli: Any
) -> None:
    fake_bedrock.responder = answers()
    write(workdir / "suites" / "qa.yaml", qa_suite_yaml(scorers="[exact]"))
    write(workdir / "evalkit.yaml", config(fake_bedrock.url))
    first = cli("run", "suites/qa.yaml", "--out", "runs/a")
    assert first.exit_code == 0, first.output
    run = workdir / "runs" / "a"
    lines = [json.loads(x) for x in (run / "results.jsonl").read_text().splitlines()]
    assert len(lines) == len(QA) and all(x["error"] is None for x in lines)
    for line in lines:
        u = line["usage"]
        assert (u["input_tokens"], u["cached_input_tokens"], u["cache_write_tokens"], u["output_tokens"]) == (
            132,
            100,
            20,
            3,
        )
        expected = genai_prices.calc_price(
            genai_prices.Usage(
                input_tokens=132, output_tokens=3, cache_read_tokens=100, cache_write_tokens=20
            ),
            MODEL,
            provider_id="aws",
        ).total_price
        assert line["cost_usd"] == pytest.approx(float(expected)) and line["cost_usd"] > 0
    finishes = sorted({(x["finish_reason"], x["vendor_finish_reason"]) for x in lines})
    assert finishes == [("length", "max_tokens"), ("stop", "end_turn")]
    prices = json.loads((run / "run.json").read_text())["plan"]["prices"]
    price = prices[f"claude/{MODEL}"]
    assert price["source"] == f"genai-prices {genai_prices.__version__}" and price["vendor"] == "aws"
    summary = json.loads((run / "summary.json").read_text())
    [group] = summary["groups"]
    assert group["truncated"] == 1 and group["cost_usd"] == pytest.approx(sum(x["cost_usd"] for x in lines))
    assert (run / "report.html").is_file() and f"${group['cost_usd']:.3g} |" in (
        run / "summary.md"
    ).read_text()

    assert cli("baseline", "save", "runs/a").exit_code == 0
    fake_bedrock.responder = answers(wrong=True)
    second = cli("run", "suites/qa.yaml", "--out", "runs/b")
    assert second.exit_code == 1, second.output  # every answer regressed against the baseline
    diff = json.loads((workdir / "runs" / "b" / "diff.json").read_text())
    assert diff["groups"][0]["verdict"] == "regressed" and diff["groups"][0]["paired"] == len(QA)
    rebuilt = cli("report", "runs/b")
    assert rebuilt.exit_code == 0, rebuilt.output  # rebuilding a report is not a verdict
    assert "regress" in (workdir / "runs" / "b" / "report.html").read_text().lower()
    assert len(fake_bedrock.seen) == 2 * len(QA)  # every call signed and verified by the fake
    assert_no_aws_secret(
        first.output,
        second.output,
        rebuilt.output,
        folders=(workdir / "runs", workdir / "baselines"),
    )


def test_missing_credentials_are_named_before_any_model_call(
    workdir: Path, fake_bedrock: FakeBedrock, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name)
    write(workdir / "suites" / "qa.yaml", qa_suite_yaml(scorers="[exact]"))
    write(workdir / "evalkit.yaml", config(fake_bedrock.url))
    result = cli("run", "suites/qa.yaml", "--out", "out")
    assert result.exit_code == 2, result.output
    assert "no AWS credentials found" in " ".join(result.output.split()) and "Traceback" not in result.output
    assert fake_bedrock.seen == []


def test_a_missing_sdk_names_its_pip_line(
    workdir: Path, fake_bedrock: FakeBedrock, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "boto3" else real(name, *a)
    )
    write(workdir / "suites" / "qa.yaml", qa_suite_yaml(scorers="[exact]"))
    write(workdir / "evalkit.yaml", config(fake_bedrock.url))
    result = cli("run", "suites/qa.yaml", "--out", "out")
    assert result.exit_code == 2, result.output
    assert "pip install 'evalkit[bedrock]'" in " ".join(result.output.split())
    assert fake_bedrock.seen == []


def test_refused_credentials_stop_the_run_and_never_show(
    workdir: Path, fake_bedrock: FakeBedrock, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYWRONGSECRET")
    write(workdir / "suites" / "qa.yaml", qa_suite_yaml(scorers="[exact]"))
    write(workdir / "evalkit.yaml", config(fake_bedrock.url))
    result = cli("run", "suites/qa.yaml", "--out", "out", "--no-baseline")
    assert result.exit_code == 3, result.output
    text = " ".join(result.output.split())
    assert "refused the credentials (HTTP 403 InvalidSignatureException)" in text
    assert "wJalrXUtnFEMI/K7MDENG/bPxRfiCYWRONGSECRET" not in result.output
    assert_no_aws_secret(result.output, folders=(workdir / "out",) if (workdir / "out").exists() else ())


def test_an_unknown_model_stops_the_run_at_its_first_answer(
    workdir: Path, fake_bedrock: FakeBedrock, cli: Any
) -> None:
    fake_bedrock.models = {MODEL}
    write(workdir / "suites" / "qa.yaml", qa_suite_yaml(scorers="[exact]"))
    write(workdir / "evalkit.yaml", config(fake_bedrock.url, model="anthropic.claude-nine"))
    result = cli("run", "suites/qa.yaml", "--out", "out", "--no-baseline")
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert (
        f"provider 'claude': Bedrock ({fake_bedrock.url}) does not know model 'anthropic.claude-nine' "
        "(ValidationException (HTTP 400)): The provided model identifier is invalid." in text
    )
    assert "Traceback" not in result.output and len(fake_bedrock.seen) == 1  # asked once
    assert (workdir / "out" / "results.jsonl").read_text().splitlines() == []
    summary = json.loads((workdir / "out" / "summary.json").read_text())
    assert summary["exit_code"] == 2 and "does not know model 'anthropic.claude-nine'" in summary["aborted"]
    assert_no_aws_secret(result.output, folders=(workdir / "out",))


def docs_example() -> dict[str, Any]:
    """The Bedrock config of docs/guide/providers.md."""
    import yaml

    from tests.docs.conftest import ROOT, blocks

    page = ROOT / "docs" / "guide" / "providers.md"
    [body] = [b.body for b in blocks("yaml") if b.page == page and "type: bedrock" in b.body]
    loaded: dict[str, Any] = yaml.safe_load(body)
    return loaded


def test_the_docs_example_runs_with_a_profile_and_prices_both_models(
    workdir: Path, fake_bedrock: FakeBedrock, cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import yaml

    # the profile `evals` in the shared credentials file, and its own region
    (tmp_path / "credentials").write_text(
        f"[evals]\naws_access_key_id = {AWS_KEY_ID}\naws_secret_access_key = {AWS_SECRET}\n"
        f"aws_session_token = {AWS_TOKEN}\n"
    )
    (tmp_path / "config").write_text("[profile evals]\nregion = us-west-2\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.delenv("AWS_REGION")
    fake_bedrock.responder = answers()
    config = docs_example()
    for provider in config["providers"].values():  # the one change: Bedrock is the local fake
        provider["endpoint_url"] = fake_bedrock.url
    write(workdir / "evalkit.yaml", yaml.safe_dump(config))
    write(workdir / "suites" / "qa.yaml", qa_suite_yaml(scorers="[exact]"))
    result = cli("run", "suites/qa.yaml", "--out", "out", "--no-baseline")
    assert result.exit_code == 0, result.output
    lines = [json.loads(x) for x in (workdir / "out" / "results.jsonl").read_text().splitlines()]
    assert {x["variant"] for x in lines} == {"claude-aws", "nova"} and all(x["error"] is None for x in lines)
    assert all(x["cost_usd"] is not None and x["cost_usd"] > 0 for x in lines)
    prices = json.loads((workdir / "out" / "run.json").read_text())["plan"]["prices"]
    assert {k: v["source"].split()[0] for k, v in prices.items()} == {
        "claude-aws/us.anthropic.claude-sonnet-4-5-20250929-v1:0": "genai-prices",
        "nova/amazon.nova-pro-v1:0": "genai-prices",
    }
    bodies = {s.path.split("/")[2]: s.body for s in fake_bedrock.seen}
    claude = bodies["us.anthropic.claude-sonnet-4-5-20250929-v1:0"]
    assert claude["additionalModelRequestFields"] == {"thinking": {"type": "enabled", "budget_tokens": 2048}}
    assert sorted(set(fake_bedrock.regions)) == ["us-east-1", "us-west-2"]  # `region:`, the profile's
    assert_no_aws_secret(result.output, folders=(workdir / "out",))


def test_the_bundled_agent_suite_runs_its_loop_and_trajectory_scorers_on_bedrock(
    workdir: Path, fake_bedrock: FakeBedrock, cli: Any
) -> None:
    from tests.helpers.agent import AGENT_SUITE, bedrock_agent_responder

    fake_bedrock.responder = bedrock_agent_responder
    write(workdir / "evalkit.yaml", config(fake_bedrock.url))
    result = cli("run", str(AGENT_SUITE), "--out", "out")
    assert result.exit_code == 0, result.output
    lines = {
        d["case_id"]: d for d in map(json.loads, (workdir / "out" / "results.jsonl").read_text().splitlines())
    }
    assert len(lines) == 17 and all(d["error"] is None for d in lines.values())
    good = lines["refund-eligible-electronics"]
    assert [(s["type"], s["name"]) for s in good["steps"]] == [
        ("llm", "model"),
        ("tool", "lookup_order"),
        ("llm", "model"),
        ("tool", "refund_policy"),
        ("llm", "model"),
    ]
    assert good["steps"][1]["output"]["total"] == 39.9  # the real tool ran
    assert good["scores"]["tool_call_f1_args"]["value"] == 1.0
    step_costs = [s["cost_usd"] for s in good["steps"] if s["type"] == "llm"]
    assert all(c > 0 for c in step_costs) and good["cost_usd"] == pytest.approx(sum(step_costs))
    wrong_order = lines["refund-clothing"]["scores"]["tool_order"]
    assert wrong_order["reason"] == "step s2 (refund_policy) comes before step s4 (lookup_order)"
    looped = lines["refund-food"]["scores"]["tool_loop"]
    assert looped["reason"] == "step s4 (lookup_order) is call 2 of the same tool and arguments"
    parallel = lines["compare-orders"]
    assert [s["type"] for s in parallel["steps"]] == ["llm", "tool", "tool", "llm"]
    # the parallel calls went back as two toolResult blocks of one user turn
    follow = next(
        s.body
        for s in fake_bedrock.seen
        if "A1001 or order A1003" in s.body["messages"][0]["content"][0]["text"]
        and len(s.body["messages"]) > 1
    )
    assert [list(b) for b in follow["messages"][-1]["content"]] == [["toolResult"], ["toolResult"]]
    assert all(len(s.body["toolConfig"]["tools"]) == 3 for s in fake_bedrock.seen)


def test_a_bedrock_judge_grading_gpt_answers_is_priced_as_bedrock(
    workdir: Path, fake_bedrock: FakeBedrock, fake_server: Any, cli: Any
) -> None:
    fake_bedrock.responder = lambda body: {
        "content": [{"text": '{"reasoning": "It names the answer.", "verdict": "pass"}'}],
        "stopReason": "end_turn",
        "usage": {"inputTokens": 150, "outputTokens": 20},
    }
    scorers = (
        "[{type: judge, provider: judge, mode: pass_fail, name: correct, criteria: Answers the question.}]"
    )
    write(workdir / "suites" / "qa.yaml", qa_suite_yaml(scorers=scorers))
    write(
        workdir / "evalkit.yaml",
        f"providers:\n  judge: {{type: bedrock, model: amazon.nova-pro-v1:0, endpoint_url: '{fake_bedrock.url}'}}\n"
        f"  api: {{type: openai, base_url: '{fake_server.url}', model: good-model,"
        " pricing: {input_per_mtok: 1.0, output_per_mtok: 2.0}}\n"
        "variants:\n  gpt: {provider: api}\n",
    )
    result = cli("run", "suites/qa.yaml", "--out", "out", "--no-baseline")
    assert result.exit_code == 0, result.output
    judge_cost = float(
        genai_prices.calc_price(
            genai_prices.Usage(input_tokens=150, output_tokens=20), "amazon.nova-pro-v1:0", provider_id="aws"
        ).total_price
    )
    lines = [json.loads(x) for x in (workdir / "out" / "results.jsonl").read_text().splitlines()]
    assert len(lines) == len(QA) and len(fake_bedrock.seen) == len(QA)
    for line in lines:
        judge = line["judges"]["correct"]
        assert (judge["provider"], judge["model"], judge["calls"]) == ("judge", "amazon.nova-pro-v1:0", 1)
        assert judge["cost_usd"] == pytest.approx(judge_cost) and judge_cost > 0
        assert line["scores"]["correct"]["passed"] is True
    assert_no_aws_secret(result.output, folders=(workdir / "out",))
