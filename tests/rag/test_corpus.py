"""Corpus ingestion: deterministic chunks, stable ids, clear errors."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest

from evalkit.errors import UserInputError
from evalkit.rag.corpus import Document, chunk_documents, chunk_text, fingerprint, load_documents
from tests.conftest import write

TEXT = " ".join(f"word{i} is followed by some filler text number {i}." for i in range(120))


def test_chunks_are_deterministic_bounded_overlapping_and_cover_the_text() -> None:
    chunks = chunk_text(TEXT, 200, 40)
    assert chunks == chunk_text(TEXT, 200, 40)
    assert len(chunks) > 10
    for (offset, piece), (next_offset, _) in itertools.pairwise(chunks):
        assert TEXT[offset : offset + len(piece)] == piece  # the offset really locates the chunk
        assert len(piece) <= 200
        assert next_offset < offset + len(piece)  # consecutive chunks overlap
        assert offset + len(piece) - next_offset <= 40 + 20  # ... by about the overlap
        assert not piece[-1].isspace() and (
            offset + len(piece) == len(TEXT) or TEXT[offset + len(piece)] == " "
        )
    covered = set()
    for offset, piece in chunks:
        covered.update(range(offset, offset + len(piece)))
    assert all(i in covered for i, ch in enumerate(TEXT) if not ch.isspace())  # nothing lost
    words = set(re.findall(r"\S+", TEXT))
    assert all(w in words for _, piece in chunks for w in piece.split())  # no word is cut in two


def test_chunk_ids_survive_edits_after_them() -> None:
    before = chunk_documents([Document("doc.md", TEXT)], 300, 50)
    after = chunk_documents([Document("doc.md", TEXT + " An appended closing sentence.")], 300, 50)
    assert [c.id for c in before[:-1]] == [c.id for c in after[: len(before) - 1]]
    assert all(c.id == f"doc.md#{c.offset}" for c in after)
    assert [c.text for c in before[:-1]] == [c.text for c in after[: len(before) - 1]]


def test_load_documents_and_fingerprint(tmp_path: Path) -> None:
    write(tmp_path / "b.md", "# B\n\nSecond.")
    write(tmp_path / "sub" / "a.txt", "First.")
    write(
        tmp_path / "faq.jsonl",
        '{"id": "q1", "title": "Q one", "text": "Answer one."}\n\n{"id": 2, "text": "Two."}\n',
    )
    write(tmp_path / ".hidden" / "x.md", "ignored")
    write(tmp_path / "image.png", "ignored")
    docs = load_documents(tmp_path)
    assert [d.id for d in docs] == ["2", "b.md", "q1", "sub/a.txt"]
    assert docs[2].text == "Q one\n\nAnswer one."
    base = fingerprint(docs, 400, 50)
    assert fingerprint(load_documents(tmp_path), 400, 50) == base
    assert fingerprint(docs, 400, 60) != base  # chunking is part of the key
    write(tmp_path / "b.md", "# B\n\nSecond, edited.")
    assert fingerprint(load_documents(tmp_path), 400, 50) != base


def test_bad_corpus_errors_name_the_file_and_line(tmp_path: Path) -> None:
    write(tmp_path / "docs.jsonl", '{"id": "ok", "text": "fine"}\n{"text": "no id"}\n')
    with pytest.raises(UserInputError) as err:
        load_documents(tmp_path)
    assert err.value.path == str(tmp_path / "docs.jsonl") and err.value.line == 2
    with pytest.raises(UserInputError, match="not a folder"):
        load_documents(tmp_path / "missing")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UserInputError, match=r"no \.txt, \.md or \.jsonl"):
        load_documents(empty)


def test_a_corpus_line_with_a_duplicate_key_is_refused(tmp_path: Path) -> None:
    write(tmp_path / "docs.jsonl", '{"id": "a", "text": "x"}\n{"id": "b", "text": "y", "text": "z"}\n')
    with pytest.raises(UserInputError, match="duplicate key 'text'") as err:
        load_documents(tmp_path)
    assert err.value.line == 2


@pytest.mark.parametrize(
    ("value", "says"), [("NaN", "'NaN' is not a finite number"), ("9" * 5000, "4,300 digits")]
)
def test_a_corpus_line_with_what_json_has_no_number_for_is_refused(
    tmp_path: Path, value: str, says: str
) -> None:
    write(tmp_path / "docs.jsonl", f'{{"id": "a", "text": "x"}}\n{{"id": "b", "text": "y", "n": {value}}}\n')
    with pytest.raises(UserInputError, match=says) as err:
        load_documents(tmp_path)
    assert err.value.line == 2
