"""METEOR, an `evaluate` metric module and BERTScore through the CLI, the gate and the reports,
against the fake OpenAI server: they behave like every other score."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write
from tests.fake_openai import FakeOpenAI

N = 16
METRICS = Path(__file__).resolve().parent.parent / "scorers" / "metrics"
ANSWERS = [f"The physician examined patient number {i} carefully this morning" for i in range(N)]
WRONG = "I do not know."
SCORERS = (
    "[meteor, {type: evaluate, path: metrics/token_f1, threshold: 0.5}, "
    "{type: bertscore_minilm, measures: [f1]}]"
)


class Behaviour:
    def __init__(self) -> None:
        self.wrong: set[int] = set()

    def __call__(self, body: dict[str, Any]) -> str:
        i = int(body["messages"][-1]["content"].split()[-1].rstrip("?"))
        return WRONG if i in self.wrong else ANSWERS[i].replace("physician", "doctor")


@pytest.fixture
def env(workdir: Path) -> Any:
    behaviour = Behaviour()
    server = FakeOpenAI(responder=behaviour).start()
    shutil.copytree(METRICS / "token_f1", workdir / "suites" / "metrics" / "token_f1")
    cases = "\n".join(f"  - {{id: q{i}, vars: {{n: {i}}}, reference: '{a}'}}" for i, a in enumerate(ANSWERS))
    write(
        workdir / "suites" / "m.yaml",
        f'name: m\nprompt: "Report on patient {{{{ n }}}}"\nscorers: {SCORERS}\n'
        f"thresholds: {{meteor: {{min: 0.5}}, corpus_token_f1: {{min: 0.5}}}}\ncases:\n{cases}\n",
    )
    write(
        workdir / "evalkit.yaml",
        f"providers:\n  api: {{type: openai, base_url: '{server.url}', model: m}}\ncache: {{enabled: false}}\n",
    )
    yield behaviour, server
    server.stop()


@pytest.mark.slow
def test_new_scores_in_results_summary_gate_and_reports(workdir: Path, env: Any, cli) -> None:
    behaviour, _ = env
    listed = cli("list", "scorers")
    flat = " ".join(listed.output.split())
    assert listed.exit_code == 0
    for name, extra in [("meteor", "meteor"), ("evaluate", "evaluate"), ("bertscore_minilm", "bertscore")]:
        assert name in flat and f"evalkit[{extra}]" in flat

    first = cli("run", "suites/m.yaml", "-o", "runs/a")
    assert first.exit_code == 0, first.output
    row = json.loads((workdir / "runs" / "a" / "results.jsonl").read_text().splitlines()[0])
    assert {"meteor", "token_f1", "bertscore_minilm_f1"} <= set(row["scores"])
    assert row["scores"]["token_f1"]["passed"] is True  # the pass mark
    summary = json.loads((workdir / "runs" / "a" / "summary.json").read_text())
    group = summary["groups"][0]
    assert {"meteor", "token_f1", "bertscore_minilm_f1"} <= set(group["metrics"])
    assert group["corpus"]["corpus_token_f1"] > 0.5 and group["metrics"]["meteor"]["mean"] > 0.5
    assert cli("baseline", "save", "runs/a").exit_code == 0
    rescored = cli("score", "runs/a", "suites/m.yaml")  # the same values (the suite names a module)
    assert rescored.exit_code == 0, rescored.output
    again = json.loads((workdir / "runs" / "a" / "results.jsonl").read_text().splitlines()[0])
    assert again["case_id"] == row["case_id"] and set(again["scores"]) == set(row["scores"])
    for name, score in row["scores"].items():  # batches may differ: BERT padding moves the last bits
        assert again["scores"][name]["value"] == pytest.approx(score["value"], abs=1e-6)

    behaviour.wrong = set(range(0, N, 2))  # half the answers go wrong
    bad = cli("run", "suites/m.yaml", "-o", "runs/b")
    assert bad.exit_code == 1, bad.output
    diff = json.loads((workdir / "runs" / "b" / "diff.json").read_text())["groups"][0]
    verdicts = {m["metric"]: m["verdict"] for m in diff["metrics"]}
    assert {verdicts[n] for n in ("meteor", "token_f1", "bertscore_minilm_f1")} == {"regressed"}
    checks = json.loads((workdir / "runs" / "b" / "summary.json").read_text())["groups"][0]
    failed = {c["metric"] for c in checks["thresholds"] if not c["passed"]}
    assert {"meteor", "corpus_token_f1"} <= failed
    md = (workdir / "runs" / "b" / "summary.md").read_text()
    assert "`meteor`" in md and "`bertscore_minilm_f1`" in md and "`token_f1`" in md
    names = [
        tc.get("name") for tc in ET.parse(workdir / "runs" / "b" / "junit.xml").getroot().iter("testcase")
    ]
    assert "gate meteor vs baseline" in names and "gate bertscore_minilm_f1 vs baseline" in names
    html = (workdir / "runs" / "b" / "report.html").read_text()
    assert "bertscore_minilm_f1" in html and "meteor" in html and "token_f1" in html


def test_an_offline_hub_metric_fails_before_any_model_call(workdir: Path, env: Any, cli) -> None:
    _, server = env
    text = (workdir / "suites" / "m.yaml").read_text().replace(SCORERS, "[{type: evaluate, path: bleu}]")
    write(workdir / "suites" / "m.yaml", text.replace("corpus_token_f1", "corpus_bleu"))
    result = cli("run", "suites/m.yaml", "-o", "runs/a")
    out = " ".join(result.output.split())
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "suites/m.yaml" in out and "offline" in out and "path: metrics/bleu" in out
    assert server.requests == []
