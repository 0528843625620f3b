"""RAG index: ingest and index N chunks, query latency, and a warm start against a cold one.

Side by side in one run, on a generated corpus of about N chunks (400 characters each):
  ideal    - sentence-transformers encoding the same chunk texts, nothing else (the floor);
  cold     - evalkit's open_index in a fresh process and an empty cache: load documents, chunk,
             embed, write the LanceDB table, build its BM25 index;
  warm     - open_index again in a fresh process: the index is found and reused;
  queries  - top-5 retrieval per query (embedding the query included), for bm25, dense and hybrid.
Prints times, disk size, P50/P95 query latency, and the ratios. Usage: python benchmarks/bench_rag.py [N]
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WORDS = [
    "account",
    "api",
    "backup",
    "billing",
    "cache",
    "certificate",
    "cluster",
    "config",
    "dashboard",
    "data",
    "deploy",
    "disk",
    "error",
    "event",
    "export",
    "flush",
    "index",
    "key",
    "latency",
    "limit",
    "log",
    "member",
    "metric",
    "node",
    "owner",
    "plan",
    "quota",
    "region",
    "replica",
    "request",
    "restore",
    "role",
    "secret",
    "shard",
    "signature",
    "snapshot",
    "storage",
    "support",
    "team",
    "token",
    "upgrade",
    "user",
    "webhook",
    "widget",
    "workspace",
    "retention",
    "rotate",
    "schedule",
    "encrypt",
    "region",
    "tenant",
    "invoice",
    "refund",
    "shipping",
    "parcel",
    "warehouse",
]


def make_corpus(folder: Path, n_chunks: int) -> None:
    rng = random.Random(0)
    folder.mkdir(parents=True, exist_ok=True)
    per_doc = 10  # about 10 chunks of 400 characters per document
    for d in range(max(1, n_chunks // per_doc)):
        sentences = []
        while sum(len(s) for s in sentences) < 350 * per_doc:
            words = [rng.choice(WORDS) for _ in range(rng.randint(6, 14))]
            sentences.append(f"The {' '.join(words)} setting {rng.randint(1, 9999)} applies to doc {d}.")
        (folder / f"doc{d:05d}.md").write_text(" ".join(sentences))


def child(mode: str, corpus: Path) -> None:
    """Runs in a fresh process: one measurement, printed as JSON."""
    from evalkit.rag.corpus import chunk_documents, load_documents
    from evalkit.rag.index import embedding_model_path, encode, open_index
    from evalkit.rag.retrievers import IndexRetriever
    from evalkit.spec.rag import RagSettings

    encode(embedding_model_path(None), ["load the model before timing anything"])
    if mode == "ideal":
        chunks = chunk_documents(load_documents(corpus), 400, 50)
        start = time.perf_counter()
        encode(embedding_model_path(None), [c.text for c in chunks])
        print(json.dumps({"seconds": time.perf_counter() - start, "chunks": len(chunks)}))
        return
    start = time.perf_counter()
    index = open_index(corpus, 400, 50, None)
    opened = time.perf_counter() - start
    out = {"seconds": opened, **index.stats}
    if mode == "warm":
        rng = random.Random(1)
        queries = [" ".join(rng.choice(WORDS) for _ in range(4)) for _ in range(200)]
        for retriever in ("bm25", "dense", "hybrid"):
            r = IndexRetriever(
                index, RagSettings(corpus=str(corpus), retriever=retriever, chunk_size=400, chunk_overlap=50)
            )
            r.retrieve(queries[:5], 5)  # warm up
            times = []
            for q in queries:
                t = time.perf_counter()
                found = r.retrieve([q], 5)
                times.append((time.perf_counter() - t) * 1000)
                assert len(found[0]) == 5 or retriever == "bm25"
            times.sort()
            out[f"{retriever}_p50_ms"] = times[len(times) // 2]
            out[f"{retriever}_p95_ms"] = times[int(len(times) * 0.95)]
    print(json.dumps(out))


def run_child(mode: str, corpus: Path, cache: Path) -> dict:
    env = {**os.environ, "EVALKIT_CACHE_DIR": str(cache), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(
        [sys.executable, __file__, "--child", mode, str(corpus)], env=env, capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise SystemExit(f"{mode} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], Path(sys.argv[3]))
        return
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    with tempfile.TemporaryDirectory() as tmp:
        corpus, cache = Path(tmp) / "corpus", Path(tmp) / "cache"
        make_corpus(corpus, n)
        ideal = run_child("ideal", corpus, cache)
        cold = run_child("cold", corpus, cache)
        warm = run_child("warm", corpus, cache)
    chunks = cold["chunks"]
    print(f"corpus: {cold['documents']} documents, {chunks} chunks of up to 400 characters")
    print(
        f"ideal (sentence-transformers encode only)  {ideal['seconds']:8.2f} s  {chunks / ideal['seconds']:7.0f} chunks/s"
    )
    print(f"cold: ingest + embed + LanceDB + BM25      {cold['seconds']:8.2f} s  {chunks / cold['seconds']:7.0f} chunks/s"
          f"  (x{cold['seconds'] / ideal['seconds']:.2f} of ideal), {cold['disk_bytes'] / 1e6:.1f} MB on disk")  # fmt: skip
    print(f"warm: open the existing index               {warm['seconds']:8.2f} s  ({warm['status']}, "
          f"{cold['seconds'] / warm['seconds']:.0f}x faster than cold)")  # fmt: skip
    for r in ("bm25", "dense", "hybrid"):
        print(
            f"top-5 {r:6} query latency  p50 {warm[f'{r}_p50_ms']:6.2f} ms   p95 {warm[f'{r}_p95_ms']:6.2f} ms"
        )


if __name__ == "__main__":
    main()
