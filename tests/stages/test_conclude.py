"""Parts of concluding a run that its end-to-end tests (test_finish) do not single out."""

from __future__ import annotations

from pathlib import Path

import pytest

from evalkit.stages import conclude


@pytest.mark.parametrize("chunk", [1, 3, 7, 1 << 20])
def test_mentions_finds_text_wherever_the_reads_cut_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    monkeypatch.setattr(conclude, "_CHUNK", chunk)
    path = tmp_path / "results.jsonl"
    assert not conclude._mentions(path, '"human":')  # no file
    path.write_bytes(b'{"scores":{"exact":1}}\n{"human" :1}\n"human"\n')
    assert not conclude._mentions(path, '"human":')
    for at in range(len(path.read_bytes()) + 1):
        data = path.read_bytes()
        moved = tmp_path / f"at{at}.jsonl"
        moved.write_bytes(data[:at] + b'"human":' + data[at:])
        assert conclude._mentions(moved, '"human":'), at
