"""Reference-overlap metrics from the reference libraries: sacrebleu (BLEU, chrF), rouge-score.

Per-case values are exactly what those libraries return for the same strings; BLEU and chrF
keep sacrebleu's 0–100 scale, ROUGE is the F-measure in 0–1.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from evalkit.registry import scorer
from evalkit.scorers.base import Scorer
from evalkit.types import Score, ScoreInput


def _reference_streams(items: Sequence[ScoreInput]) -> list[list[str | None]]:
    """sacrebleu's corpus layout: one stream per reference slot, None where a case has fewer."""
    width = max((len(i.references) for i in items), default=0)
    return [[i.references[k] if k < len(i.references) else None for i in items] for k in range(width)]


class _Sacre(Scorer):
    value_range = (0.0, 100.0)  # sacrebleu's scale
    needs_reference = True

    def __init__(self, name: str, sentence_metric: Any, corpus_metric: Any):
        self.names = (name,)
        self.sentence_metric = sentence_metric
        self.corpus_metric = corpus_metric

    def score_one(self, item: ScoreInput) -> list[Score]:
        result = self.sentence_metric.sentence_score(item.output, list(item.references))
        return [Score(name=self.names[0], value=float(result.score))]

    def corpus(self, items: Sequence[ScoreInput]) -> dict[str, float]:
        if not items:
            return {}
        hyps = [i.output for i in items]
        result = self.corpus_metric.corpus_score(hyps, _reference_streams(items))
        return {f"corpus_{self.names[0]}": float(result.score)}


@scorer("bleu", description="sacrebleu BLEU (sentence-level per case, corpus-level in the summary)")
def bleu(tokenize: str | None = None, lowercase: bool = False, smooth_method: str = "exp") -> Scorer:
    from sacrebleu.metrics.bleu import BLEU

    sentence = BLEU(tokenize=tokenize, lowercase=lowercase, smooth_method=smooth_method, effective_order=True)
    corpus = BLEU(tokenize=tokenize, lowercase=lowercase, smooth_method=smooth_method)
    return _Sacre("bleu", sentence, corpus)


@scorer("chrf", description="sacrebleu chrF (word_order=2 gives chrF++)")
def chrf(char_order: int = 6, word_order: int = 0, beta: int = 2, lowercase: bool = False) -> Scorer:
    from sacrebleu.metrics.chrf import CHRF

    metric = CHRF(char_order=char_order, word_order=word_order, beta=beta, lowercase=lowercase)
    return _Sacre("chrf", metric, metric)


RougeType = Literal["rouge1", "rouge2", "rougeL", "rougeLsum"]


class _Rouge(Scorer):
    value_range = (0.0, 1.0)
    needs_reference = True

    def __init__(self, types: Sequence[str], use_stemmer: bool, engine: str):
        self.names = tuple(types)
        self.engine = "python"
        module: Any = None
        if engine in ("auto", "rust"):
            try:  # an independent Rust implementation with scores identical to rouge-score's
                import rouge_score_rs.rouge_scorer

                module = rouge_score_rs.rouge_scorer
                self.engine = "rust"
            except ImportError:
                if engine == "rust":
                    raise ValueError(
                        "engine 'rust' needs rouge-score-rs: pip install 'evalkit[fast]'"
                    ) from None
        if module is None:
            import rouge_score.rouge_scorer

            module = rouge_score.rouge_scorer
        self.impl = module.RougeScorer(list(types), use_stemmer=use_stemmer)

    def score_one(self, item: ScoreInput) -> list[Score]:
        refs = list(item.references)
        result = (
            self.impl.score(refs[0], item.output)
            if len(refs) == 1
            else self.impl.score_multi(refs, item.output)
        )
        return [Score(name=t, value=float(result[t].fmeasure)) for t in self.names]


@scorer("rouge", description="rouge-score ROUGE F-measure (rouge1, rouge2, rougeL)")
def rouge(
    types: list[RougeType] | None = None,
    use_stemmer: bool = False,
    engine: Literal["auto", "python", "rust"] = "auto",
) -> Scorer:
    chosen = types or ["rouge1", "rouge2", "rougeL"]
    if len(set(chosen)) != len(chosen):
        raise ValueError("rouge types must be distinct")
    return _Rouge(chosen, use_stemmer, engine)
