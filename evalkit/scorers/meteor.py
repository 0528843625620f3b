"""METEOR exactly as NLTK computes it (`nltk.translate.meteor_score`), with WordNet 3.0 offline.

Texts are tokenised with NLTK's `word_tokenize(text, preserve_line=True)`: the Treebank-style word
tokenizer, without the Punkt sentence splitter (which would need another data download). Several
references: NLTK's own rule, the best of them. WordNet comes from `wordnet_data` (no download).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from evalkit.errors import UserInputError
from evalkit.plugins import scorer
from evalkit.scorers.base import Scorer
from evalkit.scorers.wordnet_data import INSTALL_HINT, load_wordnet
from evalkit.types import Score, ScoreInput


def tokenizer(kind: str) -> Callable[[str], list[str]]:
    if kind == "whitespace":
        return str.split
    from nltk.tokenize import word_tokenize

    return lambda text: list(word_tokenize(text, preserve_line=True))


class Meteor(Scorer):
    def __init__(self, alpha: float, beta: float, gamma: float, tokenize: str):
        try:
            from nltk.translate.meteor_score import meteor_score
        except ImportError:
            raise UserInputError(f"the meteor scorer needs NLTK: {INSTALL_HINT}") from None
        self.names = ("meteor",)
        self.params = {"alpha": alpha, "beta": beta, "gamma": gamma}
        self.tokenize = tokenizer(tokenize)
        self.wordnet = load_wordnet()  # prepared (once) at build time: before any model call
        self._meteor = meteor_score

    def score_one(self, item: ScoreInput) -> list[Score]:
        refs = [self.tokenize(r) for r in item.references]
        value = self._meteor(refs, self.tokenize(item.output), wordnet=self.wordnet, **self.params)
        return [Score(name="meteor", value=float(value))]


@scorer(
    "meteor",
    needs_reference=True,
    description="NLTK METEOR with WordNet 3.0 synonyms, offline",
    extra="meteor",
)
def meteor(
    alpha: float = 0.9,
    beta: float = 3.0,
    gamma: float = 0.5,
    tokenize: Literal["nltk", "whitespace"] = "nltk",
) -> Scorer:
    return Meteor(alpha, beta, gamma, tokenize)
