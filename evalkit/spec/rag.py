"""The `rag:` block of a variant, and the sweep that expands list values into named variants."""

from __future__ import annotations

import itertools
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

# Keys whose list values sweep: `top_k: [3, 5, 8]` makes three variants.
SWEEPABLE = ("retriever", "top_k", "chunk_size", "chunk_overlap", "hybrid_alpha", "fusion", "embedding_model")


class RagSettings(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True, allow_inf_nan=False)

    corpus: str | None = None  # folder of .txt/.md/.jsonl documents (built-in retrievers need one)
    chunk_size: int = Field(default=800, ge=50)  # characters
    chunk_overlap: int = Field(default=100, ge=0)  # characters shared by neighbouring chunks
    retriever: str = "hybrid"  # a registered retriever: bm25 | dense | hybrid (need a corpus) | a plugin's
    top_k: int = Field(default=5, ge=1)  # chunks put into the prompt
    fusion: Literal["rrf", "weighted"] = "rrf"  # how hybrid merges the BM25 and dense lists
    rrf_k: int = Field(default=60, ge=1)  # reciprocal rank fusion: 1 / (rrf_k + rank)
    hybrid_alpha: float = Field(default=0.5, ge=0, le=1)  # weighted fusion: the dense share
    candidates: int = Field(default=50, ge=1)  # depth of each list before fusion
    embedding_model: str | None = None  # sentence-transformers folder; default: packaged MiniLM
    query: str = "{{ question }}"  # jinja2 over the case's vars: what is searched for
    options: dict[str, Any] = Field(default_factory=dict)  # passed to a custom retriever

    @model_validator(mode="after")
    def _consistent(self) -> RagSettings:
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError("chunk_overlap must be smaller than chunk_size")
        return self


def expand_sweeps(variants: dict[str, Any]) -> dict[str, Any]:
    """`{name: {rag: {top_k: [3, 5]}}}` → `{name.top_k=3: …, name.top_k=5: …}` (raw config dicts)."""
    out: dict[str, Any] = {}
    for name, spec in variants.items():
        rag = spec.get("rag") if isinstance(spec, dict) else None
        swept = [k for k in SWEEPABLE if isinstance(rag, dict) and isinstance(rag.get(k), list)]
        if not swept:
            out[name] = spec
            continue
        assert isinstance(rag, dict) and isinstance(spec, dict)
        for values in itertools.product(*(rag[k] for k in swept)):
            label = ".".join(f"{k}={_label(v)}" for k, v in zip(swept, values, strict=True))
            expanded = {**spec, "rag": {**rag, **dict(zip(swept, values, strict=True))}}
            out[f"{name}.{label}"] = expanded
    return out


def _label(value: Any) -> str:
    text = str(value)
    return text.rsplit("/", 1)[-1] if "/" in text else text
