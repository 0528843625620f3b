"""`evalkit run` end to end through the CLI against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sacrebleu
from rouge_score import rouge_scorer

from tests.conftest import QA, qa_suite_yaml, two_variant_config, write
from tests.fake_openai import FakeOpenAI


def read_lines(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "results.jsonl").read_text().splitlines()]


def test_two_variants_end_to_end(workdir: Path, fake_server: FakeOpenAI, cli) -> None:
    write(workdir / "suites" / "qa.yaml", qa_suite_yaml(extra="thresholds:\n  exact: {min: 0.8}\n"))
    write(workdir / "evalkit.yaml", two_variant_config(fake_server.url))
    result = cli("run", "suites/qa.yaml", "--out", "out")
    # the bad variant misses the exact-match threshold: exit 1, not a crash
    assert result.exit_code == 1, result.output
    run_dir = workdir / "out"
    lines = read_lines(run_dir)
    assert len(lines) == 2 * len(QA)
    assert {(line["variant"], line["case_id"]) for line in lines} == {
        (v, f"q{i}") for v in ("good", "bad") for i in range(len(QA))
    }
    # every request reached the server, with each variant's model and params
    assert len(fake_server.requests) == 2 * len(QA)
    models = sorted({r["model"] for r in fake_server.requests})
    assert models == ["bad-model", "good-model"]
    good_req = next(r for r in fake_server.requests if r["model"] == "good-model")
    assert good_req["temperature"] == 0 and good_req["max_tokens"] == 32
    bad_req = next(r for r in fake_server.requests if r["model"] == "bad-model")
    assert bad_req["max_tokens"] == 16  # the suite's params apply where the variant sets none

    good = [line for line in lines if line["variant"] == "good"]
    for line in good:
        assert line["output"] == line["references"][0]
        assert line["scores"]["exact"] == {"value": 1.0, "passed": True, "reason": None}
        assert line["finish_reason"] == "stop"
        assert line["model_version"] == "good-model-2026-01-01 (fp_fake)"
        assert line["latency_ms"] > 0
        assert line["usage"]["input_tokens"] > 0
        expected_cost = (line["usage"]["input_tokens"] * 1.0 + line["usage"]["output_tokens"] * 2.0) / 1e6
        assert line["cost_usd"] == pytest.approx(expected_cost)
        assert line["messages"][-1]["role"] == "user"
    bad = [line for line in lines if line["variant"] == "bad"]
    assert all(line["scores"]["exact"]["passed"] is False for line in bad)

    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "failed" and summary["exit_code"] == 1
    groups = {g["variant"]: g for g in summary["groups"]}
    assert groups["good"]["metrics"]["exact"]["mean"] == 1.0
    assert groups["good"]["pass_rate"] == 1.0
    assert groups["bad"]["metrics"]["exact"]["mean"] == 0.0
    assert [t["passed"] for t in groups["good"]["thresholds"]] == [True]
    assert [t["passed"] for t in groups["bad"]["thresholds"]] == [False]
    assert groups["good"]["cost_usd"] == pytest.approx(sum(line["cost_usd"] for line in good))
    # corpus BLEU in the summary equals sacrebleu's own corpus figure
    hyps = [line["output"] for line in sorted(bad, key=lambda x: x["case_id"])]
    refs = [[line["references"][0] for line in sorted(bad, key=lambda x: x["case_id"])]]
    assert groups["bad"]["corpus"]["corpus_bleu"] == pytest.approx(sacrebleu.corpus_bleu(hyps, refs).score)

    info = json.loads((run_dir / "run.json").read_text())
    assert info["config"]["providers"]["api"]["base_url"] == fake_server.url
    assert info["suites"][0]["cases"] == len(QA)
    assert "FAILED" in result.output and "exact" in result.output


def test_variant_filter_passes(workdir: Path, fake_server: FakeOpenAI, cli) -> None:
    write(workdir / "suites" / "qa.yaml", qa_suite_yaml(extra="thresholds:\n  exact: {min: 0.8}\n"))
    write(workdir / "evalkit.yaml", two_variant_config(fake_server.url))
    result = cli("run", "suites/", "--variant", "good")
    assert result.exit_code == 0, result.output
    run_dirs = [p for p in (workdir / "reports").iterdir() if p.is_dir()]
    assert len(run_dirs) == 1
    assert {line["variant"] for line in read_lines(run_dirs[0])} == {"good"}
    assert {r["model"] for r in fake_server.requests} == {"good-model"}


def test_overlap_scores_equal_reference_libraries(workdir: Path, fake_server: FakeOpenAI, cli) -> None:
    write(workdir / "suites" / "qa.yaml", qa_suite_yaml())
    write(workdir / "evalkit.yaml", two_variant_config(fake_server.url))
    # echo answers give partial overlap with the references: non-trivial values
    write(
        workdir / "suites" / "qa.yaml",
        qa_suite_yaml().replace('reference: "Paris"', 'reference: "The capital of France is Paris"'),
    )
    assert cli("run", "suites/qa.yaml", "-v", "bad", "-v", "good", "-o", "out").exit_code == 0
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"])
    for line in read_lines(workdir / "out"):
        hyp, ref = line["output"], line["references"][0]
        assert line["scores"]["bleu"]["value"] == pytest.approx(
            sacrebleu.sentence_bleu(hyp, [ref]).score, abs=1e-12
        )
        assert line["scores"]["chrf"]["value"] == pytest.approx(
            sacrebleu.sentence_chrf(hyp, [ref]).score, abs=1e-12
        )
        expected = scorer.score(ref, hyp)
        for kind in ("rouge1", "rouge2", "rougeL"):
            assert line["scores"][kind]["value"] == pytest.approx(expected[kind].fmeasure, abs=1e-12)


def test_repeats_are_distinct_requests(workdir: Path, fake_server: FakeOpenAI, cli) -> None:
    write(workdir / "suites" / "qa.yaml", qa_suite_yaml(scorers="[exact]"))
    write(workdir / "evalkit.yaml", two_variant_config(fake_server.url))
    result = cli("run", "suites/qa.yaml", "-v", "good", "--repeats", "3", "-o", "out")
    assert result.exit_code == 0, result.output
    lines = read_lines(workdir / "out")
    assert len(lines) == 3 * len(QA) == len(fake_server.requests)
    assert sorted({line["repeat"] for line in lines}) == [0, 1, 2]


def test_errors_over_budget_exit_3(workdir: Path, fake_server: FakeOpenAI, cli) -> None:
    from tests.fake_openai import Fault

    write(workdir / "suites" / "qa.yaml", qa_suite_yaml(scorers="[exact]"))
    write(workdir / "evalkit.yaml", two_variant_config(fake_server.url, extra_provider="max_attempts: 2"))
    # two cases fail permanently (400 is not retried): 2/6 errors > the 10% default budget
    fake_server.add_fault(Fault(status=400, match="capital"), times=1)
    fake_server.add_fault(Fault(status=400, match="Hamlet"), times=1)
    result = cli("run", "suites/qa.yaml", "-v", "good", "-o", "out")
    assert result.exit_code == 3, result.output
    lines = read_lines(workdir / "out")
    errors = [line for line in lines if line["error"]]
    assert len(lines) == len(QA) and len(errors) == 2
    assert all(line["output"] is None and line["scores"]["exact"]["value"] is None for line in errors)
    summary = json.loads((workdir / "out" / "summary.json").read_text())
    assert summary["status"] == "errors"
    # unmeasured scores are not averaged in as zeros
    assert summary["groups"][0]["metrics"]["exact"]["mean"] == 1.0
    assert summary["groups"][0]["metrics"]["exact"]["unmeasured"] == 2


def test_with_no_suite_anywhere_run_uses_the_bundled_smoke_suite(workdir: Path, cli) -> None:
    """Issue 24: a pip user's first `evalkit run` in an empty folder runs the smoke suite that
    ships inside the package (here on a scripted model; the default is the embedded one)."""
    write(workdir / "evalkit.yaml", "providers:\n  local: {type: scripted, default: Paris}\n")
    result = cli("run", "-o", "out", "--no-baseline")
    assert result.exit_code == 1, result.output  # "Paris" is not the answer to every question
    info = json.loads((workdir / "out" / "run.json").read_text())
    assert [s["name"] for s in info["suites"]] == ["smoke"] and info["suites"][0]["cases"] == 12
    assert not (workdir / "suites").exists()


def test_unmeasured_scores_count_against_a_budget(workdir: Path, fake_server: FakeOpenAI, cli) -> None:
    """A scorer that cannot measure (here: a case lacks the var it reads) leaves the score
    unmeasured: never a 0, never a pass, and above max_unmeasured_rate the run exits 3."""
    text = qa_suite_yaml(scorers="[exact, {type: contains, var: answer}]")
    text = text.replace(
        'vars: {question: "What is the capital of France?"}',
        'vars: {question: "What is the capital of France?", answer: Paris}',
    )
    write(workdir / "suites" / "qa.yaml", text)
    write(workdir / "evalkit.yaml", two_variant_config(fake_server.url))
    result = cli("run", "suites/qa.yaml", "-v", "good", "-o", "out")
    assert result.exit_code == 3, result.output
    summary = json.loads((workdir / "out" / "summary.json").read_text())
    contains = summary["groups"][0]["metrics"]["contains"]
    assert contains["n"] == 1 and contains["mean"] == 1.0 and contains["scorer_unmeasured"] == len(QA) - 1
    assert "max_unmeasured_rate" in summary["error_budget"] and summary["status"] == "errors"
    line = next(x for x in read_lines(workdir / "out") if x["case_id"] == "q1")
    assert (
        line["scores"]["contains"]["value"] is None
        and "scorer error: KeyError" in line["scores"]["contains"]["reason"]
    )
    assert line["scores"]["exact"]["passed"] is True  # the other scorer was unaffected


def test_streaming_provider_reports_time_to_first_token(workdir: Path, cli) -> None:
    with FakeOpenAI(token_delay_s=0.02) as server:
        write(workdir / "suites" / "qa.yaml", qa_suite_yaml(scorers="[exact]"))
        write(
            workdir / "evalkit.yaml",
            f"providers:\n  api: {{type: openai, base_url: '{server.url}', model: m, stream: true}}\n",
        )
        result = cli("run", "suites/qa.yaml", "-o", "out")
    assert result.exit_code == 0, result.output  # no threshold set: the echo answers do not fail the run
    latency = json.loads((workdir / "out" / "summary.json").read_text())["groups"][0]["latency"]
    assert latency["ttft_p50_ms"] is not None and latency["ttft_p50_ms"] < latency["p50_ms"]
    assert all(x["ttft_ms"] is not None for x in read_lines(workdir / "out"))
    assert "first token" in result.output
