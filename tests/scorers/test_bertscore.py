"""bertscore_minilm equals calling bert-score directly with the same model, layer and settings."""

from __future__ import annotations

import pytest

from evalkit.scorers.bertscore import LAYER, bertscore_minilm
from evalkit.scorers.embedding import default_model_path
from evalkit.types import ScoreInput

PAIRS = [
    ("The cat sat on the mat.", ("A cat was sitting on the mat.",)),
    ("Paris is the capital of France.", ("Berlin is in Germany.", "The capital of France is Paris.")),
    ("I like trains.", ("Quantum chromodynamics describes the strong force.",)),
    ("Jupiter", ("Jupiter is the largest planet.",)),
]


@pytest.mark.slow
def test_values_equal_bert_score_with_the_same_settings() -> None:
    from bert_score import BERTScorer

    direct = BERTScorer(model_type=default_model_path(), num_layers=LAYER)
    p, r, f = direct.score([o for o, _ in PAIRS], [list(refs) for _, refs in PAIRS])
    scorer = bertscore_minilm(measures=["precision", "recall", "f1"])
    assert scorer.names == ("bertscore_minilm_precision", "bertscore_minilm_recall", "bertscore_minilm_f1")
    items = [
        ScoreInput(output=o, references=refs, vars={}, case_id=str(i)) for i, (o, refs) in enumerate(PAIRS)
    ]
    rows = scorer.score(items)
    for k, row in enumerate(rows):
        assert [s.value for s in row] == pytest.approx([float(p[k]), float(r[k]), float(f[k])], abs=1e-6)
    assert rows[0][2].value > rows[2][2].value  # meaning, too: a paraphrase beats an unrelated pair
    # one reference at a time: the multi-reference row is the best of the single ones (bert-score's rule)
    singles = [float(direct.score([PAIRS[1][0]], [ref])[2][0]) for ref in PAIRS[1][1]]
    assert rows[1][2].value == pytest.approx(max(singles), abs=1e-6)


@pytest.mark.slow
def test_default_is_f1_and_empty_texts_score_zero() -> None:
    scorer = bertscore_minilm()
    assert scorer.names == ("bertscore_minilm_f1",)
    items = [
        ScoreInput(output="", references=("Something.",), vars={}, case_id="a"),
        ScoreInput(output="  ", references=("Something.",), vars={}, case_id="b"),
    ]
    assert [row[0].value for row in scorer.score(items)] == [0.0, 0.0]  # bert-score's rule for empty text
