"""history.adapter: what a run directory's results become in the history. Its results lines
are read through the report's validated dict reader (evalkit.report.rows), which must give
exactly what reading them as CaseResult models gives, and refuse what they refuse."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalkit.errors import UserInputError
from evalkit.history import lite
from evalkit.history.adapter import CASE_COLUMNS, case_record, read_case_values, read_cases
from evalkit.rundir.dir import RunDir
from evalkit.types import CaseResult, StoredScore, Usage

MINIMAL = {"suite": "s", "case_id": "min", "variant": "v", "repeat": 0, "provider": "p", "messages": [],
           "output": None}  # fmt: skip


def results_of_every_kind(run_dir: Path) -> Path:
    """A results.jsonl with errors, unmeasured scores, verdicts of each kind, tokens, a cached
    answer, a line with only the required fields and one an older evalkit wrote."""
    score = StoredScore

    def result(case_id: str, **kw: object) -> str:
        fields = {"suite": "s", "case_id": case_id, "variant": "v", "repeat": 0, "provider": "p",
                  "messages": [], "output": "o", **kw}  # fmt: skip
        return CaseResult.model_validate(fields).model_dump_json() + "\n"

    lines = [
        result("a", scores={"q": score(value=1, passed=True), "r": score(value=None)}, latency_ms=3,
               usage=Usage(input_tokens=5, output_tokens=7), cost_usd=0.25, model="m", model_version="m-1"),
        result("b", scores={"q": score(value=0.0, passed=False), "r": score(value=-0.0, passed=True)}),
        result("c", scores={"q": score(value=0.5)}, cached=True, input_hash="h", repeat=2),
        result("d", error="HTTP 500", scores={"q": score(value=0.0, passed=False)}),
        json.dumps(MINIMAL) + "\n",
        json.dumps({k: v for k, v in MINIMAL.items()} | {"case_id": "old"}) + "\n",  # no schema_version
    ]  # fmt: skip
    run_dir.mkdir()
    RunDir(run_dir).results_file.write_text("".join(lines), encoding="utf-8")
    return run_dir


def test_cases_are_what_the_models_give(tmp_path: Path) -> None:
    run_dir = results_of_every_kind(tmp_path / "run")
    expected = [case_record(r) for r in RunDir(run_dir).results()]
    got = list(read_cases(run_dir))
    assert len(got) == 6
    assert repr(got) == repr(expected)  # repr: True is not 1, 1.0 is not 1, -0.0 is not 0.0
    assert [tuple(c.values()) for c in got] == list(read_case_values(run_dir))
    assert tuple(got[0]) == CASE_COLUMNS


def test_sqlite_parameters_are_dump_of_each_column(tmp_path: Path) -> None:
    run_dir = results_of_every_kind(tmp_path / "run")
    kinds = lite.COLUMNS["run_cases"]
    assert ("run_id", *CASE_COLUMNS) == tuple(kinds)
    expected = [
        tuple(lite._dump(kind, {"run_id": "r", **c}[name]) for name, kind in kinds.items())
        for c in read_cases(run_dir)
    ]
    got = list(lite._case_params("r", read_case_values(run_dir)))
    assert repr(got) == repr(expected)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda d: d | {"repeat": "first"},
        lambda d: d | {"unknown": 1},
        lambda d: d | {"scores": {"q": {"value": 1.0, "passed": "yes please"}}},
        lambda d: {k: v for k, v in d.items() if k != "suite"},
    ],
)
def test_a_tampered_line_is_refused_with_file_and_line(tmp_path: Path, tamper) -> None:  # type: ignore[no-untyped-def]
    run_dir = results_of_every_kind(tmp_path / "run")
    path = RunDir(run_dir).results_file
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[2] = json.dumps(tamper(json.loads(lines[2]))) + "\n"
    path.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(UserInputError) as err:
        list(read_case_values(run_dir))
    assert (err.value.path, err.value.line) == (str(path), 3)
    assert "not a result line" in str(err.value)
