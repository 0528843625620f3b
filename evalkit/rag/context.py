"""What a RAG prompt template gets from the retrieved chunks: `documents` (a list) and `context`
(the chunks as `[rank] (doc id) text` blocks), and the placeholder the plan renders before retrieval."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from evalkit.types import RetrievedChunk

RAG_PLACEHOLDER: dict[str, Any] = {"context": "{context}", "documents": []}


def rag_variables(chunks: Sequence[RetrievedChunk]) -> dict[str, Any]:
    """What a RAG prompt template gets: `documents` (a list) and `context` (them, as text)."""
    documents = [
        {"rank": i, "id": c.id, "doc_id": c.doc_id, "text": c.text, "score": c.score}
        for i, c in enumerate(chunks, start=1)
    ]
    context = "\n\n".join(f"[{d['rank']}] ({d['doc_id']}) {d['text']}" for d in documents)
    return {"documents": documents, "context": context}
