"""The run directory is self-contained: score, report and diff work on a copy anywhere, with no
config, suite files or credentials; resume restores every option that decides the outcome and
accepts the original arguments; one process at a time; SIGTERM ends a run like Ctrl-C."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import time
from pathlib import Path

import pytest

from evalkit.rundir.dir import RunDir
from tests.conftest import write
from tests.fake_openai import FakeOpenAI
from tests.helpers.processes import config, evalkit, suite, wait_for_lines


def _run_with_key(workdir: Path, cli, url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MY_KEY", "sk-test-0123456789abcdef")
    suite(workdir / "suites" / "s.yaml", 4)
    config(workdir / "evalkit.yaml", url, extra=", api_key_env: MY_KEY")
    result = cli("run", "suites/s.yaml", "-o", "runs/a", "--no-baseline")
    assert result.exit_code == 0, result.output
    return workdir / "runs" / "a"


def test_score_report_and_diff_work_on_a_copied_run_directory(
    workdir: Path, cli, fake_server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch, tmp_path_factory
) -> None:
    run = _run_with_key(workdir, cli, fake_server.url, monkeypatch)
    elsewhere = tmp_path_factory.mktemp("laptop") / "artifact"
    shutil.copytree(run, elsewhere)
    # the laptop has no key, no config and no suite files
    monkeypatch.delenv("MY_KEY")
    shutil.rmtree(workdir / "suites")
    (workdir / "evalkit.yaml").unlink()
    for name in ("summary.json", "junit.xml", "summary.md", "report.html"):
        (elsewhere / name).unlink()
    requests_before = len(fake_server.requests)

    scored = cli("score", str(elsewhere))
    assert scored.exit_code == 0, scored.output
    summary = json.loads((elsewhere / "summary.json").read_text())
    assert summary["groups"][0]["metrics"]["exact"]["mean"] == 1.0
    assert len(fake_server.requests) == requests_before  # nothing regenerated

    (elsewhere / "junit.xml").unlink()
    (elsewhere / "summary.md").unlink()
    rebuilt = cli("report", str(elsewhere))
    assert rebuilt.exit_code == 0, rebuilt.output
    assert "<testsuite" in (elsewhere / "junit.xml").read_text()
    assert "exact" in (elsewhere / "summary.md").read_text()

    compared = cli("diff", str(elsewhere), str(elsewhere))
    assert compared.exit_code == 0, compared.output


def test_a_run_written_by_the_previous_format_is_read_scored_and_diffed(workdir: Path, cli) -> None:
    fixture = Path(__file__).parent.parent / "fixtures" / "v1"
    run = workdir / "old-run"
    shutil.copytree(fixture / "run", run)
    from evalkit.compare.baseline import load
    from evalkit.rundir.migrations import CURRENT

    info = RunDir(run).info()
    assert info.schema_version == 2 and info.suites[0].name == "qa"
    assert info.suites[0].thresholds["exact"].min == 0.5
    results = list(RunDir(run).results())
    assert len(results) == 12 and all(r.schema_version == CURRENT["result"] for r in results)
    assert {(r.finish_reason, r.vendor_finish_reason) for r in results} == {("stop", None)}
    old = load(fixture / "baselines", "qa", "good")
    assert old is not None and old.meta.schema_version == 2 and len(old.records) == 6

    scored = cli("score", str(run))  # no suite file, no config: the run is re-scored from itself
    assert scored.exit_code == 1, scored.output  # the 'bad' variant fails exact: min 0.5, as before
    summary = json.loads((run / "summary.json").read_text())
    means = {g["variant"]: g["metrics"]["exact"]["mean"] for g in summary["groups"]}
    assert means == {"good": 1.0, "bad": 0.0}
    assert cli("diff", str(fixture / "run"), str(run)).exit_code == 0


def test_result_line_schema_version_matches_the_migrations() -> None:
    from evalkit.rundir.migrations import CURRENT, NewerSchemaError, migrate
    from evalkit.types import CaseResult

    assert CaseResult.model_fields["schema_version"].default == CURRENT["result"]
    with pytest.raises(NewerSchemaError):
        migrate("result", {"schema_version": CURRENT["result"] + 1})


def test_resume_ignores_operational_settings_and_accepts_the_original_command(
    workdir: Path, cli, fake_server: FakeOpenAI
) -> None:
    suite(workdir / "suites" / "s.yaml", 6)
    config(workdir / "evalkit.yaml", fake_server.url)
    first = cli("run", "suites/s.yaml", "-c", "evalkit.yaml", "-o", "runs/a", "--no-baseline")
    assert first.exit_code == 0, first.output
    results = workdir / "runs" / "a" / "results.jsonl"
    results.write_text("".join(results.read_text().splitlines(keepends=True)[:3]))
    # operational settings may change
    config(workdir / "evalkit.yaml", fake_server.url, extra=", concurrency: 2, timeout_s: 5, max_attempts: 2")
    resumed = cli(
        "run", "suites/s.yaml", "-c", "evalkit.yaml", "-o", "runs/a", "--no-baseline", "--resume", "runs/a"
    )
    assert resumed.exit_code == 0, resumed.output
    assert len(results.read_text().splitlines()) == 6
    # an argument that differs is refused, and named
    other = cli("run", "suites/s.yaml", "--repeats", "2", "--resume", "runs/a")
    assert other.exit_code == 2 and "repeats" in other.output
    # a change that alters results is refused
    config(workdir / "evalkit.yaml", fake_server.url.replace("/v1", "/v2"))
    changed = cli("run", "--resume", "runs/a")
    assert changed.exit_code == 2 and "provider 'api'" in changed.output


def test_resume_keeps_the_baseline_the_run_was_gated_against(workdir: Path, cli) -> None:
    answers = {"mode": "right"}

    def responder(body: dict) -> str:
        question = body["messages"][-1]["content"]
        return f"echo: {question}" if answers["mode"] == "right" else "wrong"

    with FakeOpenAI(responder=responder) as server:
        suite(workdir / "suites" / "s.yaml", 12)
        config(workdir / "evalkit.yaml", server.url)
        assert cli("run", "suites/s.yaml", "-o", "runs/good", "--no-baseline").exit_code == 0
        assert cli("baseline", "save", "runs/good", "--to", "blessed").exit_code == 0
        answers["mode"] = "wrong"
        first = cli("run", "suites/s.yaml", "-o", "runs/b", "--baseline", "blessed", "--no-cache")
        assert first.exit_code == 1, first.output
        results = workdir / "runs" / "b" / "results.jsonl"
        results.write_text("".join(results.read_text().splitlines(keepends=True)[:5]))  # "killed"
        (workdir / "runs" / "b" / "summary.json").unlink()
        resumed = cli("run", "--resume", "runs/b")  # the flag is not repeated
        assert resumed.exit_code == 1, resumed.output
        summary = json.loads((workdir / "runs" / "b" / "summary.json").read_text())
        assert summary["baseline"] and summary["baseline"].endswith("blessed")
        refused = cli("run", "--resume", "runs/b", "--no-baseline")
        assert refused.exit_code == 2 and "no-baseline" in refused.output


def test_a_second_process_cannot_use_a_run_directory_in_use(workdir: Path, cli, fake_server) -> None:
    suite(workdir / "suites" / "s.yaml", 2)
    config(workdir / "evalkit.yaml", fake_server.url)
    (workdir / "runs" / "x").mkdir(parents=True)
    with RunDir(workdir / "runs" / "x").lock("a test"):
        busy = cli("run", "suites/s.yaml", "-o", "runs/x", "--no-baseline")
        assert busy.exit_code == 2 and "in use" in busy.output
    assert not fake_server.requests  # refused before any model call
    assert cli("run", "suites/s.yaml", "-o", "runs/x", "--no-baseline").exit_code == 0


def test_a_malformed_baseline_is_refused_before_any_model_call(workdir: Path, cli, fake_server) -> None:
    suite(workdir / "suites" / "s.yaml", 2)
    config(workdir / "evalkit.yaml", fake_server.url)
    write(workdir / "baselines" / "rel" / "default.jsonl", '{"case_id": "c0"}\n')  # no .meta.json
    missing_meta = cli("run", "suites/s.yaml", "-o", "runs/a")
    assert missing_meta.exit_code == 2 and "meta.json" in missing_meta.output
    write(workdir / "baselines" / "rel" / "default.meta.json", "{not json")
    garbled = cli("run", "suites/s.yaml", "-o", "runs/b")
    assert garbled.exit_code == 2 and "default.meta.json:1: invalid JSON" in garbled.output
    assert not fake_server.requests


def test_retry_errors_generates_failed_cases_again(workdir: Path, cli) -> None:
    from tests.fake_openai import Fault

    with FakeOpenAI() as server:
        suite(workdir / "suites" / "s.yaml", 6)
        config(workdir / "evalkit.yaml", server.url, extra=", max_attempts: 1")
        server.add_fault(Fault(status=400, match="question 2"), times=1)
        first = cli("run", "suites/s.yaml", "-o", "runs/a", "--no-baseline")
        assert first.exit_code == 3, first.output  # 1 of 6 errors > 10 % budget
        results = workdir / "runs" / "a" / "results.jsonl"
        assert sum(json.loads(x)["error"] is not None for x in results.read_text().splitlines()) == 1
        again = cli("run", "--resume", "runs/a", "--retry-errors")
        assert again.exit_code == 0, again.output
        rows = [json.loads(x) for x in results.read_text().splitlines()]
        assert len(rows) == 6 and all(r["error"] is None for r in rows)
        assert len({(r["case_id"], r["repeat"]) for r in rows}) == 6


def test_an_empty_rendered_prompt_is_warned_about(workdir: Path, cli, fake_server) -> None:
    write(
        workdir / "s.yaml",
        'name: e\nprompt: "{{ q }}"\nscorers: [exact]\ncases:\n'
        "  - {id: a, vars: {q: ''}, reference: x}\n  - {id: b, vars: {q: hi}, reference: x}\n",
    )
    config(workdir / "evalkit.yaml", fake_server.url)
    result = cli("run", "s.yaml", "-o", "runs/a", "--no-baseline")
    assert "empty user message" in result.output and "e/a" in result.output


def test_sigterm_ends_a_run_like_ctrl_c_with_its_summary_written(workdir: Path) -> None:
    with FakeOpenAI(latency_s=0.2) as server:
        suite(workdir / "suites" / "s.yaml", 60)
        config(workdir / "evalkit.yaml", server.url, extra=", concurrency: 2")
        proc = evalkit(workdir, "run", "suites/s.yaml", "-o", "runs/t", "--no-baseline", wait=False)
        assert not isinstance(proc, type(None))
        wait_for_lines(workdir / "runs" / "t" / "results.jsonl", 4)
        proc.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
        code = proc.wait(timeout=60)  # type: ignore[union-attr]
    assert code == 143
    summary = json.loads((workdir / "runs" / "t" / "summary.json").read_text())
    assert summary["status"] == "interrupted" and summary["exit_code"] == 143
    assert summary["results"] >= 4 and (workdir / "runs" / "t" / "report.html").exists()


@pytest.mark.parametrize("signals", [1, 2])
def test_an_interrupt_while_concluding_still_writes_everything(
    workdir: Path, fake_server, monkeypatch: pytest.MonkeyPatch, signals: int
) -> None:
    """Ctrl-C arriving while the summary is written is held until it is written; run.json and
    summary.json agree that the run was interrupted (they disagreed), and a second Ctrl-C does
    not leave a summary saying passed."""
    from evalkit.stages import finish as finish_module
    from evalkit.stages import pipeline

    real = finish_module.conclude

    def interrupted_conclude(inp):  # type: ignore[no-untyped-def]
        for _ in range(signals):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)
        return real(inp)

    monkeypatch.setattr(finish_module, "conclude", interrupted_conclude)
    suite(workdir / "suites" / "s.yaml", 3)
    config(workdir / "evalkit.yaml", fake_server.url)
    prepared = pipeline.prepare(pipeline.RunOptions(suites=[Path("suites/s.yaml")], no_baseline=True))
    outcome = pipeline.execute(prepared)
    assert outcome.summary.status == "interrupted" and outcome.summary.exit_code == 130
    assert outcome.summary.results == 3
    written = json.loads((prepared.run_dir / "summary.json").read_text())
    assert written["status"] == "interrupted"
    assert json.loads((prepared.run_dir / "run.json").read_text())["status"] == "interrupted"
    assert "INTERRUPTED" in (prepared.run_dir / "summary.md").read_text()
    assert (prepared.run_dir / "report.html").exists()


def test_every_file_written_is_scrubbed_including_baselines_and_ci_files(
    workdir: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    canary = "sk-canary-9f8e7d6c5b4a3210"
    monkeypatch.setenv("MY_KEY", canary)

    def leaky(body: dict) -> str:
        return f"the key is {canary}"

    with FakeOpenAI(responder=leaky) as server:
        suite(workdir / "suites" / "s.yaml", 2)
        config(workdir / "evalkit.yaml", server.url, extra=", api_key_env: MY_KEY")
        cli("run", "suites/s.yaml", "-o", "runs/a", "--no-baseline")
        assert cli("baseline", "save", "runs/a", "--to", "bl").exit_code == 0
    written = [p for p in [*(workdir / "runs").rglob("*"), *(workdir / "bl").rglob("*")] if p.is_file()]
    assert {p.name for p in written} >= {"junit.xml", "summary.md", "default.jsonl", "results.jsonl"}
    for path in written:
        assert canary not in path.read_text(errors="replace"), path


if sys.platform != "linux":  # pragma: no cover
    pytestmark = pytest.mark.skip("signals and flock are tested on Linux")


def test_score_with_edited_suite_files_uses_their_current_scorers(workdir: Path, cli, fake_server) -> None:
    suite(workdir / "suites" / "s.yaml", 3)
    config(workdir / "evalkit.yaml", fake_server.url)
    assert cli("run", "suites/s.yaml", "-o", "runs/a", "--no-baseline").exit_code == 0
    text = (workdir / "suites" / "s.yaml").read_text().replace("scorers: [exact]", "scorers: [exact, chrf]")
    (workdir / "suites" / "s.yaml").write_text(text)
    snapshot_only = cli("score", "runs/a")  # the run as it was recorded: no chrf
    assert snapshot_only.exit_code == 0
    assert (
        "chrf"
        not in json.loads((workdir / "runs" / "a" / "summary.json").read_text())["groups"][0]["metrics"]
    )
    edited = cli("score", "runs/a", "suites/s.yaml")
    assert edited.exit_code == 0, edited.output
    metrics = json.loads((workdir / "runs" / "a" / "summary.json").read_text())["groups"][0]["metrics"]
    assert metrics["chrf"]["mean"] == 100.0
    shutil.rmtree(workdir / "suites")  # the snapshot now holds the edited suite: it scores alone
    assert cli("score", "runs/a").exit_code == 0
    assert "chrf" in json.loads((workdir / "runs" / "a" / "summary.json").read_text())["groups"][0]["metrics"]
    write(workdir / "other.yaml", "name: other\nprompt: hi\ncases: [{id: a}]\n")
    unknown = cli("score", "runs/a", "other.yaml")
    assert unknown.exit_code == 2 and "no suite 'other'" in unknown.output


def test_an_unexpected_error_ends_the_run_as_errors_with_everything_written(
    workdir: Path, fake_server, monkeypatch: pytest.MonkeyPatch
) -> None:
    from evalkit.stages import execute as execute_module
    from evalkit.stages import pipeline

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("a bug in a plugin")

    monkeypatch.setattr(execute_module, "score_batch", broken)
    suite(workdir / "suites" / "s.yaml", 3)
    config(workdir / "evalkit.yaml", fake_server.url)
    prepared = pipeline.prepare(pipeline.RunOptions(suites=[Path("suites/s.yaml")], no_baseline=True))
    outcome = pipeline.execute(prepared)
    assert outcome.summary.status == "errors" and outcome.summary.exit_code == 3
    assert "internal error: RuntimeError: a bug in a plugin" in (outcome.summary.aborted or "")
    for name in ("summary.json", "junit.xml", "summary.md", "report.html"):
        assert (prepared.run_dir / name).exists(), name


def test_a_rescore_that_is_not_gated_drops_the_old_verdicts(
    workdir: Path, cli, fake_server, tmp_path_factory
) -> None:
    suite(workdir / "suites" / "s.yaml", 3)
    config(workdir / "evalkit.yaml", fake_server.url)
    assert cli("run", "suites/s.yaml", "-o", "runs/a", "--no-baseline").exit_code == 0
    assert cli("baseline", "save", "runs/a", "--to", "bl", "--force").exit_code == 0
    assert cli("run", "suites/s.yaml", "-o", "runs/b", "--baseline", "bl").exit_code == 0
    assert (workdir / "runs" / "b" / "diff.json").exists()
    copy = tmp_path_factory.mktemp("elsewhere") / "b"
    shutil.copytree(workdir / "runs" / "b", copy)
    shutil.rmtree(workdir / "bl")
    scored = cli("score", str(copy))
    assert scored.exit_code == 0 and "not gated" in scored.output
    assert not (copy / "diff.json").exists() and not (copy / "baseline.jsonl").exists()


def test_overwrite_removes_the_old_runs_labels_too(workdir: Path, cli, fake_server) -> None:
    suite(workdir / "suites" / "s.yaml", 2)
    config(workdir / "evalkit.yaml", fake_server.url)
    assert cli("run", "suites/s.yaml", "-o", "runs/a", "--no-baseline").exit_code == 0
    (workdir / "runs" / "a" / "labels.jsonl").write_text('{"case_id": "c0"}\n')
    again = cli("run", "suites/s.yaml", "-o", "runs/a", "--no-baseline", "--overwrite")
    assert again.exit_code == 0, again.output
    assert not (workdir / "runs" / "a" / "labels.jsonl").exists()


def _first_result_sees(cases_file: Path) -> tuple[list[int], object]:
    """An observer noting how many lines cases.jsonl has when the first result is written."""
    seen: list[int] = []

    class Watch:
        def status(self, message: str) -> None:
            pass

        def result(self, result: object) -> None:
            if not seen:
                seen.append(len(cases_file.read_text().splitlines()) if cases_file.exists() else -1)

    return seen, Watch()


def test_cases_jsonl_is_written_after_the_first_requests_and_before_the_first_result(
    workdir: Path, fake_server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`evalkit run` leaves cases.jsonl to the execute stage (every case was checked already):
    until the first result it may be missing, never half written, and it is in place, whole,
    before the first result line (here the background writing never starts in time: the first
    result waits for it). Byte for byte what writing it at once gives."""
    from evalkit.stages import pipeline

    monkeypatch.setattr(pipeline, "CASES_AFTER_S", 60.0)
    suite(workdir / "suites" / "s.yaml", 300)
    config(workdir / "evalkit.yaml", fake_server.url)
    options = pipeline.RunOptions(suites=[Path("suites/s.yaml")], no_baseline=True, out=Path("runs/a"))
    prepared = pipeline.prepare(options, cases_later=True)
    cases_file = RunDir(prepared.run_dir).cases_file
    assert (prepared.run_dir / "run.json").exists() and not cases_file.exists()
    seen, watch = _first_result_sees(cases_file)
    outcome = pipeline.execute(prepared, watch)  # type: ignore[arg-type]
    assert outcome.summary.results == 300 and seen == [300]
    at_once = pipeline.prepare(pipeline.RunOptions(suites=[Path("suites/s.yaml")], out=Path("runs/b")))
    at_once.lock.release()
    assert cases_file.read_bytes() == (at_once.run_dir / "cases.jsonl").read_bytes()
    assert not list(prepared.run_dir.glob(".*.tmp"))


def test_cases_jsonl_is_written_while_the_first_requests_are_in_flight(workdir: Path) -> None:
    from evalkit.rundir.files import ResultWriter
    from evalkit.stages import pipeline

    in_place: list[bool] = []  # whether cases.jsonl was there when the first result came
    extend = ResultWriter.extend

    def noting(self: ResultWriter, results: list) -> None:  # type: ignore[type-arg]
        if not in_place:
            in_place.append((self.path.parent / "cases.jsonl").exists())
        extend(self, results)

    with FakeOpenAI(latency_s=0.5) as server, pytest.MonkeyPatch.context() as mp:
        mp.setattr(ResultWriter, "extend", noting)
        suite(workdir / "suites" / "s.yaml", 300)
        config(workdir / "evalkit.yaml", server.url)
        options = pipeline.RunOptions(suites=[Path("suites/s.yaml")], no_baseline=True)
        prepared = pipeline.prepare(options, cases_later=True)
        outcome = pipeline.execute(prepared)
    assert outcome.summary.results == 300
    assert in_place == [True]  # written during the first round trip, not after it
    assert len((prepared.run_dir / "cases.jsonl").read_text().splitlines()) == 300


def test_a_run_interrupted_before_its_first_result_still_writes_its_cases(
    workdir: Path, fake_server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    from evalkit.stages import pipeline
    from evalkit.stages.execute import Runner

    async def interrupted(self: Runner) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(Runner, "run", interrupted)
    suite(workdir / "suites" / "s.yaml", 5)
    config(workdir / "evalkit.yaml", fake_server.url)
    options = pipeline.RunOptions(suites=[Path("suites/s.yaml")], no_baseline=True)
    prepared = pipeline.prepare(options, cases_later=True)
    outcome = pipeline.execute(prepared)
    assert outcome.summary.status == "interrupted" and outcome.summary.results == 0
    assert len((prepared.run_dir / "cases.jsonl").read_text().splitlines()) == 5
    assert not list(prepared.run_dir.glob(".*.tmp"))


def test_resume_writes_the_cases_of_a_run_stopped_before_they_were_in_place(
    workdir: Path, cli, fake_server: FakeOpenAI
) -> None:
    """A run killed after run.json and before cases.jsonl (so before any result): --resume
    writes cases.jsonl as the run would have, and every command reads the directory after."""
    from evalkit.stages import pipeline

    suite(workdir / "suites" / "s.yaml", 4)
    config(workdir / "evalkit.yaml", fake_server.url)
    options = pipeline.RunOptions(suites=[Path("suites/s.yaml")], no_baseline=True, out=Path("runs/a"))
    prepared = pipeline.prepare(options, cases_later=True)
    prepared.dir.result_writer().close()  # the execute stage began (an empty results.jsonl) ...
    prepared.cases.step(2)  # type: ignore[union-attr]  # ... cases half written, then killed
    prepared.lock.release()  # (the lock dies with the process)
    assert not (workdir / "runs" / "a" / "cases.jsonl").exists()
    reported = cli("report", "runs/a")  # readable as it is
    assert reported.exit_code == 0, reported.output
    resumed = cli("run", "--resume", "runs/a")
    assert resumed.exit_code == 0, resumed.output
    absolute = str(workdir / "suites" / "s.yaml")  # as run.json names it: the cases' origins
    assert cli("run", absolute, "-o", "runs/b", "--no-baseline").exit_code == 0
    ours = (workdir / "runs" / "a" / "cases.jsonl").read_bytes()
    assert ours == (workdir / "runs" / "b" / "cases.jsonl").read_bytes()
    assert cli("score", "runs/a").exit_code == 0
    assert json.loads((workdir / "runs" / "a" / "summary.json").read_text())["results"] == 4
