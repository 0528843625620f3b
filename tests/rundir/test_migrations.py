"""Result lines written before the one finish vocabulary (schema 2) read as schema 3."""

from __future__ import annotations

from pathlib import Path

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
