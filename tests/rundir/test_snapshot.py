"""The run directory's cases.jsonl: every case of the run's suites, held or spilled, as JSON
whatever values the suite gave (a YAML date is its text, as the suite's content hash has it)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalkit.rundir.dir import RunDir
from evalkit.rundir.snapshot import CasesSnapshot, read_cases, write_cases
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


def _suite_of(tmp_path: Path, n: int):  # type: ignore[no-untyped-def]
    rows = [{"id": f"c{i}", "vars": {"q": f"q {i}"}, "reference": "r"} for i in range(n)]
    (tmp_path / "s.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return load_suite(write(tmp_path / "s.yaml", 'name: s\nprompt: "{{ q }}"\ncases: s.jsonl\n'))


def test_cases_written_in_steps_appear_whole_and_equal_those_written_at_once(tmp_path: Path) -> None:
    suite = _suite_of(tmp_path, 300)
    once, steps = RunDir(tmp_path / "once"), RunDir(tmp_path / "steps")
    for run in (once, steps):
        run.prepare()
    with once.lock("a test"), steps.lock("a test"):
        write_cases(once, [suite])
        steps.cases_file.write_text("an earlier run's\n")
        snapshot = CasesSnapshot(steps, [suite])
        assert not steps.cases_file.exists()  # an earlier run's cases are not this run's
        assert snapshot.step(128) and snapshot.step(128) and not snapshot.step(128)
        assert not steps.cases_file.exists()  # never half written
        snapshot.finish()
        snapshot.finish()  # once
    assert steps.cases_file.read_bytes() == once.cases_file.read_bytes()
    assert [p.name for p in steps.path.iterdir() if p.name.endswith(".tmp")] == []


def test_an_interrupt_in_the_middle_of_a_step_loses_no_case(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from evalkit.rundir import snapshot as snapshot_module

    suite = _suite_of(tmp_path, 20)
    run = RunDir(tmp_path / "run")
    run.prepare()
    real = snapshot_module.jsonl_line
    calls = [0]

    def interrupted(row: dict) -> str:  # type: ignore[type-arg]
        calls[0] += 1
        if calls[0] == 2:
            raise KeyboardInterrupt
        return real(row)

    with run.lock("a test"):
        snapshot = CasesSnapshot(run, [suite])
        assert snapshot.step(5)
        monkeypatch.setattr(snapshot_module, "jsonl_line", interrupted)
        with pytest.raises(KeyboardInterrupt):
            snapshot.step(5)  # rows 5 to 9 taken, cut short at row 6
        snapshot.finish()
    assert [json.loads(line)["id"] for line in run.cases_file.read_text().splitlines()] == [
        f"c{i}" for i in range(20)
    ]


def test_a_full_disk_while_writing_cases_is_raised_before_the_first_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio
    import errno

    from evalkit.errors import DiskFullError
    from evalkit.rundir import files

    suite = _suite_of(tmp_path, 300)
    run = RunDir(tmp_path / "run")
    run.prepare()

    def full(self: files.AtomicFile, pieces: object) -> None:
        self.abort()
        raise files.disk_error(OSError(errno.ENOSPC, "No space left on device"), self.path)

    with run.lock("a test"):
        snapshot = CasesSnapshot(run, [suite])
        monkeypatch.setattr(files.AtomicFile, "write_all", full)
        asyncio.run(snapshot.writing())  # in the background: kept for later
        with pytest.raises(DiskFullError):
            snapshot.finish()  # what the first result's write calls
    assert not run.cases_file.exists()
