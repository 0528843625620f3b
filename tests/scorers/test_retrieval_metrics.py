"""Retrieval metrics against values worked out by hand (binary relevance, gold ids counted once)."""

from __future__ import annotations

import math

import pytest

from evalkit.scorers.retrieval_metrics import hit_at_k, mrr, ndcg_at_k, recall_at_k

# gold: a whole document, one chunk of another, and a document never retrieved
GOLD = ["a.md", "c.md#0", "x.md"]
RETRIEVED = ["a.md#0", "b.md#0", "a.md#100", "c.md#0", "d.md#0"]


def test_hit_and_recall_at_k() -> None:
    assert hit_at_k(RETRIEVED, GOLD, 1) == 1.0
    assert hit_at_k(["b.md#0", "c.md#7"], GOLD, 2) == 0.0  # c.md#7 is not the gold chunk c.md#0
    assert recall_at_k(RETRIEVED, GOLD, 1) == pytest.approx(1 / 3)
    assert recall_at_k(RETRIEVED, GOLD, 3) == pytest.approx(1 / 3)  # a.md#100 adds nothing new
    assert recall_at_k(RETRIEVED, GOLD, 5) == pytest.approx(2 / 3)


def test_mrr() -> None:
    assert mrr(RETRIEVED, GOLD) == 1.0
    assert mrr(["b.md#0", "c.md#5", "a.md#0"], ["a.md"]) == pytest.approx(1 / 3)
    assert mrr(["b.md#0", "c.md#5", "a.md#0"], ["a.md"], k=2) == 0.0
    assert mrr(["b.md#0"], ["a.md"]) == 0.0


def test_ndcg_at_k() -> None:
    # gains at ranks 1 (a.md) and 4 (c.md#0); rank 3 is a second chunk of a.md: no new gain.
    dcg = 1 / math.log2(2) + 1 / math.log2(5)
    ideal = 1 / math.log2(2) + 1 / math.log2(3) + 1 / math.log2(4)  # three gold ids, k = 5
    assert ndcg_at_k(RETRIEVED, GOLD, 5) == pytest.approx(dcg / ideal)
    assert ndcg_at_k(RETRIEVED, GOLD, 5) == pytest.approx(0.671386, abs=1e-6)
    assert ndcg_at_k(["b.md#0", "c.md#5", "a.md#0"], ["a.md"], 3) == pytest.approx(0.5)
    assert ndcg_at_k(["a.md#0"], ["a.md"], 1) == 1.0
    assert ndcg_at_k(["b.md#0"], ["a.md"], 1) == 0.0
