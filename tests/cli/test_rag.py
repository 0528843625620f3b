"""RAG variants through the CLI: the bundled suite on the embedded models, sweeps, custom
retrievers, retrieval failures, and the judge's grounding checks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write
from tests.fake_openai import FakeOpenAI

ROOT = Path(__file__).resolve().parents[2]


def results(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run_dir / "results.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_bundled_rag_suite_end_to_end_on_the_embedded_models(workdir: Path, cli) -> None:
    config = ROOT / "suites" / "rag" / "evalkit.yaml"
    result = cli("run", "--config", str(config), "--variant", "hybrid", "-o", "out", "--no-baseline")
    assert result.exit_code == 0, result.output
    assert "recall@5" in result.output and "retrieval failures" in result.output
    rows = results(workdir / "out")
    assert len(rows) == 34 and {r["variant"] for r in rows} == {"hybrid"}
    for row in rows:
        assert row["error"] is None and row["output"].strip()
        assert len(row["retrieval_ids"]) == 5 and all("#" in i for i in row["retrieval_ids"])
        assert [c["id"] for c in row["retrieval"]] == row["retrieval_ids"]
        assert row["retrieval_query"] and row["retrieval_query"] in row["messages"][-1]["content"]
        first = row["retrieval"][0]
        assert (
            f"({first['doc_id']}) {first['text']}" in row["messages"][-1]["content"]
        )  # rendered into the prompt
        assert set(row["scores"]) >= {"hit@5", "recall@5", "mrr", "ndcg@5", "contains"}
    summary = json.loads((workdir / "out" / "summary.json").read_text())
    (group,) = summary["groups"]
    assert group["retrieval_failures"] == 0
    assert group["metrics"]["recall@5"]["mean"] >= 0.7 and group["metrics"]["contains"]["mean"] > 0.3
    info = json.loads((workdir / "out" / "run.json").read_text())
    assert info["plan"]["rag"]["hybrid"]["retriever"] == "hybrid"
    assert info["plan"]["rag"]["hybrid"]["documents"] == 36


def answer_from_context(
    messages: list[dict[str, Any]], params: dict[str, Any], options: dict[str, Any]
) -> str:
    """A stand-in model that quotes the first retrieved chunk (so tests need no weights)."""
    prompt = messages[-1]["content"]
    return prompt.split("[1] ", 1)[1].split("\n", 1)[0][:80] if "[1] " in prompt else "no context"


SMALL_SUITE = """
name: kb
prompt: "Context: {{ context }} Question: {{ question }}"
scorers:
  - {type: retrieval, k: 3}
cases:
  - {id: e4471, vars: {question: "What does E-4471 mean?"}, relevant_ids: [error-codes.md]}
  - {id: okta, vars: {question: "Does it work with Okta?"}, relevant_ids: [sso.md]}
  - {id: nothing, vars: {question: "zzzqqq"}, relevant_ids: [roles.md]}
"""


def small_config(retriever: str, extra: str = "") -> str:
    corpus = ROOT / "suites" / "rag" / "corpus"
    return f"""
{extra}
providers:
  stub: {{type: python, callable: "tests.cli.test_rag:answer_from_context"}}
variants:
  kb:
    provider: stub
    rag: {{corpus: "{corpus}", retriever: {retriever}, top_k: [1, 3], chunk_size: 400, chunk_overlap: 50}}
"""


def test_a_swept_top_k_makes_named_variants(workdir: Path, cli) -> None:
    write(workdir / "evalkit.yaml", small_config("dense"))
    write(workdir / "kb.yaml", SMALL_SUITE)
    result = cli("run", "kb.yaml", "-o", "out", "--no-baseline")
    assert result.exit_code == 0, result.output
    rows = results(workdir / "out")
    by = {(r["variant"], r["case_id"]): r for r in rows}
    assert {r["variant"] for r in rows} == {"kb.top_k=1", "kb.top_k=3"}
    assert len(by[("kb.top_k=1", "e4471")]["retrieval_ids"]) == 1
    assert len(by[("kb.top_k=3", "e4471")]["retrieval_ids"]) == 3
    assert by[("kb.top_k=3", "e4471")]["retrieval_ids"][0].startswith("error-codes.md#")
    assert by[("kb.top_k=3", "e4471")]["scores"]["hit@3"]["value"] == 1.0
    assert by[("kb.top_k=1", "e4471")]["output"].startswith("(error-codes.md)")


def test_an_empty_retrieval_is_a_counted_failure_and_no_model_call(workdir: Path, cli) -> None:
    write(workdir / "evalkit.yaml", small_config("bm25", "run: {max_error_rate: 0.5}"))
    write(workdir / "kb.yaml", SMALL_SUITE)
    result = cli("run", "kb.yaml", "-o", "out", "--no-baseline")
    assert result.exit_code == 0, result.output
    rows = {(r["variant"], r["case_id"]): r for r in results(workdir / "out")}
    failed = rows[("kb.top_k=3", "nothing")]
    assert failed["retrieval_ids"] == [] and failed["error"].startswith("retrieval failure")
    assert failed["output"] is None and failed["usage"]["output_tokens"] is None  # the model was never asked
    assert failed["scores"]["recall@3"]["value"] == 0.0  # a failed retrieval scores 0, not unmeasured
    summary = json.loads((workdir / "out" / "summary.json").read_text())
    assert [g["retrieval_failures"] for g in summary["groups"]] == [1, 1]
    assert [g["errors"] for g in summary["groups"]] == [1, 1]

    # the same failures against the default error budget (10%): the run fails, like on errors
    write(workdir / "evalkit.yaml", small_config("bm25"))
    strict = cli("run", "kb.yaml", "-o", "out2", "--no-baseline")
    assert strict.exit_code == 3 and "ERRORS" in strict.output


def test_a_rag_variant_whose_prompt_ignores_the_context_is_refused(workdir: Path, cli) -> None:
    write(workdir / "evalkit.yaml", small_config("dense"))
    write(workdir / "kb.yaml", SMALL_SUITE.replace("Context: {{ context }} ", ""))
    result = cli("run", "kb.yaml", "-o", "out", "--no-baseline")
    assert result.exit_code == 2 and "neither {{ context }} nor {{ documents }}" in result.output
    assert not (workdir / "out").exists()


def test_rag_config_errors_are_clear(workdir: Path, cli) -> None:
    write(workdir / "kb.yaml", SMALL_SUITE)
    write(
        workdir / "evalkit.yaml",
        "providers: {stub: {type: python, callable: 'tests.cli.test_rag:answer_from_context'}}\n"
        "variants:\n  kb: {provider: stub, rag: {corpus: nowhere, retriever: bm25, top_k: 3, chunk_sise: 100}}\n",
    )
    result = cli("run", "kb.yaml", "--no-baseline")
    assert result.exit_code == 2 and "chunk_sise" in result.output and "chunk_size" in result.output
    write(
        workdir / "evalkit.yaml",
        "providers: {stub: {type: python, callable: 'tests.cli.test_rag:answer_from_context'}}\n"
        "variants:\n  kb: {provider: stub, rag: {corpus: nowhere, retriever: bm25}}\n",
    )
    result = cli("run", "kb.yaml", "--no-baseline")
    assert result.exit_code == 2 and "nowhere" in result.output and "not a folder" in result.output
    assert "Traceback" not in result.output


class GroundingJudge:
    def __call__(self, body: dict[str, Any]) -> str:
        text = body["messages"][-1]["content"]
        if body["model"] != "judge":
            return "E-4471 means the quota is exhausted. It was added in 2019."
        if "hallucination" in text:
            assert "[1] E-4471" in text or "E-4471" in text.split("CONTEXT:")[1]  # the judge sees the context
            return json.dumps(
                {
                    "claims": [
                        {"claim": "E-4471 means the quota is exhausted", "supported": True},
                        {"claim": "it was added in 2019", "supported": False},
                    ]
                }
            )
        return '{"reasoning": "on point", "score": 4}'


def test_faithfulness_and_relevance_judges(workdir: Path, cli) -> None:
    server = FakeOpenAI(responder=GroundingJudge()).start()
    try:
        corpus = ROOT / "suites" / "rag" / "corpus"
        write(
            workdir / "evalkit.yaml",
            f"""
            providers:
              api: {{type: openai, base_url: "{server.url}", model: m}}
              grader: {{type: openai, base_url: "{server.url}", model: judge}}
            variants:
              rag: {{provider: api, rag: {{corpus: "{corpus}", retriever: bm25, top_k: 2}}}}
              plain: {{provider: api, prompt: plain.j2}}
            """,
        )
        write(workdir / "plain.j2", "{{ question }}")
        write(
            workdir / "kb.yaml",
            """
            name: kb
            prompt: "{{ context }}\\n\\n{{ question }}"
            scorers:
              - {type: judge, provider: grader, mode: faithfulness}
              - {type: judge, provider: grader, mode: context_relevance}
              - {type: judge, provider: grader, mode: answer_relevance}
            cases:
              - {id: e4471, vars: {question: "What does E-4471 mean?"}}
            """,
        )
        result = cli("run", "kb.yaml", "-o", "out", "--no-baseline")
        assert result.exit_code == 0, result.output
        rows = {r["variant"]: r for r in results(workdir / "out")}
        rag = rows["rag"]["scores"]
        assert rag["faithfulness"]["value"] == pytest.approx(0.5)
        assert "unsupported: it was added in 2019" in rag["faithfulness"]["reason"]
        assert rag["context_relevance"]["value"] == pytest.approx(0.75)  # 4 on 1-5
        assert rag["answer_relevance"]["value"] == pytest.approx(0.75)
        assert rows["plain"]["scores"] == {}  # nothing retrieved: grounding is not judged at all
    finally:
        server.stop()


def test_changing_top_k_is_gated_case_by_case_not_called_a_changed_input(workdir: Path, cli) -> None:
    """The retrieved context is the variant's doing: a baseline at top_k 3 and a candidate at
    top_k 1 still pair every case, and the drop in recall@3 is a real regression."""
    corpus = ROOT / "suites" / "rag" / "corpus"
    suite = SMALL_SUITE.replace(
        '  - {id: nothing, vars: {question: "zzzqqq"}, relevant_ids: [roles.md]}',
        "".join(
            f'  - {{id: q{i}, vars: {{question: "{q}"}}, relevant_ids: [{d}, {e}]}}\n'
            for i, (q, d, e) in enumerate(
                [
                    ("Which plans include SSO and what does Team cost?", "sso.md", "pricing.md"),
                    ("What error during the maintenance window?", "status-page.md", "error-codes.md"),
                    ("Audit entries vs event logs retention?", "audit-log.md", "data-retention.md"),
                    ("Refund for a used credit pack?", "credit-packs.md", "refunds.md"),
                    ("Lost hardware key and backup codes?", "security-keys.md", "two-factor.md"),
                    ("Writes pile up: default flush interval?", "engine-tuning.md", "config-reference.md"),
                ]
            )
        ),
    )
    write(workdir / "kb.yaml", suite)

    def config(top_k: int) -> str:
        return (
            "providers: {stub: {type: python, callable: 'tests.cli.test_rag:answer_from_context'}}\n"
            f"variants:\n  kb: {{provider: stub, rag: {{corpus: '{corpus}', retriever: hybrid, top_k: {top_k}}}}}\n"
        )

    write(workdir / "evalkit.yaml", config(3))
    assert cli("run", "kb.yaml", "-o", "base", "--no-baseline").exit_code == 0
    assert cli("baseline", "save", "base", "--to", "baselines").exit_code == 0
    write(workdir / "evalkit.yaml", config(1))
    result = cli("run", "kb.yaml", "-o", "cand", "--baseline", "baselines")
    diff = json.loads((workdir / "cand" / "diff.json").read_text())
    (group,) = diff["groups"]
    assert group["changed_input"] == [] and group["paired"] == 8
    recall = next(m for m in group["metrics"] if m["metric"] == "recall@3")
    assert recall["baseline"] > recall["candidate"] and recall["n_paired"] == 8
    assert recall["verdict"] == "regressed" and result.exit_code == 1, result.output


@pytest.mark.slow
def test_the_report_shows_what_was_retrieved(workdir: Path, cli) -> None:
    from tests.helpers.browser import CHROMIUM, browser

    sync_api = browser()
    write(workdir / "evalkit.yaml", small_config("bm25", "run: {max_error_rate: 0.5}"))
    write(workdir / "kb.yaml", SMALL_SUITE)
    assert cli("run", "kb.yaml", "-o", "out", "--no-baseline").exit_code == 0
    with sync_api.sync_playwright() as p:
        chrome = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = chrome.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto((workdir / "out" / "report.html").as_uri())
        page.wait_for_selector("body[data-ready='1']", timeout=10_000)
        page.fill("#f-text", "E-4471")
        page.select_option("#f-variant", "kb.top_k=3")
        page.click("#case-table tbody tr.case")
        detail = page.inner_text("tr.detail")
        assert "retrieved for “What does E-4471 mean?”" in detail
        assert page.locator("tr.detail ol.retrieved li").count() == 3
        assert "error-codes.md#0" in detail and "E-4471: the workspace quota is exhausted" in detail
        page.fill("#f-text", "zzzqqq")
        page.click("#case-table tbody tr.case")
        assert "nothing (retrieval failure)" in page.inner_text("tr.detail")
        chrome.close()
    assert errors == []


def test_list_retrievers(workdir: Path, cli) -> None:
    result = cli("list", "retrievers")
    assert result.exit_code == 0
    assert all(name in result.output for name in ("bm25", "dense", "hybrid"))
    assert "no custom retrievers registered" in result.output


def test_a_broken_query_template_is_a_usage_error(workdir: Path, cli) -> None:
    corpus = ROOT / "suites" / "rag" / "corpus"
    write(workdir / "kb.yaml", SMALL_SUITE)
    write(
        workdir / "evalkit.yaml",
        "providers: {stub: {type: python, callable: 'tests.cli.test_rag:answer_from_context'}}\n"
        f"variants:\n  kb: {{provider: stub, rag: {{corpus: '{corpus}', retriever: bm25, query: '{{{{ question '}}}}\n",
    )
    result = cli("run", "kb.yaml", "--no-baseline")
    assert (
        result.exit_code == 2
        and "variants.kb.rag.query" in result.output
        and "Traceback" not in result.output
    )
    write(
        workdir / "evalkit.yaml",
        "providers: {stub: {type: python, callable: 'tests.cli.test_rag:answer_from_context'}}\n"
        f"variants:\n  kb: {{provider: stub, rag: {{corpus: '{corpus}', retriever: bm25, query: '{{{{ topic }}}}'}}}}\n",
    )
    result = cli("run", "kb.yaml", "--no-baseline")
    assert result.exit_code == 2 and "case 'e4471'" in result.output and "topic" in result.output


def test_a_thresholded_retrieval_scorer_still_scores_a_failed_retrieval_zero(workdir: Path, cli) -> None:
    """Issue 12, bug 1: `threshold:` used to wrap the retrieval scorer and drop its
    needs_output=False, so a failed retrieval became unmeasured and recall was inflated."""
    write(workdir / "evalkit.yaml", small_config("bm25", "run: {max_error_rate: 0.5}"))
    write(
        workdir / "kb.yaml",
        SMALL_SUITE.replace("{type: retrieval, k: 3}", "{type: retrieval, k: 3, threshold: 0.5}"),
    )
    result = cli("run", "kb.yaml", "-o", "out", "--no-baseline")
    assert result.exit_code == 0, result.output
    rows = {(r["variant"], r["case_id"]): r for r in results(workdir / "out")}
    failed = rows[("kb.top_k=3", "nothing")]["scores"]["recall@3"]
    assert failed["value"] == 0.0 and failed["passed"] is False
    group = json.loads((workdir / "out" / "summary.json").read_text())["groups"][1]
    recall = group["metrics"]["recall@3"]
    values = [rows[("kb.top_k=3", c)]["scores"]["recall@3"]["value"] for c in ("e4471", "okta", "nothing")]
    assert recall["n"] == 3 and recall["unmeasured"] == 0 and recall["mean"] == pytest.approx(sum(values) / 3)
