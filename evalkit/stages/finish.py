"""`finish(run_dir)`: a run's conclusions re-derived from its directory's files alone.

summary.json (figures, threshold checks, each judge's κ with the people, status and exit code),
diff.json (the gate, redone against the baselines copied into the directory), junit.xml,
summary.md, run.json's status and report.html, in that order, by one function. Every path that
concludes a run calls it — run and resume, score, merge, `labels import`, calibrate,
`evalkit report`, and an interruption while concluding — so no file can disagree with another:
what one path writes, a later `finish` on a copy of the directory writes the same.

What the directory alone cannot know is given by the caller: the baselines folder a run is gated
against *now* (copied in first, then gated from the copy), an interruption or abort that has just
happened, a suite's calibration labels, and run.json's provenance at the end of a run. Left out,
each is what the directory recorded (the copied baselines, the status in summary.json). A run
that has just written its results may hand over the pass over them it fed as it wrote them
(`stages.fedpass`): used only where it is what reading results.jsonl gives, so the files are the
same either way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

from evalkit._util.collector import ONE_PASS, long_run
from evalkit.compare import baseline
from evalkit.compare.aggregate import Summary
from evalkit.errors import ExitCode, UserInputError
from evalkit.human.labels import AnyLabel
from evalkit.rundir.dir import RunDir
from evalkit.rundir.runinfo import RunInfo
from evalkit.rundir.snapshot import suites_from_run
from evalkit.spec.config import GlobalThresholds, RunSettings
from evalkit.stages.conclude import ConcludeInput, Conclusion, conclude
from evalkit.stages.fedpass import FedPass

RECORDED: Literal["recorded"] = "recorded"  # as the run directory recorded it
Stamp = Callable[[RunInfo, Summary], RunInfo]


def finish(
    run_dir: RunDir,
    *,
    baselines: Path | Literal["recorded"] | None = RECORDED,
    interrupted: int | Literal["recorded"] | None = RECORDED,
    aborted: str | Literal["recorded"] | None = RECORDED,
    aborted_exit: int | Literal["recorded"] | None = RECORDED,
    calibration: Sequence[AnyLabel] = (),
    labels: Sequence[AnyLabel] | None = None,
    stamp: Stamp | None = None,
    fed: FedPass | None = None,
) -> Conclusion:
    """Conclude the run in `run_dir` again from its files (the caller holds its lock).

    `baselines`: a folder to gate against (its groups are copied into the directory first), None
    (not gated: an earlier gate is removed), or RECORDED (the copy in the directory, when there is
    one). `interrupted` (130, 143), `aborted` (why the run stopped) and `aborted_exit` (the exit
    code the abort asked for; None: 3): RECORDED keeps what summary.json says. `calibration`: a
    suite's calibration labels, merged into labels.jsonl; `labels`: the run's labels when the
    caller holds them (not read again). `stamp`: run.json as it should be written (default: its
    status, and its exit code once the history set one). `fed`: the pass over the results the
    execute stage fed as it wrote them, taken instead of reading results.jsonl back only where
    it is the same (see `evalkit.stages.fedpass`)."""
    if not run_dir.locked:
        raise RuntimeError(f"{run_dir}: finish() needs the run directory's lock")
    info = run_dir.info()
    previous = _previous(run_dir)
    if interrupted == RECORDED:
        interrupted = _recorded_interruption(info, previous)
    if aborted == RECORDED:
        aborted = previous.aborted if previous is not None else None
    if aborted_exit == RECORDED:  # the exit code an abort asked for (a model the API rejects: 2)
        aborted_exit = previous.exit_code if previous is not None and previous.aborted else None
    if isinstance(baselines, Path):
        baselines = None if interrupted is not None else _copy_baselines(run_dir, info, baselines)
    copied = None if baselines is None else baseline.copied(run_dir)
    settings, max_new_failures = _settings(run_dir, info)
    suites = suites_from_run(run_dir, info, [], cases=False)  # thresholds and rules: no case is read
    conclusion = conclude(
        ConcludeInput(
            run_id=info.run_id,
            run_dir=run_dir,
            suites=suites,
            variants=info.options.variants,
            metrics={s.name: list(s.metrics) for s in info.suites},
            run_settings=settings,
            baselines=copied,
            keep_diff=baselines is not None and copied is None,  # a run gated before copies were kept
            interrupted=interrupted,
            aborted=aborted,
            aborted_exit=aborted_exit,
            max_new_failures=max_new_failures,
            calibration=calibration,
            labels=labels,
            alerts=previous.alerts if previous is not None else 0,
            alert_exit=previous is not None and previous.exit_code == ExitCode.ALERT,
            fed=fed,
        )
    )
    run_dir.write_info((stamp or _stamped)(run_dir.info(), conclusion.summary))
    from evalkit.report import html

    # last: rendered from the files above alone (the case blocks a fresh run built as it wrote
    # its results, where they are what the files give)
    html.write(run_dir, fed.report_blocks() if fed is not None else None)
    return conclusion


def _recorded_interruption(info: RunInfo, previous: Summary | None) -> int | None:
    """The interruption summary.json recorded; a run whose run.json still says "running" (its
    lock is ours, so no process runs it) was killed before it concluded: terminated, never a
    complete run that passed on the results it had written."""
    if previous is not None and previous.status == "interrupted":
        return previous.exit_code
    return ExitCode.TERMINATED if info.status == "running" else None


def _previous(run_dir: RunDir) -> Summary | None:
    """summary.json as the last conclusion wrote it (None: none, or unreadable)."""
    raw = run_dir.summary_data()
    try:
        return None if raw is None else Summary.model_validate(raw)
    except ValueError:
        return None


def _copy_baselines(run_dir: RunDir, info: RunInfo, folder: Path) -> Path:
    """Copy the baselines of the run's suites × variants from `folder` into the directory."""
    groups = [
        group
        for record in info.suites
        for variant in info.options.variants
        if (group := baseline.load(folder, record.name, variant)) is not None
    ]
    baseline.copy_into(run_dir, folder, groups)
    return folder


def _settings(run_dir: RunDir, info: RunInfo) -> tuple[RunSettings, int | None]:
    """The run's budgets and gate settings, as its run.json recorded its config (numbers: data)."""
    try:
        settings = RunSettings.model_validate(info.config.get("run") or info.run_settings or {})
        thresholds = GlobalThresholds.model_validate(info.config.get("thresholds") or {})
    except ValueError:
        raise UserInputError("run.json: config.run or config.thresholds is not valid", path=run_dir) from None
    return settings, thresholds.max_new_failures


def _stamped(info: RunInfo, summary: Summary) -> RunInfo:
    """run.json's status (and exit code, once the history set one) as summary.json's; a run that
    never finished ("running": killed) stays so, whatever its results concluded."""
    if info.status == "running":
        return info
    update: dict[str, object] = {"status": summary.status}
    if info.exit_code is not None:
        update["exit_code"] = summary.exit_code
    return info.model_copy(update=update)


def render_reports(path: Path) -> list[Path]:
    """`evalkit report`: conclude the run again from its files and rebuild junit.xml,
    summary.md and report.html, holding its lock."""
    run_dir = RunDir(path)
    run_dir.require_results()
    run_dir.check_contained()
    with run_dir.lock("evalkit report"), long_run(ONE_PASS):  # one pass over every result: GC paced for it
        finish(run_dir)
    return [run_dir.junit_file, run_dir.summary_md_file, run_dir.report_file]
