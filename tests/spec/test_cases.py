from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalkit.errors import UserInputError
from evalkit.spec import cases as cases_module
from evalkit.spec.cases import CaseIds, CaseList, case_from_row, case_row
from evalkit.spec.suite import load_suite
from evalkit.tools.expect import ToolExpectations
from tests.spec.conftest import reference_hash, write_jsonl_suite

ROWS = [
    {"id": "a", "vars": {"q": "one", "n": 1.5, "deep": {"x": [1, None, True]}}, "reference": "r"},
    {"id": "b", "vars": {"q": "lone \ud800 surrogate"}, "references": ["x", "y"], "tags": ["t"]},
    {
        "id": "c",
        "messages": [{"role": "user", "content": "hi {{ q }}"}],
        "vars": {"q": 2},
        "metadata": {"m": 1},
    },
    {"id": "d", "vars": {"q": "tools"}, "expected_tools": ["f"], "relevant_ids": ["g.md"]},
    {"id": "e", "vars": {"q": "mc"}, "choices": ["yes", "no"], "gold": 1},
    {
        "id": "f",
        "vars": {"q": "own tools"},
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
    },
] + [{"id": f"n{i}", "vars": {"q": f"question {i}"}, "reference": f"r{i}"} for i in range(20)]


def test_a_large_suite_spills_to_a_scratch_file_and_reads_back_the_same_cases(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_jsonl_suite(tmp_path, ROWS)
    held = load_suite(path)
    monkeypatch.setattr(cases_module, "SPILL_AT", 4)
    spilled = load_suite(path)
    assert isinstance(spilled.cases, CaseList) and spilled.cases.spilled
    assert isinstance(held.cases, CaseList) and not held.cases.spilled
    assert len(spilled.cases) == len(ROWS) and list(spilled.cases) == list(held.cases)
    assert list(spilled.cases) == list(spilled.cases)  # read again: the same
    assert spilled.cases[5] == held.cases[5] and spilled.cases[-1].id == "n19"
    assert spilled.cases[1].vars["q"] == "lone \ud800 surrogate"
    assert isinstance(spilled.cases[3].expect, ToolExpectations)
    assert list(spilled.cases.rows()) == list(held.cases.rows())
    assert spilled.content_hash == held.content_hash == reference_hash(path, held)
    with pytest.raises(IndexError):
        spilled.cases[len(ROWS)]


def test_the_scratch_file_is_what_the_run_uses_and_is_deleted_with_the_cases(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cases_module, "SPILL_AT", 2)
    path = write_jsonl_suite(tmp_path, ROWS)
    suite = load_suite(path)
    first = [c.id for c in suite.cases]
    (tmp_path / "s.jsonl").write_text("")  # the suite's file changes mid-run: the run's cases do not
    assert [c.id for c in suite.cases] == first
    scratch = Path(suite.cases._path)  # type: ignore[attr-defined]
    assert scratch.is_file()
    del suite
    import gc

    gc.collect()
    assert not scratch.exists()


@pytest.mark.parametrize("spill_at", [2, 4096])
def test_a_duplicate_id_is_found_at_any_size_with_both_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spill_at: int
) -> None:
    monkeypatch.setattr(cases_module, "SPILL_AT", spill_at)
    path = write_jsonl_suite(tmp_path, [*ROWS, {"id": "n3", "vars": {"q": "again"}}])
    with pytest.raises(
        UserInputError, match=r"duplicate case id 'n3' at .*s\.jsonl:27 \(first at .*s\.jsonl:10\)"
    ):
        load_suite(path)


def test_case_ids_move_to_disk_past_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cases_module, "SPILL_AT", 3)
    ids = CaseIds()
    assert [ids.first(f"c{i}", f"f:{i}") for i in range(10)] == [None] * 10
    assert ids._db is not None  # on disk now
    assert ids.first("c1", "f:99") == "f:1" and ids.first("c9", "f:100") == "f:9"
    ids.close()


def test_a_bad_line_past_the_spill_is_exit_2_with_its_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cases_module, "SPILL_AT", 2)
    path = write_jsonl_suite(tmp_path, ROWS)
    with (tmp_path / "s.jsonl").open("a") as fh:
        fh.write('{"id": "bad", "vars": [1]}\n')
    with pytest.raises(UserInputError) as info:
        load_suite(path)
    assert info.value.line == len(ROWS) + 1 and str(info.value.path).endswith("s.jsonl")


def test_a_case_row_reads_back_to_an_equal_case(tmp_path: Path) -> None:
    for case in load_suite(write_jsonl_suite(tmp_path, ROWS)).cases:
        assert case_from_row(json.loads(json.dumps(case_row(case))), "") == case


def test_a_row_made_without_a_case_is_the_cases_row(tmp_path: Path) -> None:
    """A case past what a CaseList holds goes to its scratch file as a row made straight from
    its validated fields: the same row, keys in the same order, as the Case's."""
    from evalkit.spec.suite import CaseSpec, _case_from_spec, _row_from_spec

    for i, data in enumerate([*ROWS, {"id": 7, "reference": 15, "forbidden_tools": ["x"]}]):
        spec = CaseSpec.model_validate(data)
        row = _row_from_spec(spec, f"f:{i}")
        expected = case_row(_case_from_spec(spec, f"f:{i}"))
        assert row == expected and list(row) == list(expected)
        assert json.dumps(row) == json.dumps(expected)


def test_the_scratch_file_keeps_every_value_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Values JSON reads that a JSON round trip would not keep alike (a float's last bit, integers
    past 64 bits, a lone surrogate, the order of keys) come back from the scratch file exactly
    (a case file's NaN is refused: see test_strictjson)."""
    monkeypatch.setattr(cases_module, "SPILL_AT", 5)  # the held five go to the file in two blocks
    monkeypatch.setattr(cases_module, "BLOCK", 3)  # several blocks, the last one short
    odd = {"z": 1, "a": 0.1 + 0.2, "big": 2**70, "s": "lone \ud800", "n": {"y": [True, 1, 1.0]}}
    rows = [{"id": f"c{i}", "vars": {**odd, "i": i}, "reference": "r"} for i in range(10)]
    (tmp_path / "s.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "s.yaml").write_text("name: s\nprompt: '{{ s }}'\ncases: s.jsonl\n")
    cases = load_suite(tmp_path / "s.yaml").cases
    assert isinstance(cases, CaseList) and cases.spilled
    for i, case in enumerate(cases):
        assert list(case.vars) == ["z", "a", "big", "s", "n", "i"] and case.vars["i"] == i
        assert case.vars["a"] == 0.1 + 0.2 and case.vars["big"] == 2**70 and case.vars["s"] == "lone \ud800"
        assert [type(v) for v in case.vars["n"]["y"]] == [bool, int, float]
    assert len(cases) == 10 and cases[9].id == "c9"


@pytest.mark.parametrize("block", [1, 4, 5, 64])
def test_the_content_hash_fed_in_blocks_is_the_whole_payloads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int
) -> None:
    from evalkit.spec import suite as suite_module

    monkeypatch.setattr(suite_module, "HASH_BLOCK", block)
    path = write_jsonl_suite(tmp_path, ROWS)
    suite = load_suite(path)
    assert suite.content_hash == reference_hash(path, suite)


@pytest.mark.parametrize("spill_at", [2, 4096])
def test_the_first_problem_in_file_order_is_the_one_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spill_at: int
) -> None:
    """Past the few held in a dict, ids go to the table a block at a time: a duplicate is still
    reported before the error of any later line, and the first duplicate before later ones."""
    monkeypatch.setattr(cases_module, "SPILL_AT", spill_at)
    rows = [{"id": f"c{i}", "vars": {"q": "x"}} for i in range(600)]
    again = [*rows[:300], {"id": "c5"}, *rows[300:], {"id": "c7"}, {"id": "c300"}]
    path = write_jsonl_suite(tmp_path, again)
    with pytest.raises(UserInputError, match=r"duplicate case id 'c5' at .*:301 \(first at .*:6\)"):
        load_suite(path)
    bad = [*rows[:300], {"id": "c5"}, {"id": "bad", "vars": [1]}, *rows[300:]]
    path = write_jsonl_suite(tmp_path, bad)
    with pytest.raises(UserInputError, match=r"duplicate case id 'c5' at .*:301 \(first at .*:6\)"):
        load_suite(path)
    late = [*rows[:300], {"id": "bad", "vars": [1]}, {"id": "c5"}]
    with pytest.raises(UserInputError) as info:
        load_suite(write_jsonl_suite(tmp_path, late))
    assert info.value.line == 301 and "duplicate" not in str(info.value)
    twice = [*rows, {"id": "c1"}, {"id": "c1"}]  # the same id twice among the pending
    with pytest.raises(UserInputError, match=r"duplicate case id 'c1' at .*:601 \(first at .*:2\)"):
        load_suite(write_jsonl_suite(tmp_path, twice))
