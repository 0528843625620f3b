"""The retrieve stage: each RAG variant's chunks for every case, retrieved once, before any
model call, and what a RAG prompt template gets from them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from evalkit.config import LoadedConfig, Variant
from evalkit.errors import UserInputError
from evalkit.suite import Suite
from evalkit.templating import TemplateError, compile_template, render, uses_variables
from evalkit.types import (
    RetrievedChunk,
)

if TYPE_CHECKING:
    from evalkit.rag.retrievers import Retriever


def build_retriever_for(loaded: LoadedConfig, variant: Variant) -> Retriever:
    from evalkit.rag.retrievers import build_retriever

    assert variant.rag is not None
    try:
        return build_retriever(variant.rag, loaded.resolve)
    except UserInputError as exc:
        raise UserInputError(f"variants.{variant.name}.rag: {exc}", path=loaded.path) from None


def retrieve_for_variant(
    suite: Suite, variant: Variant, retriever: Retriever, variant_prompt: str | None
) -> dict[str, tuple[str, list[RetrievedChunk]]]:
    """Each case's chunks for a RAG variant, retrieved once for all its repeats."""
    assert variant.rag is not None
    sources = suite.templates_for(suite.cases[0], variant, variant_prompt) if suite.cases else []
    if sources and not any(uses_variables(src, ("context", "documents")) for src in sources):
        raise UserInputError(
            f"variant '{variant.name}' retrieves context, but the prompt of suite '{suite.name}' uses "
            "neither {{ context }} nor {{ documents }}: give the variant a `prompt:` template that does",
            path=suite.source_path,
        )
    try:
        query_template = compile_template(variant.rag.query)
    except TemplateError as exc:
        raise UserInputError(f"variants.{variant.name}.rag.query: {exc}") from None
    queries = []
    for case in suite.cases:
        try:
            queries.append(render(query_template, case.vars))
        except TemplateError as exc:
            raise UserInputError(
                f"case '{case.id}' ({case.origin}), variant '{variant.name}': rag.query: {exc}"
            ) from None
    found = retriever.retrieve(queries, variant.rag.top_k)
    return {case.id: (query, chunks) for case, query, chunks in zip(suite.cases, queries, found, strict=True)}


RAG_PLACEHOLDER: dict[str, Any] = {"context": "{context}", "documents": []}


def rag_variables(chunks: Sequence[RetrievedChunk]) -> dict[str, Any]:
    """What a RAG prompt template gets: `documents` (a list) and `context` (them, as text)."""
    documents = [
        {"rank": i, "id": c.id, "doc_id": c.doc_id, "text": c.text, "score": c.score}
        for i, c in enumerate(chunks, start=1)
    ]
    context = "\n\n".join(f"[{d['rank']}] ({d['doc_id']}) {d['text']}" for d in documents)
    return {"documents": documents, "context": context}
