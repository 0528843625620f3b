"""The record of one retrieved chunk, as requests carry it and result lines log it."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class RetrievedChunk(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str  # stable chunk id: "<doc id>#<character offset>"
    doc_id: str
    text: str
    score: float  # the retriever's own score (BM25, cosine, or fused)
