"""Embedding cosine similarity with sentence-transformers (default: the packaged all-MiniLM-L6-v2).

The model loads once per process; outputs are encoded in batches (every batch the runner
scores at once), and each case's references are encoded once and remembered.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from evalkit._util.embedder import default_model_path, load_model
from evalkit.plugins import agreement_measure, scorer
from evalkit.scorers.base import Scorer
from evalkit.types import Score, ScoreInput


class Cosine(Scorer):
    def __init__(self, model: str | None, device: str | None, batch_size: int, agreement_threshold: float):
        self.names = ("cosine",)
        self.agreement_threshold = agreement_threshold
        self.model_path = model or default_model_path()
        self.device = device
        self.batch_size = batch_size
        self._reference_cache: dict[str, Any] = {}

    def _encode(self, texts: Sequence[str]) -> Any:
        model = load_model(self.model_path, self.device)
        return model.encode(
            list(texts), batch_size=self.batch_size, convert_to_tensor=True, show_progress_bar=False
        )

    def similarities(self, outputs: Sequence[str], references: Sequence[str]) -> list[float]:
        """Row-wise cosine of outputs[i] and references[i]: sentence_transformers.util.cos_sim's values."""
        from sentence_transformers import util

        missing = [r for r in dict.fromkeys(references) if r not in self._reference_cache]
        if missing:
            for text, vector in zip(missing, self._encode(missing), strict=True):
                self._reference_cache[text] = vector
        out_vecs = self._encode(outputs)
        return [
            float(util.cos_sim(out_vecs[i], self._reference_cache[ref])[0][0])
            for i, ref in enumerate(references)
        ]

    def agreement(self, outputs: Sequence[str]) -> float | None:
        """Share of pairs of repeated outputs whose cosine is at least `agreement_threshold`."""
        if len(outputs) < 2:
            return None
        from sentence_transformers import util

        vectors = self._encode(outputs)
        sims = util.cos_sim(vectors, vectors)
        pairs = [(i, j) for i in range(len(outputs)) for j in range(i + 1, len(outputs))]
        return sum(1 for i, j in pairs if float(sims[i][j]) >= self.agreement_threshold) / len(pairs)

    def score(self, items: Sequence[ScoreInput]) -> list[list[Score]]:
        flat_out: list[str] = []
        flat_ref: list[str] = []
        owner: list[int] = []
        for i, item in enumerate(items):
            for ref in item.references:
                flat_out.append(item.output)
                flat_ref.append(ref)
                owner.append(i)
        if not flat_out:
            return [[] for _ in items]
        sims = self.similarities(flat_out, flat_ref)
        best: dict[int, float] = {}
        for i, value in zip(owner, sims, strict=True):
            best[i] = max(best.get(i, -1.0), value)
        return [[Score(name="cosine", value=best[i])] for i in range(len(items))]

    def score_one(self, item: ScoreInput) -> list[Score]:
        return self.score([item])[0]


@scorer(
    "cosine",
    needs_reference=True,
    agreement=True,
    value_range=(-1.0, 1.0),
    description="embedding cosine similarity to the reference (sentence-transformers)",
    extra="embeddings",
    outside=("model",),
)
def cosine(
    model: str | None = None,
    device: str | None = None,
    batch_size: int = 64,
    agreement_threshold: float = 0.9,
) -> Scorer:
    return Cosine(model, device, batch_size, agreement_threshold)


@agreement_measure("cosine")
def agreement_scorer(options: Mapping[str, Any]) -> Cosine:
    """A cosine scorer configured as a suite's `cosine` options say, to measure agreement."""
    keys = ("model", "device", "batch_size", "agreement_threshold")
    return Cosine(
        **{
            "model": None,
            "device": None,
            "batch_size": 64,
            "agreement_threshold": 0.9,
            **{k: v for k, v in options.items() if k in keys},
        }
    )
