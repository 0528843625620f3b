"""Cosine values equal sentence-transformers' own on the same strings."""

from __future__ import annotations

import pytest

from evalkit.scorers.embedding import cosine, default_model_path, load_model
from evalkit.types import ScoreInput

PAIRS = [
    ("The cat sat on the mat.", ("A cat was sitting on a mat.",)),
    ("Paris is the capital of France.", ("The capital of France is Paris.", "Berlin is in Germany.")),
    ("I like trains.", ("Quantum chromodynamics describes the strong force.",)),
    ("", ("Something.",)),
]


def test_cosine_equals_sentence_transformers() -> None:
    from sentence_transformers import SentenceTransformer, util

    reference = SentenceTransformer(default_model_path())
    items = [ScoreInput(output=o, references=r, vars={}, case_id=str(i)) for i, (o, r) in enumerate(PAIRS)]
    rows = cosine().score(items)
    for row, (out, refs) in zip(rows, PAIRS, strict=True):
        expected = max(
            float(util.cos_sim(reference.encode(out), reference.encode(ref))[0][0]) for ref in refs
        )
        assert row[0].value == pytest.approx(expected, abs=1e-5)
    assert rows[0][0].value > 0.7 > rows[2][0].value  # a sanity check on meaning, too


def test_model_loads_once_and_references_are_remembered() -> None:
    scorer = cosine()
    item = ScoreInput(output="hello there", references=("hi",), vars={}, case_id="a")
    scorer.score([item])
    first = load_model.cache_info().hits
    scorer.score([item, item])
    assert load_model.cache_info().hits > first and load_model.cache_info().currsize >= 1
    assert list(scorer._reference_cache) == ["hi"]
