"""BLEU, chrF and ROUGE values must equal what sacrebleu and rouge-score return."""

from __future__ import annotations

import pytest
import sacrebleu
from rouge_score import rouge_scorer

from evalkit.scorers.base import build_scorer
from evalkit.scorers.overlap import CorpusStats, bleu, chrf, corpus_stats, rouge
from evalkit.spec.suite import ScorerSpec
from evalkit.types import ScoreInput

PAIRS = [
    ("The cat sat on the mat.", ("The cat is sitting on the mat.",)),
    ("Paris is the capital of France", ("The capital of France is Paris.", "Paris.")),
    ("completely unrelated words here", ("The quick brown fox jumps over the lazy dog.",)),
    ("", ("Something.",)),
    ("Le chat est noir.", ("Le chat est noir.",)),
    ("running runners ran quickly", ("The runner runs quick",)),
]
ITEMS = [ScoreInput(output=o, references=r, vars={}, case_id=str(i)) for i, (o, r) in enumerate(PAIRS)]


def test_sentence_bleu_equals_sacrebleu() -> None:
    values = [row[0].value for row in bleu().score(ITEMS)]
    assert values == [sacrebleu.sentence_bleu(o, list(r)).score for o, r in PAIRS]


def corpus_of(kind: str, items: list[ScoreInput], **options: object) -> float | None:
    stats = corpus_stats(kind, options)
    for i in items:
        stats.add(i.output, i.references)
    return stats.score()


def test_corpus_bleu_equals_sacrebleu() -> None:
    corpus = corpus_of("bleu", ITEMS)
    streams = [[r[k] if k < len(r) else None for _, r in PAIRS] for k in range(2)]
    assert corpus == sacrebleu.corpus_bleu([o for o, _ in PAIRS], streams).score


@pytest.mark.parametrize("kind", ["bleu", "chrf"])
def test_streamed_corpus_statistics_equal_sacrebleu_over_many_chunks(
    kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Summing segment statistics chunk by chunk gives sacrebleu's own corpus score exactly,
    with options (lowercase, tokenizer, chrF++) passed through as the scorer has them."""
    monkeypatch.setattr(CorpusStats, "CHUNK", 4)
    items = [
        ScoreInput(output=f"{o} {n}", references=tuple(f"{r} {n % 3}" for r in refs), vars={}, case_id=f"{n}")
        for n in range(37)
        for o, refs in [PAIRS[n % len(PAIRS)]]
    ]
    hyps = [i.output for i in items]
    streams = [[i.references[k] if k < len(i.references) else None for i in items] for k in range(2)]
    if kind == "bleu":
        expected = sacrebleu.corpus_bleu(hyps, streams, lowercase=True, tokenize="char").score
        got = corpus_of("bleu", items, lowercase=True, tokenize="char", threshold=None)
    else:
        expected = sacrebleu.corpus_chrf(hyps, streams, word_order=2).score
        got = corpus_of("chrf", items, word_order=2)
    assert got == expected and got is not None and 0 < got < 100
    assert corpus_of(kind, []) is None


def test_chrf_equals_sacrebleu_sentence_and_corpus() -> None:
    scorer = chrf()
    assert [row[0].value for row in scorer.score(ITEMS)] == [
        sacrebleu.sentence_chrf(o, list(r)).score for o, r in PAIRS
    ]
    single = [i for i in ITEMS if len(i.references) == 1]
    assert (
        corpus_of("chrf", single)
        == sacrebleu.corpus_chrf([i.output for i in single], [[i.references[0] for i in single]]).score
    )
    plus = chrf(word_order=2).score(ITEMS[:1])[0][0].value
    assert plus == sacrebleu.sentence_chrf(PAIRS[0][0], list(PAIRS[0][1]), word_order=2).score


@pytest.mark.parametrize("stem", [False, True])
def test_rouge_equals_rouge_score(stem: bool) -> None:
    types = ["rouge1", "rouge2", "rougeL", "rougeLsum"]
    ref_impl = rouge_scorer.RougeScorer(types, use_stemmer=stem)
    rows = rouge(types=types, use_stemmer=stem).score(ITEMS)  # type: ignore[arg-type]
    for row, (out, refs) in zip(rows, PAIRS, strict=True):
        expected = ref_impl.score(refs[0], out) if len(refs) == 1 else ref_impl.score_multi(list(refs), out)
        assert {s.name: s.value for s in row} == {t: expected[t].fmeasure for t in types}


@pytest.mark.parametrize("stem", [False, True])
def test_rust_engine_equals_rouge_score_on_a_corpus(stem: bool) -> None:
    pytest.importorskip("rouge_score_rs")
    import random

    random.seed(stem)
    words = [
        "the",
        "cat",
        "sat",
        "on",
        "a",
        "mat",
        "dog",
        "ran",
        "fast",
        "blue",
        "sky",
        "paris",
        "capital",
        "running",
        "runners",
        "quickly",
    ]
    corpus = [
        ScoreInput(
            output=" ".join(random.choices(words, k=random.randint(1, 25))),
            references=(" ".join(random.choices(words, k=random.randint(1, 25))),),
            vars={},
            case_id=str(i),
        )
        for i in range(500)
    ]
    types = ["rouge1", "rouge2", "rougeL", "rougeLsum"]
    rust = rouge(types=types, use_stemmer=stem, engine="rust")  # type: ignore[arg-type]
    python = rouge(types=types, use_stemmer=stem, engine="python")  # type: ignore[arg-type]
    assert rust.engine == "rust" and python.engine == "python"  # type: ignore[attr-defined]
    assert rust.score(corpus) == python.score(corpus)


def test_rouge_default_types_and_names() -> None:
    scorer = rouge()
    assert scorer.names == ("rouge1", "rouge2", "rougeL")
    info = build_scorer(ScorerSpec(type="rouge"), "here").info
    assert info.needs_reference and info.higher_is_better and info.kind == "continuous"
