"""The LanceDB index (built once, reused, rebuilt on change) and the built-in retrievers,
on the bundled RAG suite: hybrid recall@5 is at least the better of BM25 and dense."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from evalkit.rag import index as rag_index
from evalkit.rag.retrievers import build_retriever
from evalkit.scorers.retrieval_metrics import mrr, recall_at_k
from evalkit.spec.config import load_config
from evalkit.spec.rag import RagSettings
from evalkit.spec.suite import load_suite
from tests.conftest import write

ROOT = Path(__file__).resolve().parents[2]
RAG = ROOT / "suites" / "rag"


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    shutil.copytree(RAG / "corpus", folder)
    return folder


@pytest.fixture
def count_embeddings(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many texts were embedded, per call; and a fresh process's view of open indexes."""
    calls: list[int] = []
    real = rag_index.encode

    def counting(model_path: str, texts: list[str], batch_size: int = 64) -> Any:
        calls.append(len(texts))
        return real(model_path, texts, batch_size)

    monkeypatch.setattr(rag_index, "encode", counting)
    monkeypatch.setattr(rag_index, "_open", {})
    return calls


def test_index_is_built_once_reused_then_rebuilt_when_the_corpus_changes(
    corpus: Path, count_embeddings: list[int]
) -> None:
    first = rag_index.open_index(corpus, 400, 50, None)
    assert first.stats["status"] == "built" and first.stats["documents"] == 36
    assert count_embeddings == [first.stats["chunks"]] and first.table.count_rows() == first.stats["chunks"]
    assert first.stats["disk_bytes"] > 0

    rag_index._open.clear()  # as a new run in a new process would
    second = rag_index.open_index(corpus, 400, 50, None)
    assert second.stats["status"] == "reused" and second.stats["embedded_chunks"] == 0
    assert count_embeddings == [first.stats["chunks"]]  # nothing embedded again
    assert second.folder == first.folder

    (corpus / "roles.md").write_text("# Workspace roles\n\nThere are now five roles, including Auditor.\n")
    rag_index._open.clear()
    changed = rag_index.open_index(corpus, 400, 50, None)
    assert changed.stats["status"] == "built" and changed.folder != first.folder
    assert changed.chunks["roles.md#0"].text.endswith("including Auditor.")

    rag_index._open.clear()
    rechunked = rag_index.open_index(corpus, 300, 50, None)  # chunking is part of the key too
    assert rechunked.stats["status"] == "built" and rechunked.folder not in (first.folder, changed.folder)


def test_a_killed_build_is_rebuilt_not_read(corpus: Path, count_embeddings: list[int]) -> None:
    built = rag_index.open_index(corpus, 400, 50, None)
    (built.folder / rag_index.MARKER).unlink()  # as if the process died before finishing
    rag_index._open.clear()
    again = rag_index.open_index(corpus, 400, 50, None)
    assert again.stats["status"] == "built" and len(count_embeddings) == 2


def bundled_scores(retriever: str, **extra: Any) -> dict[str, float]:
    """Mean recall@5, recall@2 and MRR of one retriever over the bundled RAG suite."""
    loaded = load_config(RAG / "evalkit.yaml")
    suite = load_suite(RAG / "rag.yaml")
    base = loaded.config.variants["hybrid"].rag
    assert base is not None
    settings = base.model_copy(update={"retriever": retriever, **extra})
    found = build_retriever(settings, loaded.resolve).retrieve([c.vars["question"] for c in suite.cases], 5)
    ids = [[c.id for c in chunks] for chunks in found]
    gold = [list(case.relevant_ids) for case in suite.cases]
    n = len(ids)
    return {
        "recall@5": sum(recall_at_k(i, g, 5) for i, g in zip(ids, gold, strict=True)) / n,
        "recall@2": sum(recall_at_k(i, g, 2) for i, g in zip(ids, gold, strict=True)) / n,
        "mrr": sum(mrr(i, g) for i, g in zip(ids, gold, strict=True)) / n,
    }


def test_hybrid_recall_at_5_is_at_least_the_better_of_bm25_and_dense() -> None:
    scores = {
        "bm25": bundled_scores("bm25"),
        "dense": bundled_scores("dense"),
        "hybrid rrf": bundled_scores("hybrid"),
        "hybrid weighted": bundled_scores("hybrid", fusion="weighted", hybrid_alpha=0.5),
    }
    for name, s in scores.items():
        print(f"bundled RAG suite, {name:15}: " + ", ".join(f"{k} {v:.3f}" for k, v in s.items()))
    bm25, dense, hybrid = scores["bm25"], scores["dense"], scores["hybrid rrf"]
    assert bm25["recall@5"] < 1.0  # keyword search misses the paraphrased questions
    assert hybrid["recall@5"] >= max(bm25["recall@5"], dense["recall@5"])
    assert hybrid["recall@5"] >= 0.9 and scores["hybrid weighted"]["recall@5"] >= 0.9


def test_retrievers_rank_the_obvious_document_first(corpus: Path) -> None:
    for mode in ("bm25", "dense", "hybrid"):
        settings = RagSettings(corpus=str(corpus), retriever=mode, chunk_size=400, chunk_overlap=50)
        (chunks,) = build_retriever(settings, Path).retrieve(["What does error E-4471 mean?"], 3)
        assert chunks[0].doc_id == "error-codes.md", mode
        assert len(chunks) == 3 and chunks[0].id.startswith("error-codes.md#")
        assert chunks[0].score >= chunks[1].score >= chunks[2].score
    bm25 = build_retriever(RagSettings(corpus=str(corpus), retriever="bm25"), Path)
    assert bm25.retrieve(["zzzzqqq xxyyzz"], 3) == [[]]  # nothing matches: an empty list, not an error


def test_custom_retriever_from_a_plugin(tmp_path: Path) -> None:
    from evalkit.rag import retrievers

    write(
        tmp_path / "my_search.py",
        """
        from evalkit.rag.retrievers import retriever

        @retriever("echo_search")
        def search(query, top_k, prefix="doc"):
            return [{"id": f"{prefix}-{i}#0", "text": f"{query} {i}", "score": 1 / (i + 1)} for i in range(10)]
        """,
    )
    write(tmp_path / "evalkit.yaml", "plugins: [my_search.py]\n")
    load_config(tmp_path / "evalkit.yaml")
    try:
        found = build_retriever(
            RagSettings(retriever="echo_search", options={"prefix": "kb"}), Path
        ).retrieve(["q"], 2)
        assert [[(c.id, c.doc_id, c.text) for c in chunks] for chunks in found] == [
            [("kb-0#0", "kb-0", "q 0"), ("kb-1#0", "kb-1", "q 1")]
        ]
    finally:
        retrievers.retrievers._entries.pop("echo_search", None)


def test_cache_commands_list_and_remove_indexes(corpus: Path, count_embeddings: list[int], cli) -> None:
    built = rag_index.open_index(corpus, 400, 50, None)
    stats = cli("cache", "stats")
    assert stats.exit_code == 0 and "RAG indexes: 1," in stats.output
    kept = cli("cache", "clear", "--older-than", "3600")  # used a moment ago: kept
    assert kept.exit_code == 0 and "0 RAG index(es)" in kept.output and built.folder.exists()
    cleared = cli("cache", "clear")
    assert cleared.exit_code == 0 and "1 RAG index(es)" in cleared.output and not built.folder.exists()
    again = rag_index.open_index(corpus, 400, 50, None)  # needed again: rebuilt, not half-read
    assert again.stats["status"] == "built" and len(count_embeddings) == 2
