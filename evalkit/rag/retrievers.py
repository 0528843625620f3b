"""Retrievers: BM25, dense and hybrid over the LanceDB index, and custom ones from plugins.

Every retriever is found in `evalkit.plugins.retrievers`. The built-in three are `CorpusIndex`
entries (below, declared in the `evalkit.retrievers` entry-point group like a plugin's); a
custom retriever is a `RetrieverFn` registered by an entry point or `@retriever("name")` in a
module listed under `plugins:`. It is called once per query as `fn(query, top_k, **options)`
and returns a list of dicts (or `RetrievedChunk`s) with `id`, `text` and optionally `score` and
`doc_id`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from evalkit.errors import UserInputError
from evalkit.plugins import CorpusIndex, RetrieverFn, retriever, retrievers
from evalkit.rag.index import ChunkIndex, encode, open_index
from evalkit.spec.rag import RagSettings
from evalkit.types import RetrievedChunk

__all__ = ["BM25", "DENSE", "HYBRID", "Retriever", "build_retriever", "retriever"]

BM25 = CorpusIndex("bm25", "BM25 over LanceDB's full-text index of the corpus")
DENSE = CorpusIndex("dense", "cosine over normalised MiniLM embeddings of the corpus")
HYBRID = CorpusIndex("hybrid", "BM25 and dense lists fused (reciprocal rank, or weighted scores)")


class Retriever(Protocol):
    def retrieve(self, queries: Sequence[str], top_k: int) -> list[list[RetrievedChunk]]: ...

    def describe(self) -> dict[str, Any]: ...


class IndexRetriever:
    """bm25 (LanceDB's native full-text index), dense (cosine over normalised MiniLM
    embeddings) or hybrid (both lists fused by reciprocal rank, or by weighted scores)."""

    def __init__(self, index: ChunkIndex, settings: RagSettings, mode: str | None = None):
        self.index = index
        self.settings = settings
        self.mode = mode or settings.retriever

    def describe(self) -> dict[str, Any]:
        return {"retriever": self.mode, **self.index.stats}

    def retrieve(self, queries: Sequence[str], top_k: int) -> list[list[RetrievedChunk]]:
        depth = max(top_k, self.settings.candidates) if self.mode == "hybrid" else top_k
        dense = self._dense(queries, depth) if self.mode in ("dense", "hybrid") else None
        sparse = [self._bm25(q, depth) for q in queries] if self.mode in ("bm25", "hybrid") else None
        out = []
        for i in range(len(queries)):
            if dense is not None and sparse is not None:
                ranked = self._fuse(sparse[i], dense[i])
            elif dense is not None:
                ranked = dense[i]
            else:
                assert sparse is not None
                ranked = sparse[i]
            out.append([self._chunk(cid, score) for cid, score in ranked[:top_k]])
        return out

    def _chunk(self, chunk_id: str, score: float) -> RetrievedChunk:
        c = self.index.chunks[chunk_id]
        return RetrievedChunk(id=c.id, doc_id=c.doc_id, text=c.text, score=round(float(score), 6))

    def _dense(self, queries: Sequence[str], k: int) -> list[list[tuple[str, float]]]:
        vectors = encode(self.index.model_path, list(queries))
        out = []
        for vector in vectors:
            rows = (
                self.index.table.search(vector.tolist(), vector_column_name="vector")
                .distance_type("cosine")
                .limit(k)
                .select(["id", "_distance"])
                .to_list()
            )
            out.append([(r["id"], 1.0 - float(r["_distance"])) for r in rows])
        return out

    def _bm25(self, query: str, k: int) -> list[tuple[str, float]]:
        if not query.strip():
            return []
        rows = self.index.table.search(query, query_type="fts").limit(k).select(["id", "_score"]).to_list()
        return [(r["id"], float(r["_score"])) for r in rows]

    def _fuse(
        self, sparse: list[tuple[str, float]], dense: list[tuple[str, float]]
    ) -> list[tuple[str, float]]:
        scores: dict[str, float] = {}
        if self.settings.fusion == "rrf":
            for ranked in (sparse, dense):
                for rank, (cid, _) in enumerate(ranked, start=1):
                    scores[cid] = scores.get(cid, 0.0) + 1.0 / (self.settings.rrf_k + rank)
        else:
            alpha = self.settings.hybrid_alpha
            for weight, ranked in ((1.0 - alpha, sparse), (alpha, dense)):
                for cid, value in _min_max(ranked):
                    scores[cid] = scores.get(cid, 0.0) + weight * value
        return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


def _min_max(ranked: list[tuple[str, float]]) -> list[tuple[str, float]]:
    if not ranked:
        return []
    values = [v for _, v in ranked]
    lo, hi = min(values), max(values)
    return [(cid, (v - lo) / (hi - lo) if hi > lo else 1.0) for cid, v in ranked]


class CallableRetriever:
    def __init__(self, name: str, fn: RetrieverFn, settings: RagSettings):
        self.name, self.fn, self.settings = name, fn, settings

    def describe(self) -> dict[str, Any]:
        return {"retriever": self.name, "custom": True}

    def retrieve(self, queries: Sequence[str], top_k: int) -> list[list[RetrievedChunk]]:
        out = []
        for query in queries:
            try:
                rows = self.fn(query, top_k, **self.settings.options)
            except Exception as exc:  # stops the run before any model call, naming the query
                raise UserInputError(f"retriever '{self.name}' failed on query {query!r}: {exc}") from None
            out.append([_as_chunk(self.name, row) for row in list(rows or [])[:top_k]])
        return out


def _as_chunk(name: str, row: Any) -> RetrievedChunk:
    if isinstance(row, RetrievedChunk):
        return row
    if not isinstance(row, dict) or "id" not in row or "text" not in row:
        raise UserInputError(f"retriever '{name}' must return dicts with 'id' and 'text', got {row!r:.200}")
    chunk_id = str(row["id"])
    return RetrievedChunk(
        id=chunk_id,
        doc_id=str(row.get("doc_id") or chunk_id.split("#", 1)[0]),
        text=str(row["text"]),
        score=float(row.get("score", 0.0)),
    )


def build_retriever(settings: RagSettings, resolve: Callable[[str], Path]) -> Retriever:
    """The retriever a variant's `rag:` block asks for (relative paths via `resolve`)."""
    found = retrievers.get(settings.retriever)
    if isinstance(found, CorpusIndex):
        if settings.corpus is None:
            raise UserInputError(f"retriever '{settings.retriever}' needs a 'corpus' folder")
        index = open_index(
            resolve(settings.corpus),
            settings.chunk_size,
            settings.chunk_overlap,
            str(resolve(settings.embedding_model)) if settings.embedding_model else None,
        )
        return IndexRetriever(index, settings, found.mode)
    fn = found
    if not callable(fn):
        raise UserInputError(f"retriever '{settings.retriever}' is not callable")
    return CallableRetriever(settings.retriever, fn, settings)
