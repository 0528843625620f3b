"""`evalkit labels import` and `evalkit calibrate`: what people said, stored in a run directory,
and the run concluded again from it (`finish`), holding the directory's lock. The lock is taken
first, before the heavy imports and the reading, so a second writer is refused at once."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from evalkit.errors import UserInputError
from evalkit.rundir.dir import RunDir

if TYPE_CHECKING:
    from evalkit.human.calibrate import Calibration
    from evalkit.human.scores import ImportOutcome


def import_labels(path: Path, run_path: Path) -> ImportOutcome:
    """Check every label against the run, then store them and conclude the run again: the human
    scores, each judge's κ and its threshold checks, status and exit code, the gate and every
    report. A Ctrl-C or SIGTERM meanwhile is delivered once all of it is written."""
    run_dir = RunDir(run_path)
    run_dir.require_results()
    with run_dir.lock("evalkit labels import"):
        from evalkit._util.signals import held_interrupts
        from evalkit.human import labels as lb
        from evalkit.human.scores import ImportOutcome
        from evalkit.stages.finish import finish

        new = lb.read_labels(path)
        if not new:
            raise UserInputError("no labels in the file", path=path)
        results = list(run_dir.results())
        lb.check_against_run(path, new, run_dir.info().run_id, results)
        merged = lb.merge(lb.stored_labels(run_dir), new)
        with held_interrupts():
            lb.write_labels(run_dir, merged)
            finish(run_dir, labels=merged)
    return ImportOutcome(
        imported=len(new),
        labels=len(merged),
        labelled_results=lb.labelled(merged, results),
        labellers=sorted({x.labeller for x in merged}),
    )


def calibrate_run(run_path: Path, resamples: int = 1000) -> Calibration:
    """`evalkit calibrate`: calibration.json, and the run concluded again with it."""
    run_dir = RunDir(run_path)
    run_dir.require_results()
    with run_dir.lock("evalkit calibrate"):
        from evalkit.human.calibrate import calibrate
        from evalkit.stages.finish import finish

        cal = calibrate(run_dir, resamples=resamples)
        finish(run_dir)
    return cal
