"""Reference-overlap metrics from the reference libraries: sacrebleu (BLEU, chrF), rouge-score.

Per-case values are exactly what those libraries return for the same strings; BLEU and chrF
keep sacrebleu's 0–100 scale, ROUGE is the F-measure in 0–1.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from evalkit.plugins import corpus_metric, scorer
from evalkit.scorers.base import Scorer
from evalkit.types import Score, ScoreInput


def reference_streams(refs: Sequence[Sequence[str]]) -> list[list[str | None]]:
    """sacrebleu's corpus layout: one stream per reference slot, None where a case has fewer."""
    width = max((len(r) for r in refs), default=0)
    return [[r[k] if k < len(r) else None for r in refs] for k in range(width)]


class _Sacre(Scorer):
    def __init__(self, name: str, sentence_metric: Any):
        self.names = (name,)
        self.sentence_metric = sentence_metric

    def score_one(self, item: ScoreInput) -> list[Score]:
        result = self.sentence_metric.sentence_score(item.output, list(item.references))
        return [Score(name=self.names[0], value=float(result.score))]


def bleu_metric(
    tokenize: str | None = None, lowercase: bool = False, smooth_method: str = "exp", *, corpus: bool
) -> Any:
    """sacrebleu's BLEU as evalkit uses it: effective order per sentence, plain at corpus level."""
    from sacrebleu.metrics.bleu import BLEU

    return BLEU(
        tokenize=tokenize, lowercase=lowercase, smooth_method=smooth_method, effective_order=not corpus
    )


def chrf_metric(char_order: int = 6, word_order: int = 0, beta: int = 2, lowercase: bool = False) -> Any:
    from sacrebleu.metrics.chrf import CHRF

    return CHRF(char_order=char_order, word_order=word_order, beta=beta, lowercase=lowercase)


@scorer(
    "bleu",
    needs_reference=True,
    corpus="bleu",
    value_range=(0.0, 100.0),  # sacrebleu's scale
    description="sacrebleu BLEU (sentence-level per case, corpus-level in the summary)",
)
def bleu(tokenize: str | None = None, lowercase: bool = False, smooth_method: str = "exp") -> Scorer:
    return _Sacre("bleu", bleu_metric(tokenize, lowercase, smooth_method, corpus=False))


@scorer(
    "chrf",
    needs_reference=True,
    corpus="chrf",
    value_range=(0.0, 100.0),
    description="sacrebleu chrF (word_order=2 gives chrF++)",
)
def chrf(char_order: int = 6, word_order: int = 0, beta: int = 2, lowercase: bool = False) -> Scorer:
    return _Sacre("chrf", chrf_metric(char_order, word_order, beta, lowercase))


class CorpusStats:
    """A corpus BLEU/chrF computed as sacrebleu computes it: segment statistics summed over the
    corpus, then one score. Fed case by case; only a small chunk is held at a time."""

    CHUNK = 256

    def __init__(self, metric: Any):
        self.metric = metric
        self.totals: list[int] | None = None
        self._hyps: list[str] = []
        self._refs: list[tuple[str, ...]] = []

    def add(self, output: str, references: Sequence[str]) -> None:
        self._hyps.append(output)
        self._refs.append(tuple(references))
        if len(self._hyps) >= self.CHUNK:
            self._flush()

    def _flush(self) -> None:
        if not self._hyps:
            return
        stats = self.metric._extract_corpus_statistics(self._hyps, reference_streams(self._refs))
        for row in stats:
            self.totals = (
                list(row) if self.totals is None else [a + b for a, b in zip(self.totals, row, strict=True)]
            )
        self._hyps, self._refs = [], []
        _clear_tokenizer_caches(self.metric)

    def score(self) -> float | None:
        """The corpus score (None for an empty corpus)."""
        self._flush()
        if self.totals is None:
            return None
        return float(self.metric._compute_score_from_stats(self.totals).score)


def _clear_tokenizer_caches(metric: Any) -> None:
    """sacrebleu's tokenizers keep an lru_cache of 65,536 lines each: over a large corpus that
    is memory for nothing, since each segment is tokenised once here."""
    tokenizer = getattr(metric, "tokenizer", None)
    for obj in (tokenizer, *vars(tokenizer).values()) if tokenizer is not None else ():
        call = next((k.__dict__["__call__"] for k in type(obj).__mro__ if "__call__" in k.__dict__), None)
        clear = getattr(call, "cache_clear", None)
        if clear is not None:
            clear()


_SCORER_OPTIONS = {
    "bleu": ("tokenize", "lowercase", "smooth_method"),
    "chrf": ("char_order", "word_order", "beta", "lowercase"),
}


def corpus_stats(kind: str, options: Mapping[str, Any]) -> CorpusStats:
    """An empty corpus accumulator for a `bleu` or `chrf` scorer configured with `options`."""
    opts = {k: v for k, v in options.items() if k in _SCORER_OPTIONS[kind]}
    metric = bleu_metric(**opts, corpus=True) if kind == "bleu" else chrf_metric(**opts)
    return CorpusStats(metric)


@corpus_metric("bleu")
def bleu_corpus(options: Mapping[str, Any]) -> CorpusStats:
    """Corpus BLEU from summed sacrebleu segment statistics."""
    return corpus_stats("bleu", options)


@corpus_metric("chrf")
def chrf_corpus(options: Mapping[str, Any]) -> CorpusStats:
    """Corpus chrF from summed sacrebleu segment statistics."""
    return corpus_stats("chrf", options)


RougeType = Literal["rouge1", "rouge2", "rougeL", "rougeLsum"]


class _Rouge(Scorer):
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


@scorer(
    "rouge",
    needs_reference=True,
    value_range=(0.0, 1.0),
    description="rouge-score ROUGE F-measure (rouge1, rouge2, rougeL)",
)
def rouge(
    types: list[RougeType] | None = None,
    use_stemmer: bool = False,
    engine: Literal["auto", "python", "rust"] = "auto",
) -> Scorer:
    chosen = types or ["rouge1", "rouge2", "rougeL"]
    if len(set(chosen)) != len(chosen):
        raise ValueError("rouge types must be distinct")
    return _Rouge(chosen, use_stemmer, engine)
