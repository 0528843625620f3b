"""Repeats are real samples; consistency, pass@k, pass^k and flaky cases are reported."""

from __future__ import annotations

import json
from collections import Counter
from math import comb
from pathlib import Path
from typing import Any

import pytest

from evalkit.compare import consistency
from evalkit.compare.aggregate import pass_at_k, pass_hat_k, summarize_group
from evalkit.types import MetricInfo
from tests.compare.conftest import repeated, scored
from tests.conftest import write
from tests.fake_openai import FakeOpenAI


def test_pass_at_k_and_pass_hat_k_by_hand() -> None:
    assert pass_at_k(5, 2, 1) == pytest.approx(2 / 5)
    assert pass_at_k(5, 2, 3) == pytest.approx(1 - comb(3, 3) / comb(5, 3))  # 1 - 1/10
    assert pass_at_k(5, 0, 3) == 0.0 and pass_at_k(5, 3, 3) == 1.0
    assert pass_hat_k(5, 2, 2) == pytest.approx(comb(2, 2) / comb(5, 2))  # 1/10
    assert pass_hat_k(3, 3, 3) == 1.0 and pass_hat_k(3, 2, 3) == 0.0


class Wobbly:
    """q0 always right, q1 right on its 2nd sample only, q2 never right, q3 right except the 1st."""

    def __init__(self) -> None:
        self.seen: Counter[str] = Counter()

    def __call__(self, body: dict[str, Any]) -> str:
        q = body["messages"][-1]["content"]
        self.seen[q] += 1
        k = self.seen[q]
        i = int(q[-1])
        right = {0: True, 1: k == 2, 2: False, 3: k != 1}[i]
        unrelated = [
            "bananas are yellow",
            "the stock market fell sharply today",
            "I enjoy hiking in the mountains",
        ]
        return f"answer {i}" if right else (unrelated[k - 1] if i == 2 else f"wrong {i} #{k}")


def test_repeats_flaky_cases_and_semantic_agreement(workdir: Path, cli) -> None:
    wobbly = Wobbly()
    with FakeOpenAI(responder=wobbly) as server:
        cases = "\n".join(f"  - {{id: q{i}, vars: {{n: {i}}}, reference: 'answer {i}'}}" for i in range(4))
        write(
            workdir / "s.yaml",
            f'name: rep\nprompt: "question {{{{ n }}}}"\nrepeats: 3\nscorers: [exact, cosine]\ncases:\n{cases}\n',
        )
        write(
            workdir / "evalkit.yaml",
            f"providers:\n  api: {{type: openai, base_url: '{server.url}', model: m, concurrency: 1}}\n",
        )
        result = cli("run", "s.yaml", "-o", "out")
        assert result.exit_code == 0, result.output
        assert len(server.requests) == 12 and set(wobbly.seen.values()) == {3}  # 3 real samples per case
        again = cli(
            "run", "s.yaml", "-o", "out2"
        )  # the cache is keyed by repeat: 3 distinct answers come back
        assert again.exit_code == 0 and len(server.requests) == 12
    lines = [json.loads(x) for x in (workdir / "out2" / "results.jsonl").read_text().splitlines()]
    assert len({x["output"] for x in lines if x["case_id"] == "q2"}) == 3 and all(x["cached"] for x in lines)
    cons = json.loads((workdir / "out" / "summary.json").read_text())["groups"][0]["consistency"]
    assert cons["k"] == 3 and sorted(cons["flaky_cases"]) == ["q1", "q3"] and cons["flaky_share"] == 0.5
    per = {c["case_id"]: c for c in cons["cases"]}
    assert [per[f"q{i}"]["passes"] for i in range(4)] == [3, 1, 0, 2]
    assert per["q0"]["exact_agreement"] == 1.0 and per["q2"]["exact_agreement"] == pytest.approx(1 / 3)
    assert per["q3"]["pass_at_k"] == 1.0 and per["q3"]["pass_hat_k"] == 0.0
    assert cons["pass_at_1"] == pytest.approx((3 + 1 + 0 + 2) / 12)
    assert cons["pass_at_k"] == pytest.approx(3 / 4) and cons["pass_hat_k"] == pytest.approx(1 / 4)
    assert per["q0"]["semantic_agreement"] == 1.0  # identical outputs
    assert per["q2"]["semantic_agreement"] is not None and per["q2"]["semantic_agreement"] < 1.0
    assert "flaky cases" in result.output


def test_a_renamed_thresholded_cosine_keeps_semantic_agreement(workdir: Path, cli) -> None:
    """Issue 12, bug 2: a cosine scorer with both `name:` and `threshold:` lost its semantic
    agreement (the consistency code unwrapped one wrapper only)."""
    wobbly = Wobbly()
    with FakeOpenAI(responder=wobbly) as server:
        cases = "\n".join(f"  - {{id: q{i}, vars: {{n: {i}}}, reference: 'answer {i}'}}" for i in (0, 2))
        scorers = "[{type: cosine, name: similar, threshold: 0.8}]"
        write(
            workdir / "s.yaml",
            f'name: rep\nprompt: "question {{{{ n }}}}"\nrepeats: 3\nscorers: {scorers}\ncases:\n{cases}\n',
        )
        write(
            workdir / "evalkit.yaml",
            f"providers:\n  api: {{type: openai, base_url: '{server.url}', model: m}}\n",
        )
        result = cli("run", "s.yaml", "-o", "out")
        assert result.exit_code == 0, result.output
    group = json.loads((workdir / "out" / "summary.json").read_text())["groups"][0]
    per = {c["case_id"]: c for c in group["consistency"]["cases"]}
    assert per["q0"]["semantic_agreement"] == 1.0  # three identical outputs
    assert per["q2"]["semantic_agreement"] is not None and per["q2"]["semantic_agreement"] < 1.0
    assert group["consistency"]["semantic_agreement"] is not None
    assert group["metrics"]["similar"]["pass_rate"] is not None  # the threshold marked each case


def test_case_tallies_spilled_to_disk_give_the_same_figures(monkeypatch: pytest.MonkeyPatch) -> None:
    results = repeated(40)
    infos = [MetricInfo(name="exact", scorer="exact", verdict=True, counts_for_pass=True)]
    held = summarize_group(results, infos, {})
    monkeypatch.setattr(consistency, "SPILL_AT", 5)
    spilled = summarize_group(results, infos, {})
    assert held.consistency is not None and held.cases == 40
    assert spilled.model_dump() == held.model_dump()
    assert held.consistency.flaky_cases and len(held.consistency.cases) == 39


def test_one_sample_per_case_has_no_consistency_held_or_spilled(monkeypatch: pytest.MonkeyPatch) -> None:
    results = [scored("v", i, 1.0, passed=True) for i in range(30)]
    infos = [MetricInfo(name="exact", scorer="exact", verdict=True, counts_for_pass=True)]
    monkeypatch.setattr(consistency, "SPILL_AT", 4)
    group = summarize_group(results, infos, {})
    assert group.consistency is None and group.cases == 30


@pytest.mark.parametrize("keep_outputs", [False, True])
def test_spilled_tallies_come_back_as_they_were_held(
    monkeypatch: pytest.MonkeyPatch, keep_outputs: bool
) -> None:
    """Every kind of tally survives the scratch file: one output, differing outputs, outputs
    kept (semantic agreement), a case with no sample (only an error), repeats split by a spill."""

    def fill(tallies: consistency.CaseTallies) -> list[tuple[str, int, int, int, object, object]]:
        for i in range(12):
            case = tallies.touch(f"c{i % 7}")
            if i % 7 != 3:  # c3: errors only, no sample
                case.add(f"out {i % 7 if i % 2 else i}", None if i % 5 == 0 else i % 3 == 0)
        got = [(k, t.samples, t.judged, t.passes, t.digests, t.outputs) for k, t in tallies.items()]
        return [*got, ("cases", tallies.cases, 0, 0, tallies.samples_range(), None)]

    held = fill(consistency.CaseTallies(keep_outputs))
    monkeypatch.setattr(consistency, "SPILL_AT", 2)
    assert fill(consistency.CaseTallies(keep_outputs)) == held
    assert held[-1][1] == 7 and held[-1][4] == (1, 2)
