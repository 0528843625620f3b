"""Retrieval quality of RAG variants against each case's gold `relevant_ids`.

Scores hit@k, recall@k, MRR and nDCG@k (binary relevance; see evalkit.scorers.retrieval_metrics). A case
without gold ids, or a variant that does not retrieve, gets no retrieval scores at all (they
would not mean anything), rather than unmeasured ones.
"""

from __future__ import annotations

from collections.abc import Sequence

from evalkit.plugins import scorer
from evalkit.scorers import retrieval_metrics as metrics
from evalkit.scorers.base import Scorer
from evalkit.types import Score, ScoreInput

METRICS = ("hit", "recall", "mrr", "ndcg")


class Retrieval(Scorer):
    def __init__(self, k: int, which: Sequence[str]):
        self.k = k
        self.which = tuple(which)
        self.names = tuple(self._name(m) for m in self.which)

    def _name(self, metric: str) -> str:
        return "mrr" if metric == "mrr" else f"{metric}@{self.k}"

    def score_one(self, item: ScoreInput) -> list[Score]:
        if item.retrieval_ids is None or not item.relevant_ids:
            return []
        got, gold, k = list(item.retrieval_ids), list(item.relevant_ids), self.k
        values = {
            "hit": metrics.hit_at_k(got, gold, k),
            "recall": metrics.recall_at_k(got, gold, k),
            "mrr": metrics.mrr(got, gold, k),
            "ndcg": metrics.ndcg_at_k(got, gold, k),
        }
        return [Score(name=self._name(m), value=values[m]) for m in self.which]


# needs_output=False: a failed retrieval scores 0, whether or not the model then answered
@scorer(
    "retrieval",
    needs_output=False,
    value_range=(0.0, 1.0),
    description="RAG retrieval vs gold relevant_ids: hit@k, recall@k, MRR, nDCG@k",
)
def retrieval(k: int = 5, metrics: list[str] | None = None) -> Scorer:
    which = list(metrics or METRICS)
    unknown = [m for m in which if m not in METRICS]
    if unknown:
        raise ValueError(f"unknown retrieval metric(s) {unknown}: choose from {list(METRICS)}")
    if k < 1:
        raise ValueError("k must be at least 1")
    return Retrieval(k, which)
