"""Retrieval metrics against gold ids, with binary relevance.

A gold id names a document ("guide.md") or one chunk ("guide.md#1200"); a retrieved chunk
matches a gold id when it is that chunk or comes from that document. Each gold id counts
once: a second chunk of an already-found document is neither a new hit nor new gain.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def _matches(chunk_id: str, gold: str) -> bool:
    return chunk_id == gold or chunk_id.split("#", 1)[0] == gold


def first_hits(retrieved: Sequence[str], relevant: Sequence[str], k: int) -> list[int]:
    """1-based ranks (within the top k) at which a not-yet-found gold id is first matched."""
    found: set[str] = set()
    ranks = []
    for rank, chunk_id in enumerate(retrieved[:k], start=1):
        new = [g for g in relevant if g not in found and _matches(chunk_id, g)]
        if new:
            found.update(new)
            ranks.append(rank)
    return ranks


def hit_at_k(retrieved: Sequence[str], relevant: Sequence[str], k: int) -> float:
    return 1.0 if first_hits(retrieved, relevant, k) else 0.0


def recall_at_k(retrieved: Sequence[str], relevant: Sequence[str], k: int) -> float:
    gold = set(relevant)
    found = {g for g in gold for c in retrieved[:k] if _matches(c, g)}
    return len(found) / len(gold)


def mrr(retrieved: Sequence[str], relevant: Sequence[str], k: int | None = None) -> float:
    ranks = first_hits(retrieved, relevant, len(retrieved) if k is None else k)
    return 1.0 / ranks[0] if ranks else 0.0


def ndcg_at_k(retrieved: Sequence[str], relevant: Sequence[str], k: int) -> float:
    gold = set(relevant)
    dcg = 0.0
    found: set[str] = set()
    for rank, chunk_id in enumerate(retrieved[:k], start=1):
        new = {g for g in gold - found if _matches(chunk_id, g)}
        if new:
            found |= new
            dcg += 1.0 / math.log2(rank + 1)
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, min(len(gold), k) + 1))
    return dcg / ideal
