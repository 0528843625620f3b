"""`finish(run_dir)`: every conclusion of a run re-derived from its directory's files alone. On a
copy of the directory (anywhere, the baselines folder gone) it writes the same files, byte for
byte but for timestamps, as the paths that concluded the original; an interrupted run stays
interrupted in every file."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import time
from pathlib import Path

import pytest

from evalkit.rundir.dir import RUN_FILES, RunDir
from evalkit.stages.finish import finish
from tests.conftest import write
from tests.helpers.processes import config

STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(\+00:00|Z)?")
CONCLUDED = ("summary.json", "diff.json", "junit.xml", "summary.md", "report.html", "run.json")


def two_scorer_suite(path: Path, n: int) -> Path:
    """Scorers not in alphabetical order (summary.json's keys are sorted: a report rendered from
    it once ordered its columns otherwise than one rendered while the run concluded)."""
    cases = "\n".join(
        f"  - {{id: c{i}, vars: {{q: 'question {i}'}}, reference: 'echo: question {i % 3}'}}"
        for i in range(n)
    )
    return write(path, f'name: s\nprompt: "{{{{ q }}}}"\nscorers: [exact, chrf]\ncases:\n{cases}\n')


def files_of(run_dir: Path) -> dict[str, str]:
    return {
        name: STAMP.sub("<time>", (run_dir / name).read_text())
        for name in RUN_FILES
        if (run_dir / name).is_file()
    }


@pytest.fixture
def gated(workdir: Path, cli, fake_server) -> Path:
    two_scorer_suite(workdir / "suites" / "s.yaml", 6)
    config(workdir / "evalkit.yaml", fake_server.url)
    assert cli("run", "suites/s.yaml", "-o", "runs/a", "--no-baseline", "--no-history").exit_code == 0
    assert cli("baseline", "save", "runs/a", "--to", "bl", "--force").exit_code == 0
    ran = cli("run", "suites/s.yaml", "-o", "runs/b", "--baseline", "bl", "--no-history")
    assert ran.exit_code == 0, ran.output
    return workdir / "runs" / "b"


def test_finish_on_a_copy_elsewhere_writes_the_same_files(gated: Path, tmp_path_factory, cli) -> None:
    original = files_of(gated)
    assert set(CONCLUDED) <= set(original) and "baseline.meta.json" in original
    copy = tmp_path_factory.mktemp("elsewhere") / "b"
    shutil.copytree(gated, copy)
    shutil.rmtree(gated.parent.parent / "bl")  # the gate is redone from the copied baselines
    os.chdir(copy.parent)
    run_dir = RunDir(copy)
    with run_dir.lock("test"):
        conclusion = finish(run_dir)
    assert conclusion.diff is not None and conclusion.summary.exit_code == 0
    assert files_of(copy) == original
    assert cli("report", str(copy)).exit_code == 0  # `evalkit report` is the same finish
    assert files_of(copy) == original


def test_concluding_reads_no_case_data(gated: Path) -> None:
    """summary.json, diff.json, junit.xml and summary.md come from results.jsonl and run.json
    alone: cases.jsonl (each case's vars, which the report shows) is not read to conclude."""
    original = files_of(gated)
    (gated / "cases.jsonl").write_text("not a case line\n")
    run_dir = RunDir(gated)
    with run_dir.lock("test"):
        finish(run_dir)
    after = files_of(gated)
    assert {n: after[n] for n in CONCLUDED[:4]} == {n: original[n] for n in CONCLUDED[:4]}


def test_labels_import_on_a_copy_concludes_like_the_original(gated: Path, tmp_path_factory, cli) -> None:
    write(
        gated.parent.parent / "l.jsonl",
        '{"suite": "s", "case": "c1", "labeller": "ann", "verdict": "fail"}\n',
    )
    copy = tmp_path_factory.mktemp("elsewhere") / "b"
    shutil.copytree(gated, copy)
    assert cli("labels", "import", "l.jsonl", str(gated)).exit_code == 0
    shutil.rmtree(gated.parent.parent / "bl")
    assert cli("labels", "import", "l.jsonl", str(copy)).exit_code == 0
    imported = files_of(gated)
    assert '"human"' in imported["diff.json"]  # gated again: the human score is compared too
    assert files_of(copy) == imported


def test_finish_needs_the_lock(gated: Path) -> None:
    with pytest.raises(RuntimeError, match="lock"):
        finish(RunDir(gated))


def test_an_interrupted_run_stays_interrupted_in_every_file(
    workdir: Path, fake_server, monkeypatch: pytest.MonkeyPatch, tmp_path_factory, cli
) -> None:
    """A Ctrl-C while concluding: summary.json, run.json, junit.xml, summary.md and the report
    say interrupted (130), and `evalkit report` or `labels import` later keeps it so."""
    from evalkit.stages import finish as finish_module
    from evalkit.stages import pipeline

    real = finish_module.conclude

    def interrupted_conclude(inp):  # type: ignore[no-untyped-def]
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)
        return real(inp)

    two_scorer_suite(workdir / "suites" / "s.yaml", 3)
    config(workdir / "evalkit.yaml", fake_server.url)
    monkeypatch.setattr(finish_module, "conclude", interrupted_conclude)
    prepared = pipeline.prepare(pipeline.RunOptions(suites=[Path("suites/s.yaml")], no_baseline=True))
    outcome = pipeline.execute(prepared)
    monkeypatch.setattr(finish_module, "conclude", real)
    run = prepared.run_dir

    def statuses() -> tuple[str, int, str, bool, bool]:
        summary = json.loads((run / "summary.json").read_text())
        info = json.loads((run / "run.json").read_text())
        md = "INTERRUPTED" in (run / "summary.md").read_text()
        html = 'class="banner interrupted"' in (run / "report.html").read_text()
        return summary["status"], summary["exit_code"], info["status"], md, html

    assert outcome.summary.status == "interrupted"
    assert statuses() == ("interrupted", 130, "interrupted", True, True)
    interrupted = files_of(run)
    assert cli("report", str(run)).exit_code == 0
    assert files_of(run) == interrupted
    write(workdir / "l.jsonl", '{"suite": "s", "case": "c0", "labeller": "ann", "verdict": "pass"}\n')
    assert cli("labels", "import", "l.jsonl", str(run)).exit_code == 0
    assert statuses() == ("interrupted", 130, "interrupted", True, True)


def test_a_killed_run_is_reported_as_terminated_not_passed(gated: Path, cli) -> None:
    """A run killed before it concluded (SIGKILL, out of memory: run.json still says
    "running") that `evalkit report` concluded said PASSED on its partial results, with
    junit.xml and summary.md green, even with no result at all."""
    info = json.loads((gated / "run.json").read_text())
    (gated / "run.json").write_text(json.dumps({**info, "status": "running"}))
    for name in ("summary.json", "diff.json", "junit.xml", "summary.md", "report.html"):
        (gated / name).unlink(missing_ok=True)
    lines = (gated / "results.jsonl").read_text().splitlines(keepends=True)
    for kept in (lines[:2], []):
        (gated / "results.jsonl").write_text("".join(kept))
        assert cli("report", str(gated)).exit_code == 0
        summary = json.loads((gated / "summary.json").read_text())
        assert (summary["status"], summary["exit_code"]) == ("interrupted", 143)
        assert "PASSED" not in (gated / "summary.md").read_text()
        assert "INTERRUPTED" in (gated / "summary.md").read_text()
        assert json.loads((gated / "run.json").read_text())["status"] == "running"
