"""Paths a person reads are relative to the working directory the run started in."""

from __future__ import annotations

from pathlib import Path

from evalkit._util.paths import shown


def test_paths_are_shown_relative_to_the_start(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert shown(tmp_path / "reports" / "r1") == "reports/r1"
    assert shown("baselines") == "baselines"
    assert shown(tmp_path) == "."
    assert shown(tmp_path.parent / "elsewhere") == "../elsewhere"
    assert shown(tmp_path / "a", start=tmp_path / "b") == "../a"
