"""Corpus ingestion: documents from a folder, cut into deterministic chunks with stable ids.

Documents: every `.txt` and `.md` file is one document whose id is its path relative to the
corpus folder (`guides/setup.md`); every `.jsonl` line `{"id": ..., "text": ..., "title"?}` is
one document with that id. Chunks are windows of about `chunk_size` characters that end on
whitespace, the next starting `chunk_overlap` characters before the previous ended; a chunk's
id is `<doc id>#<offset of its first character>`, so it survives re-ingestion unchanged as
long as the text before it does.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from evalkit._util import strictjson
from evalkit.errors import UserInputError

TEXT_SUFFIXES = (".txt", ".md", ".markdown")


@dataclass(frozen=True)
class Document:
    id: str
    text: str
    title: str | None = None


@dataclass(frozen=True)
class Chunk:
    id: str
    doc_id: str
    offset: int
    text: str


def load_documents(folder: Path) -> list[Document]:
    """Every document under `folder`, sorted by id; errors name the file (and line)."""
    if not folder.is_dir():
        raise UserInputError("the RAG corpus is not a folder", path=folder)
    docs: list[Document] = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        if any(part.startswith(".") for part in path.relative_to(folder).parts):
            continue
        if path.suffix.lower() in TEXT_SUFFIXES:
            try:
                text = path.read_text(encoding="utf-8")
            except UnicodeDecodeError as exc:
                raise UserInputError(f"not UTF-8 text: {exc}", path=path) from None
            docs.append(Document(id=rel, text=text))
        elif path.suffix.lower() == ".jsonl":
            docs.extend(_jsonl_documents(path))
    seen: dict[str, int] = {}
    for doc in docs:
        seen[doc.id] = seen.get(doc.id, 0) + 1
    duplicates = sorted(d for d, n in seen.items() if n > 1)
    if duplicates:
        raise UserInputError(
            f"document id(s) used twice in the corpus: {', '.join(duplicates[:5])}", path=folder
        )
    if not docs:
        raise UserInputError("the RAG corpus has no .txt, .md or .jsonl documents", path=folder)
    return sorted(docs, key=lambda d: d.id)


def _jsonl_documents(path: Path) -> list[Document]:
    docs = []
    for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = strictjson.loads(line)
        except json.JSONDecodeError as exc:
            raise UserInputError.bad_json(exc, path=path, line=line_no) from None
        except strictjson.RefusedError as exc:
            raise UserInputError(str(exc), path=path, line=line_no) from None
        if not isinstance(row, dict) or not isinstance(row.get("text"), str) or row.get("id") in (None, ""):
            raise UserInputError('each line needs "id" and a "text" string', path=path, line=line_no)
        title = row.get("title")
        text = f"{title}\n\n{row['text']}" if isinstance(title, str) and title else row["text"]
        docs.append(Document(id=str(row["id"]), text=text, title=title if isinstance(title, str) else None))
    return docs


def chunk_text(text: str, size: int, overlap: int) -> list[tuple[int, str]]:
    """(offset, text) windows of at most `size` characters, cut at whitespace where there is
    some in the window's last half, each starting `overlap` characters before the previous end."""
    if size <= 0 or not 0 <= overlap < size:
        raise ValueError("need chunk_size > 0 and 0 <= chunk_overlap < chunk_size")
    out: list[tuple[int, str]] = []
    start, n = 0, len(text)
    while start < n:
        while start < n and text[start].isspace():
            start += 1
        if start >= n:
            break
        end = min(start + size, n)
        if end < n:
            cut = max(text.rfind(c, start + size // 2, end) for c in (" ", "\n", "\t"))
            if cut > start:
                end = cut
        piece = text[start:end].rstrip()
        if piece:
            out.append((start, piece))
        if end >= n:
            break
        nxt = max(end - overlap, start + 1)
        if overlap and nxt > start:  # begin the overlap on a word boundary too
            space = text.find(" ", nxt, end)
            nxt = space + 1 if 0 <= space < end else nxt
        start = nxt
    return out


def chunk_documents(docs: list[Document], size: int, overlap: int) -> list[Chunk]:
    return [
        Chunk(id=f"{doc.id}#{offset}", doc_id=doc.id, offset=offset, text=piece)
        for doc in docs
        for offset, piece in chunk_text(doc.text, size, overlap)
    ]


def fingerprint(docs: list[Document], size: int, overlap: int) -> str:
    """Changes whenever a document, its id, or the chunking changes."""
    digest = hashlib.sha256(f"chunking:{size}:{overlap}\n".encode())
    for doc in docs:
        digest.update(hashlib.sha256(doc.id.encode()).digest())
        digest.update(hashlib.sha256(doc.text.encode()).digest())
    return digest.hexdigest()[:16]
