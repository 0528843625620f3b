"""The scorer contract: info declared once, `name:`/`threshold:` as row transforms, one async
batch entry point (sync scorers adapted), and the MetricInfo a run stores for aggregation."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from evalkit import plugins
from evalkit.errors import UserInputError
from evalkit.scorers.base import Scorer, build_scorer, metric_infos
from evalkit.spec.suite import ScorerSpec
from evalkit.stages.scoring import score_batch
from evalkit.types import Completion, Request, Score, ScoreInput


class NoContext:
    async def complete(self, provider: str, requests: Sequence[Request]) -> list[Completion]:
        raise AssertionError("no scorer here calls a model")

    def other_output(self, item: ScoreInput, against: str) -> str | None:
        return None


def item(output: str, *refs: str, generated: bool = True, **extra: object) -> ScoreInput:
    return ScoreInput(output=output, references=refs, vars={}, case_id="c", generated=generated, **extra)  # type: ignore[arg-type]


class _Length(Scorer):
    names = ("length",)

    def score_one(self, item: ScoreInput) -> list[Score]:
        return [Score(name="length", value=float(len(item.output)))]


@plugins.scorer("test_length", higher_is_better=False, description="characters in the output")
def _length() -> Scorer:
    return _Length()


def test_info_is_declared_once_on_the_factory() -> None:
    configured = build_scorer(ScorerSpec(type="test_length", name="chars", threshold=3), "here")
    assert configured.info.type == "test_length" and configured.info.higher_is_better is False
    assert configured.info.description == "characters in the output"
    # lower is better: the threshold is a ceiling
    rows = configured.score([item("abc"), item("abcd")])
    assert [(s.name, s.value, s.passed) for row in rows for s in row] == [
        ("chars", 3.0, True),
        ("chars", 4.0, False),
    ]


def test_flags_as_class_attributes_are_refused() -> None:
    with pytest.raises(TypeError, match=r"declare needs_reference, pass_fail once in @scorer"):

        class _Old(Scorer):  # the pre-contract style, which wrappers used to drop silently
            needs_reference = True
            pass_fail = True


def test_sync_scorers_are_adapted_to_the_async_batch_entry_point() -> None:
    configured = build_scorer(ScorerSpec(type="exact", name="same"), "here")
    rows = asyncio.run(configured.ascore([item("a", "a"), item("b", "a")], NoContext()))
    assert [(s.name, s.passed) for row in rows for s in row] == [("same", True), ("same", False)]


def test_threshold_keeps_needs_output_false_so_a_failed_retrieval_scores_zero() -> None:
    """Issue 12, bug 1, at the score stage: a thresholded retrieval scorer still scores a case
    whose retrieval (and so generation) failed, as 0 and not passed."""
    configured = build_scorer(ScorerSpec(type="retrieval", k=3, metrics=["recall"], threshold=0.5), "here")
    assert configured.info.needs_output is False
    failed = item("", generated=False, retrieval_ids=(), relevant_ids=("a.md#0",))
    hit = item("ok", retrieval_ids=("a.md#0",), relevant_ids=("a.md#0",))
    rows = asyncio.run(score_batch([failed, hit], [configured], NoContext()))
    assert rows[0]["recall@3"].value == 0.0 and rows[0]["recall@3"].passed is False
    assert rows[1]["recall@3"].value == 1.0 and rows[1]["recall@3"].passed is True


def test_metric_infos_describe_every_score_for_aggregation() -> None:
    infos = {
        m.name: m
        for m in metric_infos(
            [
                ScorerSpec(type="exact", informational=True),
                ScorerSpec(type="bleu", name="b", tokenize="char", threshold=20),
                ScorerSpec(type="rouge", types=["rouge1", "rougeL"]),
                ScorerSpec(type="cosine", name="sim", threshold=0.8, agreement_threshold=0.7),
                ScorerSpec(type="judge", provider="grader", mode="pairwise", name="vs"),
                ScorerSpec(type="test_length"),
            ],
            pass_names=["b", "sim"],
        )
    }
    assert list(infos) == ["exact", "b", "rouge1", "rougeL", "sim", "vs", "vs_position_consistency", "length"]
    exact, b, sim, vs = infos["exact"], infos["b"], infos["sim"], infos["vs"]
    assert exact.kind == "pass_fail" and exact.verdict and exact.informational and not exact.counts_for_pass
    assert b.corpus == "bleu" and b.options == {"tokenize": "char"} and b.verdict and b.counts_for_pass
    assert infos["rouge1"].corpus is None and infos["rouge1"].options == {} and not infos["rouge1"].verdict
    assert sim.agreement and sim.options == {"agreement_threshold": 0.7} and sim.counts_for_pass
    assert vs.kind == "judge" and not vs.counts_for_pass and infos["length"].higher_is_better is False
    judge = build_scorer(ScorerSpec(type="judge", provider="grader", mode="pass_fail", criteria="x"), "w")
    assert judge.info.provider == "grader" and judge.info.gives_verdicts and not judge.info.deferred
    pairwise = build_scorer(ScorerSpec(type="judge", provider="grader", mode="pairwise"), "w")
    assert pairwise.info.deferred and not pairwise.info.gives_verdicts


def test_transform_errors_name_the_scorer() -> None:
    with pytest.raises(UserInputError, match=r"has no option 'informatonal'.*did you mean 'informational'"):
        build_scorer(ScorerSpec(type="exact", informatonal=True), "here")


class _Marks(Scorer):
    names = ("marks",)

    def score_one(self, item: ScoreInput) -> list[Score]:
        return [Score(name="marks", value=1.0, passed=True)]


@plugins.scorer("test_undeclared_marks")
def _undeclared() -> Scorer:
    return _Marks()


@plugins.scorer("test_declared_marks", kind="pass_fail")
def _declared() -> Scorer:
    return _Marks()


def test_a_pass_mark_must_be_declared_or_the_score_is_unmeasured() -> None:
    """A mark the scorer never declared would decide passes behind the suite's back: the
    score stage reports it as a scorer error (unmeasured) instead."""
    undeclared = build_scorer(ScorerSpec(type="test_undeclared_marks"), "here")
    declared = build_scorer(ScorerSpec(type="test_declared_marks"), "here")
    bad = asyncio.run(score_batch([item("x")], [undeclared], NoContext()))[0]["marks"]
    assert bad.value is None and "does not declare one" in (bad.reason or "")
    good = asyncio.run(score_batch([item("x")], [declared], NoContext()))[0]["marks"]
    assert good.passed is True and declared.metric_infos()[0].counts_for_pass
