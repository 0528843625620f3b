"""The run directory's cases.jsonl: every case of the run's suites, held or spilled, as JSON
whatever values the suite gave (a YAML date is its text, as the suite's content hash has it)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalkit.rundir.dir import RunDir
from evalkit.rundir.snapshot import read_cases, write_cases
from evalkit.spec import cases as cases_module
from evalkit.spec.suite import load_suite
from tests.conftest import write


def test_a_yaml_date_in_a_case_is_written_as_its_text(tmp_path: Path) -> None:
    suite = load_suite(
        write(
            tmp_path / "s.yaml",
            'name: s\nprompt: "{{ q }} on {{ d }}"\ncases:\n  - {id: a, vars: {q: hi, d: 2024-01-02}}\n',
        )
    )
    run = RunDir(tmp_path / "run")
    run.prepare()
    with run.lock("a test"):
        write_cases(run, [suite])
    row = json.loads(run.cases_file.read_text())
    assert row["vars"] == {"q": "hi", "d": "2024-01-02"}
    assert [(name, case.vars) for name, case in read_cases(run)] == [("s", {"q": "hi", "d": "2024-01-02"})]


@pytest.mark.parametrize("spill_at", [3, 4096])
def test_held_and_spilled_cases_are_written_alike(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spill_at: int
) -> None:
    monkeypatch.setattr(cases_module, "SPILL_AT", spill_at)
    rows = [{"id": f"c{i}", "vars": {"q": f"é {i}", "z": [i, None]}, "reference": "r"} for i in range(10)]
    (tmp_path / "s.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    write(tmp_path / "s.yaml", "name: s\nprompt: '{{ q }}'\ncases: s.jsonl\n")
    suite = load_suite(tmp_path / "s.yaml")
    run = RunDir(tmp_path / "run")
    run.prepare()
    with run.lock("a test"):
        write_cases(run, [suite])
    lines = run.cases_file.read_text(encoding="utf-8").splitlines()
    assert lines[0] == (
        '{"id": "c0", "messages": null, "metadata": {}, '
        f'"origin": "{tmp_path / "s.jsonl"}:1", "references": ["r"], "relevant_ids": [], '
        '"suite": "s", "tags": [], "vars": {"q": "é 0", "z": [0, null]}}'
    )
    assert [json.loads(line)["id"] for line in lines] == [f"c{i}" for i in range(10)]
