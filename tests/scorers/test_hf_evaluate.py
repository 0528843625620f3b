"""The `evaluate` scorer: values equal calling `evaluate` directly on the same module and strings."""

from __future__ import annotations

from pathlib import Path

import pytest

from evalkit import plugins
from evalkit.errors import UserInputError
from evalkit.scorers.base import ConfiguredScorer, build_scorer
from evalkit.spec.suite import ScorerSpec
from evalkit.types import ScoreInput

METRICS = Path(__file__).parent / "metrics"
TOKEN_F1 = str(METRICS / "token_f1")
LENGTH = str(METRICS / "length_error")
PAIRS = [
    ("Paris is the capital", ("The capital is Paris", "Paris")),
    ("four", ("4", "four")),
    ("I am not sure.", ("William Shakespeare",)),
    ("Jupiter is the largest planet", ("Jupiter",)),
]
ITEMS = [ScoreInput(output=o, references=r, vars={}, case_id=str(i)) for i, (o, r) in enumerate(PAIRS)]


def build(**spec: object):  # type: ignore[no-untyped-def]
    return build_scorer(ScorerSpec.model_validate({"type": "evaluate", **spec}), "suite.yaml: scorers[0]")


def corpus_of(scorer: ConfiguredScorer, items: list[ScoreInput]) -> dict[str, float]:
    """The corpus figures aggregation computes from the stored outputs (via MetricInfo alone)."""
    out = {}
    for m in scorer.metric_infos():
        if m.corpus is not None:
            acc = plugins.corpus_metrics.get(m.corpus)(m.options)
            for i in items:
                acc.add(i.output, i.references)
            if (value := acc.score()) is not None:
                out[f"corpus_{m.name}"] = value
    return out


def test_values_equal_calling_evaluate_directly() -> None:
    import evaluate

    direct = evaluate.load(TOKEN_F1)
    scorer = build(path=TOKEN_F1, args={"lowercase": False})
    rows = scorer.score(ITEMS)
    for row, (out, refs) in zip(rows, PAIRS, strict=True):
        expected = direct.compute(predictions=[out], references=[list(refs)], lowercase=False)["token_f1"]
        assert [s.name for s in row] == ["token_f1"] and row[0].value == pytest.approx(expected, abs=1e-12)
    corpus = direct.compute(
        predictions=[o for o, _ in PAIRS], references=[list(r) for _, r in PAIRS], lowercase=False
    )
    assert corpus_of(scorer, ITEMS) == {"corpus_token_f1": pytest.approx(corpus["token_f1"], abs=1e-12)}
    assert {r[0].value for r in rows} != {rows[0][0].value}  # the pairs really differ


def test_keys_map_to_score_names_and_bad_keys_are_unmeasured() -> None:
    scorer = build(path=TOKEN_F1, keys={"token_f1": "f1", "best_f1": "best"})
    assert scorer.names == ("f1", "best")
    row = scorer.score(ITEMS[:1])[0]
    assert [s.name for s in row] == ["f1", "best"] and row[0].value == row[1].value is not None
    assert set(corpus_of(scorer, ITEMS)) == {"corpus_f1", "corpus_best"}
    assert corpus_of(build(path=TOKEN_F1, corpus=False), ITEMS) == {}
    listy = build(path=TOKEN_F1, keys=["per_prediction"]).score(ITEMS[:1])[0][0]
    assert listy.value is None and "per_prediction" in (listy.reason or "") and "list" in (listy.reason or "")
    missing = build(path=TOKEN_F1, keys=["nope"]).score(ITEMS[:1])[0][0]
    assert missing.value is None and "best_f1" in (missing.reason or "")  # the keys it did return
    renamed = build(path=TOKEN_F1, name="overlap")
    assert renamed.names == ("overlap",)
    with pytest.raises(UserInputError, match="renames a single key"):
        build(path=TOKEN_F1, keys=["token_f1", "best_f1"], name="x")


def test_single_reference_metric_lower_is_better_with_a_pass_mark() -> None:
    import evaluate

    direct = evaluate.load(LENGTH)
    scorer = build(path=LENGTH, higher_is_better=False, threshold=0.5)
    assert scorer.info.higher_is_better is False and scorer.metric_infos()[0].verdict
    rows = scorer.score(ITEMS)
    for row, (out, refs) in zip(rows, PAIRS, strict=True):
        expected = direct.compute(predictions=[out], references=[refs[0]])["length_error"]
        assert row[0].value == pytest.approx(expected) and row[0].passed is (expected <= 0.5)
    assert {r[0].passed for r in rows} == {True, False}


def test_hub_name_offline_and_broken_modules_are_clear_input_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(UserInputError) as hub:
        build(path="bleu")
    message = str(hub.value)
    assert "offline" in message and "evaluate-metric/bleu" in message and "path: metrics/bleu" in message
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "broken.py").write_text("import not_a_module_anywhere\n")
    with pytest.raises(UserInputError, match="cannot load evaluate metric"):
        build(path=str(broken))
