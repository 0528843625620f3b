"""BERTScore computed by the `bert-score` package on the all-MiniLM-L6-v2 that evalkit ships.

It is named `bertscore_minilm` on purpose: published BERTScore numbers use other backbones
(roberta-large, layer 17) and often baseline rescaling, so these values are not comparable with
them. The settings are fixed so runs compare with each other: layer 6 of 6 (the layer the model's
sentence-similarity training shapes), no idf weighting, no rescaling, bert-score's own tokenizer
choice (`use_fast=False`). Several references: bert-score's rule, the best per measure.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import lru_cache
from typing import Any, Literal

from evalkit._util.embedder import default_model_path
from evalkit._util.heavy import IMPORT_LOCK, quiet_libraries
from evalkit._util.paths import cache_dir
from evalkit.errors import UserInputError
from evalkit.plugins import scorer
from evalkit.scorers.base import Scorer
from evalkit.types import Score, ScoreInput

LAYER = 6  # all-MiniLM-L6-v2 has 6 layers; the last one is fixed
INSTALL_HINT = "pip install 'evalkit[bertscore]'"
Measure = Literal["precision", "recall", "f1"]
ORDER: tuple[Measure, ...] = ("precision", "recall", "f1")


@lru_cache(maxsize=4)
def load_scorer(model_path: str, device: str | None) -> Any:
    """One bert_score.BERTScorer per (model, device) per process."""
    quiet_libraries()  # offline, no progress bars
    # bert-score imports matplotlib.pyplot: keep its font cache in evalkit's cache, no GUI backend
    os.environ.setdefault("MPLCONFIGDIR", str(cache_dir() / "matplotlib"))
    os.environ.setdefault("MPLBACKEND", "Agg")
    with IMPORT_LOCK:
        try:
            from bert_score import BERTScorer
        except ImportError:
            raise UserInputError(f"the bertscore_minilm scorer needs bert-score: {INSTALL_HINT}") from None
        return BERTScorer(model_type=model_path, num_layers=LAYER, device=device)


class BertScoreMiniLM(Scorer):
    def __init__(self, measures: Sequence[Measure], device: str | None, batch_size: int):
        self.measures = [m for m in ORDER if m in measures]
        self.names = tuple(f"bertscore_minilm_{m}" for m in self.measures)
        self.model_path = default_model_path()
        self.device = device
        self.batch_size = batch_size

    def score(self, items: Sequence[ScoreInput]) -> list[list[Score]]:
        # bert-score's rule for an empty candidate or reference is a raw score of 0; with
        # transformers 5 it can no longer encode "" itself, so empty texts get that 0 here.
        rows = [[0.0] * len(ORDER) for _ in items]
        todo = [(k, [r for r in i.references if r.strip()]) for k, i in enumerate(items) if i.output.strip()]
        todo = [(k, refs) for k, refs in todo if refs]
        if todo:
            bert = load_scorer(self.model_path, self.device)
            cands = [items[k].output for k, _ in todo]
            p, r, f = bert.score(cands, [refs for _, refs in todo], batch_size=self.batch_size)
            for j, (k, refs) in enumerate(todo):
                values = [float(p[j]), float(r[j]), float(f[j])]
                dropped = len(refs) < len(items[k].references)  # an empty reference scored 0
                rows[k] = [max(v, 0.0) for v in values] if dropped else values
        index = {m: ORDER.index(m) for m in self.measures}
        return [
            [Score(name=n, value=row[index[m]]) for n, m in zip(self.names, self.measures, strict=True)]
            for row in rows
        ]

    def score_one(self, item: ScoreInput) -> list[Score]:
        return self.score([item])[0]


@scorer(
    "bertscore_minilm",
    needs_reference=True,
    description="BERTScore (bert-score) on all-MiniLM-L6-v2, layer 6: not comparable with published ones",
    extra="bertscore",
)
def bertscore_minilm(
    measures: list[Measure] | None = None, device: str | None = None, batch_size: int = 64
) -> Scorer:
    chosen = measures or ["f1"]
    if len(set(chosen)) != len(chosen):
        raise ValueError("measures must be distinct")
    return BertScoreMiniLM(chosen, device, batch_size)
