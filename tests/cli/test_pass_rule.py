"""Which scores decide a case's pass: `informational: true` scorers never do, and a suite's
`pass:` list names the ones that do. Pass rate, flaky cases, pass@k and JUnit follow the rule."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import QA, write
from tests.fake_openai import FakeOpenAI


class Wordy:
    """Every case's first sample is a sentence containing the answer, the second the bare answer:
    `exact` passes on one repeat of two (flaky), `contains` on both."""

    def __init__(self) -> None:
        self.seen: Counter[str] = Counter()

    def __call__(self, body: dict[str, Any]) -> str:
        prompt = body["messages"][-1]["content"]
        self.seen[prompt] += 1
        answer = QA[prompt.split(": ", 1)[1]]
        return f"The answer is {answer}." if self.seen[prompt] == 1 else answer


def suite(name: str, scorers: str, extra: str = "") -> str:
    cases = "\n".join(
        f'  - {{id: q{i}, vars: {{question: "{q}"}}, reference: "{a}"}}'
        for i, (q, a) in enumerate(QA.items())
    )
    return f'name: {name}\nprompt: "{name}: {{{{ question }}}}"\nrepeats: 2\nscorers: {scorers}\n{extra}cases:\n{cases}\n'


@pytest.fixture
def server() -> Any:
    with FakeOpenAI(responder=Wordy()) as fake:
        yield fake


def test_informational_scorers_and_pass_lists_decide_pass_rate_flakiness_and_junit(
    workdir: Path, server: FakeOpenAI, cli
) -> None:
    write(
        workdir / "evalkit.yaml", f"providers:\n  api: {{type: openai, base_url: '{server.url}', model: m}}\n"
    )
    write(workdir / "s" / "strict.yaml", suite("strict", "[exact, contains]"))
    write(workdir / "s" / "info.yaml", suite("info", "[{type: exact, informational: true}, contains]"))
    write(workdir / "s" / "listed.yaml", suite("listed", "[exact, contains]", "pass: [contains]\n"))
    result = cli("run", "s", "-o", "out")
    assert result.exit_code == 0, result.output
    groups = {g["suite"]: g for g in json.loads((workdir / "out" / "summary.json").read_text())["groups"]}
    n = len(QA)
    strict, info, listed = groups["strict"], groups["info"], groups["listed"]
    # by default every pass/fail score decides: the strict exact halves the pass rate
    assert strict["pass_rate"] == 0.5 and strict["pass_metrics"] == ["exact", "contains"]
    assert strict["consistency"]["flaky_share"] == 1.0 and strict["consistency"]["pass_hat_k"] == 0.0
    for g in (info, listed):
        assert g["pass_rate"] == 1.0 and g["passed"] == 2 * n and g["pass_metrics"] == ["contains"]
        assert g["consistency"]["flaky_cases"] == [] and g["consistency"]["pass_at_k"] == 1.0
        assert g["metrics"]["exact"]["mean"] == 0.5  # still scored and shown
    assert info["metrics"]["exact"]["informational"] and not listed["metrics"]["exact"]["informational"]
    assert "(info)" in result.output
    assert "| exact (info) |" in (workdir / "out" / "summary.md").read_text()
    assert "exact <small>(info)</small>" in (workdir / "out" / "report.html").read_text()

    junit = ET.parse(workdir / "out" / "junit.xml").getroot()
    # one test case per case; a case that fails on a suite that is not gated is reported as a
    # skipped failure (the job is green), and only where exact decides the pass
    failed_cases = Counter(
        s.get("name", "").split(" · ")[0]
        for s in junit.iter("testsuite")
        for f in s.iter("skipped")
        if f.get("type") == "case" and (f.get("message") or "").startswith("fails")
    )
    assert failed_cases == {"strict": n}
    assert {
        s.get("name", "").split(" · ")[0]: int(s.get("failures", "0")) for s in junit.iter("testsuite")
    } == {
        "strict": 0,
        "info": 0,
        "listed": 0,
    }
    lines = [json.loads(x) for x in (workdir / "out" / "results.jsonl").read_text().splitlines()]
    assert all(x["scores"]["exact"]["passed"] is not None for x in lines)  # scored everywhere

    # run.json records each score's MetricInfo, and the rule travels with the run directory:
    # re-scored from a copy, with no suite files, it gives the same figures
    records = {x["name"]: x for x in json.loads((workdir / "out" / "run.json").read_text())["suites"]}
    stored = {m["name"]: m for m in records["listed"]["metrics"]}
    assert records["listed"]["pass_scores"] == ["contains"] and records["info"]["pass_scores"] is None
    assert stored["exact"]["kind"] == "pass_fail" and not stored["exact"]["counts_for_pass"]
    assert stored["contains"]["counts_for_pass"] and not stored["contains"]["informational"]
    shutil.copytree(workdir / "out", workdir / "copy")
    shutil.rmtree(workdir / "s")
    rescored = cli("score", "copy")
    assert rescored.exit_code == 0, rescored.output
    again = {g["suite"]: g for g in json.loads((workdir / "copy" / "summary.json").read_text())["groups"]}
    assert {k: (g["pass_rate"], g["pass_metrics"]) for k, g in again.items()} == {
        k: (g["pass_rate"], g["pass_metrics"]) for k, g in groups.items()
    }


@pytest.mark.parametrize(
    ("extra", "scorers", "message"),
    [
        (
            "pass: [contain]\n",
            "[exact, contains]",
            "pass: no score named 'contain' in this suite (did you mean 'contains'?)",
        ),
        (
            "pass: [rougeL]\n",
            "[exact, {type: rouge, types: [rougeL]}]",
            "pass: 'rougeL' gives no pass/fail mark",
        ),
        ("pass: [exact]\n", "[{type: exact, informational: true}]", "pass: 'exact' is informational"),
        ("pass: []\n", "[exact]", "pass"),
    ],
)
def test_a_bad_pass_rule_is_a_usage_error_before_any_call(
    workdir: Path, server: FakeOpenAI, cli, extra: str, scorers: str, message: str
) -> None:
    write(
        workdir / "evalkit.yaml", f"providers:\n  api: {{type: openai, base_url: '{server.url}', model: m}}\n"
    )
    path = write(workdir / "bad.yaml", suite("bad", scorers, extra))
    result = cli("run", "bad.yaml", "-o", "out")
    assert result.exit_code == 2, result.output
    flat = " ".join(result.output.split())
    assert message in flat and str(path.name) in flat and "Traceback" not in result.output
    assert server.requests == []


def test_an_informational_scorer_is_compared_with_the_baseline_but_never_gated(workdir: Path, cli) -> None:
    """Every answer turns from the bare answer into a sentence: `exact` (informational) drops
    significantly, but the run is not regressed; the same drop on a deciding `exact` is."""
    wordy = {"on": False}

    def answer(body: dict[str, Any]) -> str:
        question = body["messages"][-1]["content"].split(": ", 1)[1]
        return f"The answer is {QA[question]}." if wordy["on"] else QA[question]

    cases = "\n".join(
        f'  - {{id: c{i}, vars: {{question: "{q}"}}, reference: "{a}"}}'
        for i, (q, a) in enumerate([*QA.items()] * 2)
    )
    with FakeOpenAI(responder=answer) as fake:
        write(
            workdir / "evalkit.yaml",
            f"providers:\n  api: {{type: openai, base_url: '{fake.url}', model: m}}\n",
        )
        for name, scorers in (
            ("info", "[{type: exact, informational: true}, contains]"),
            ("strict", "[exact, contains]"),
        ):
            write(
                workdir / "s" / f"{name}.yaml",
                f'name: {name}\nprompt: "{name}: {{{{ question }}}}"\nscorers: {scorers}\ncases:\n{cases}\n',
            )
        assert cli("run", "s", "-o", "a", "--no-cache").exit_code == 0
        assert cli("baseline", "save", "a").exit_code == 0
        wordy["on"] = True
        result = cli("run", "s", "-o", "b", "--no-cache")
    assert result.exit_code == 1, result.output  # the strict suite regressed
    diff = json.loads((workdir / "b" / "diff.json").read_text())
    exact = {g["suite"]: next(m for m in g["metrics"] if m["metric"] == "exact") for g in diff["groups"]}
    assert exact["strict"]["verdict"] == "regressed" and exact["strict"]["gated"]
    assert (
        exact["info"]["verdict"] == "worse" and not exact["info"]["gated"] and exact["info"]["informational"]
    )
    assert exact["info"]["pass_to_fail"] == 2 * len(QA)
    summary = json.loads((workdir / "b" / "summary.json").read_text())
    assert summary["regressions"] and all(r.startswith("strict · ") for r in summary["regressions"])
