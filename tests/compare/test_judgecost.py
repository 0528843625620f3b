"""Judge usage is counted against the result it judges, and added to that result's cost."""

from __future__ import annotations

import pytest

from evalkit.compare.judgecost import JudgeLedger, judge_totals, judged_result, with_judges
from evalkit.spec.config import Pricing
from evalkit.types import CaseResult, Completion, GenerationParams, Request, Usage


def request(key: str, case: str = "a/b:c", variant: str = "v") -> Request:
    return Request(
        key=key, suite="s", case_id=case, variant=variant, repeat=0, messages=(), params=GenerationParams()
    )


def test_judge_requests_name_their_result() -> None:
    # case ids and judge names with the separators in them still parse
    assert judged_result(request("judge:my:judge:s/a/b:c/v/3:pass_fail#2")) == ("my:judge", "s/a/b:c/v/3")
    assert judged_result(request("s/a/b:c/v/0")) is None  # a generation, not a judge call


def test_ledger_and_cost() -> None:
    price = Pricing(input_per_mtok=2.0, output_per_mtok=10.0)
    ledger = JudgeLedger(lambda name, r: price if name == "paid" else None, lambda name, r: f"{name}-model")
    done = Completion(text="{}", usage=Usage(input_tokens=1000, output_tokens=100), model_version="m-1")
    for tag in ("ab", "ba"):
        ledger.record("paid", request(f"judge:pw:s/a/b:c/v/0:{tag}"), done)
    ledger.record("free", request("judge:q:s/a/b:c/v/0:rubric"), done)
    usage = ledger.take("s/a/b:c/v/0")
    assert usage["pw"].calls == 2 and usage["pw"].input_tokens == 2000
    assert usage["pw"].cost_usd == pytest.approx(2 * (1000 * 2 + 100 * 10) / 1e6)
    assert (
        usage["q"].cost_usd is None
        and usage["q"].model == "free-model"
        and usage["q"].model_versions == ["m-1"]
    )
    assert ledger.take("s/a/b:c/v/0") == {}

    result = CaseResult(
        suite="s",
        case_id="a/b:c",
        variant="v",
        repeat=0,
        provider="p",
        messages=[],
        output="x",
        cost_usd=0.01,
    )
    judged = with_judges(result, usage, replace=True)
    assert judged.cost_usd == pytest.approx(0.01 + 0.006)
    again = with_judges(judged, {"pw": usage["pw"]}, replace=True)  # re-scored: replaced, not added
    assert again.cost_usd == pytest.approx(0.016) and set(again.judges) == {"pw"}
    totals = judge_totals([judged, again])
    assert totals["pw"].calls == 4 and totals["pw"].cost_usd == pytest.approx(0.012)
