"""The on-disk index of a chunked corpus: LanceDB, embedded in the process, no server.

One LanceDB table per (corpus content, chunking, embedding model) holds each chunk's id,
document id, offset, text and normalised embedding, plus LanceDB's native full-text (BM25)
index on the text. It lives under `<cache dir>/rag/<key>/` and is reused by every later run
with the same key; any change to a document, to the chunking or to the embedding model gives
a new key, so a stale index is never read. Building happens under a file lock (two runs
starting together build once) and is marked complete only at the end (a killed build is
rebuilt, not half-read). LanceDB also runs as a server (LanceDB Cloud/Enterprise) with the
same API, for corpora that outgrow one machine.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evalkit._util.heavy import IMPORT_LOCK
from evalkit._util.paths import cache_dir
from evalkit.errors import UserInputError
from evalkit.rag.corpus import Chunk, chunk_documents, fingerprint, load_documents

TABLE = "chunks"
MARKER = "evalkit-index.json"
INSTALL_HINT = "pip install 'evalkit[rag]'"
_open: dict[str, ChunkIndex] = {}  # one open index per key per process


def embedding_model_path(name: str | None) -> str:
    from evalkit._util.embedder import default_model_path

    return str(Path(name).expanduser()) if name else default_model_path()


def embedding_model_id(path: str) -> str:
    """Path plus a digest of the model folder's config files and weight sizes."""
    folder = Path(path)
    digest = hashlib.sha256(str(folder).encode())
    if folder.is_dir():
        for file in sorted(folder.rglob("*")):
            if file.is_file() and file.suffix in (".json", ".safetensors", ".bin", ".txt"):
                digest.update(file.relative_to(folder).as_posix().encode())
                digest.update(
                    file.read_bytes() if file.suffix == ".json" else str(file.stat().st_size).encode()
                )
    return digest.hexdigest()[:12]


def encode(model_path: str, texts: list[str], batch_size: int = 64) -> Any:
    """Normalised float32 embeddings (numpy, one row per text)."""
    from evalkit._util.embedder import load_model

    model = load_model(model_path, None)
    return model.encode(
        texts,
        batch_size=batch_size,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
    )


@dataclass
class ChunkIndex:
    key: str
    folder: Path
    model_path: str
    table: Any
    chunks: dict[str, Chunk]
    stats: dict[str, Any] = field(default_factory=dict)


def open_index(corpus: Path, chunk_size: int, chunk_overlap: int, embedding_model: str | None) -> ChunkIndex:
    """Open the index for this corpus and settings, building it first when there is none."""
    docs = load_documents(corpus)
    model_path = embedding_model_path(embedding_model)
    if not Path(model_path).is_dir():
        raise UserInputError(f"rag.embedding_model '{embedding_model}' is not a model folder")
    key = f"{fingerprint(docs, chunk_size, chunk_overlap)}-{embedding_model_id(model_path)}"
    if key in _open:
        return _open[key]
    chunks = chunk_documents(docs, chunk_size, chunk_overlap)
    if not chunks:
        raise UserInputError("the RAG corpus has no text to index", path=corpus)
    folder = cache_dir() / "rag" / key
    folder.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with open(folder.parent / f".{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        status = "reused" if (folder / MARKER).exists() else "built"
        if status == "built":
            _build(folder, chunks, model_path)
        os.utime(folder / MARKER)  # its mtime is the index's last use (see remove_indexes)
        table = _connect(folder).open_table(TABLE)
    info = json.loads((folder / MARKER).read_text())
    index = ChunkIndex(
        key=key,
        folder=folder,
        model_path=model_path,
        table=table,
        chunks={c.id: c for c in chunks},
        stats={
            "index": str(folder),
            "status": status,
            "documents": len(docs),
            "chunks": len(chunks),
            "embedded_chunks": len(chunks) if status == "built" else 0,
            "open_s": round(time.perf_counter() - started, 3),
            "build_s": info.get("build_s"),
            "disk_bytes": info.get("disk_bytes"),
        },
    )
    _open[key] = index
    return index


def _connect(folder: Path) -> Any:
    os.environ.setdefault("LANCEDB_LOG", "error")  # its Rust WARN lines would garble progress output
    with IMPORT_LOCK:
        try:
            import lancedb
        except ImportError:
            raise UserInputError(f"RAG variants need LanceDB: {INSTALL_HINT}") from None
    return lancedb.connect(str(folder))


def _build(folder: Path, chunks: list[Chunk], model_path: str) -> None:
    import pyarrow as pa

    if folder.exists():
        shutil.rmtree(folder)  # a build that was killed part-way
    started = time.perf_counter()
    vectors = encode(model_path, [c.text for c in chunks])
    db = _connect(folder)
    data = pa.table(
        {
            "id": [c.id for c in chunks],
            "doc_id": [c.doc_id for c in chunks],
            "offset": pa.array([c.offset for c in chunks], pa.int64()),
            "text": [c.text for c in chunks],
            "vector": pa.FixedSizeListArray.from_arrays(
                pa.array(vectors.reshape(-1), pa.float32()), vectors.shape[1]
            ),
        }
    )
    table = db.create_table(TABLE, data=data)
    with warnings.catch_warnings():  # create_fts_index: deprecated in name only; its successor's
        warnings.simplefilter("ignore")  # column argument is not settled across versions
        table.create_fts_index("text", replace=True)  # BM25, with stemming and stop words
    build_s = time.perf_counter() - started
    disk = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    (folder / MARKER).write_text(
        json.dumps(
            {"chunks": len(chunks), "model": model_path, "build_s": round(build_s, 3), "disk_bytes": disk}
        )
    )


def list_indexes() -> list[tuple[Path, int, float]]:
    """(folder, bytes on disk, last used as a timestamp) of every complete index in the cache."""
    root = cache_dir() / "rag"
    out = []
    for marker in sorted(root.glob(f"*/{MARKER}")) if root.is_dir() else []:
        folder = marker.parent
        size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
        out.append((folder, size, marker.stat().st_mtime))
    return out


def remove_indexes(older_than_s: float | None = None) -> int:
    """Delete the indexes not used for `older_than_s` seconds (all when None); they are rebuilt
    when next needed. Each is removed under its build lock, so a run building it is not cut short."""
    cutoff = None if older_than_s is None else time.time() - older_than_s
    removed = 0
    for folder, _, last_used in list_indexes():
        if cutoff is not None and last_used >= cutoff:
            continue
        with open(folder.parent / f".{folder.name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            shutil.rmtree(folder, ignore_errors=True)
        _open.pop(folder.name, None)
        removed += 1
    return removed
