"""`evalkit labels import | calibrate`: human labels into a run, and how well judges agree with them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from evalkit.cli._common import user_errors

labels_app = typer.Typer(help="Human labels: import them into a run.", no_args_is_help=True)


SHOWN_LABELLERS = 10  # names printed after an import (a million labellers once printed 9 MB)


@labels_app.command("import")
def labels_import(
    file: Annotated[Path, typer.Argument(help="Labels: JSONL (the report's export) or CSV.")],
    run_dir: Annotated[Path, typer.Argument(help="The run directory the labels are about.")],
) -> None:
    """Add human labels to a run as a `human` score (several labellers allowed); refreshes
    summary.json and the reports. Every label must name an output of the run."""
    from evalkit._util.numbers import number
    from evalkit.cli.render import console, escape
    from evalkit.stages.labelling import import_labels

    with user_errors():
        got = import_labels(file, run_dir)
    shown = ", ".join(escape(name) for name in got.labellers[:SHOWN_LABELLERS])
    more = len(got.labellers) - SHOWN_LABELLERS
    console.print(
        f"imported {number(got.imported, 'count')} label(s): {number(got.labels, 'count')} in the run "
        f"on {number(got.labelled_results, 'count')} result(s), by {shown}"
        + (f" and {number(more, 'count')} more" if more > 0 else ""),
        highlight=False,
    )


def calibrate(
    run_dir: Annotated[Path, typer.Argument(help="A run directory with human labels.")],
    resamples: Annotated[
        int, typer.Option(min=100, max=100_000, help="Bootstrap resamples for the CIs.")
    ] = 1000,
) -> None:
    """Agreement of each judge and pass/fail scorer with the human labels (accuracy, κ, α,
    confusion, leniency, with bootstrap CIs) and judge self-agreement; writes calibration.json."""
    from evalkit.cli.calibration import show_calibration
    from evalkit.rundir.dir import RunDir
    from evalkit.stages.labelling import calibrate_run

    with user_errors():
        cal = calibrate_run(run_dir, resamples=resamples)
    show_calibration(cal, str(RunDir(run_dir).calibration_file))
