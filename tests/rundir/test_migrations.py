"""Records written by an older evalkit read as the current schema: result lines before the one finish vocabulary (schema 2), summaries before the frontier (schema 1)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalkit.rundir.files import read_results
from evalkit.rundir.migrations import CURRENT

FIXTURE = Path(__file__).parent.parent / "fixtures" / "v2" / "results.jsonl"


def test_schema_2_finish_reasons_become_the_one_vocabulary_with_the_vendors_word_kept() -> None:
    results = list(read_results(FIXTURE))
    assert [r.schema_version for r in results] == [CURRENT["result"]] * 8 == [3] * 8
    got = [(r.case_id, r.finish_reason, r.vendor_finish_reason) for r in results]
    assert got == [
        ("q0", "stop", None),
        ("q1", "length", None),
        ("q2", "stop", "end_turn"),
        ("q3", "tool_calls", None),
        ("q4", "length", "max_steps"),  # the agent loop stopped at max_steps: cut short
        ("q5", None, "abort"),  # a word no table knows keeps only the vendor's
        ("q6", "error", None),  # a failed generation
        ("q7", "stop", "STOP"),  # Gemini's upper-case enum
    ]
    # the rest of the line is untouched
    assert results[0].usage.input_tokens == 6 and results[0].usage.cache_write_tokens is None
    assert results[1].output == "The capital of Fr"


def test_a_summary_of_the_previous_format_reads_with_an_empty_frontier_and_a_newer_one_is_refused(
    tmp_path: Path,
) -> None:
    import shutil

    from evalkit.compare.aggregate import Summary
    from evalkit.errors import UserInputError
    from evalkit.rundir.dir import RunDir
    from evalkit.rundir.migrations import CURRENT

    run = tmp_path / "old"
    shutil.copytree(Path(__file__).parent.parent / "fixtures" / "v1" / "run", run)
    raw = json.loads((run / "summary.json").read_text())
    assert "schema_version" not in raw and "frontier" not in raw  # written before either existed
    data = RunDir(run).summary_data()
    assert data is not None and data["schema_version"] == CURRENT["summary"] == 2
    summary = Summary.model_validate(data)
    assert summary.frontier == [] and [g.variant for g in summary.groups] == ["good", "bad"]
    (run / "summary.json").write_text(json.dumps({**raw, "schema_version": 99}))
    with pytest.raises(UserInputError, match="newer evalkit"):
        RunDir(run).summary_data()
