"""`evalkit export`: results as a table (CSV or Parquet), from a run directory or the history."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from evalkit.cli._common import ConfigOpt, user_errors
from evalkit.errors import ExitCode, UserInputError


def export(
    run_dir: Annotated[
        Path | None, typer.Argument(help="A run directory (or use --history for the recorded runs).")
    ] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="FILE.csv or FILE.parquet.")] = Path("results.csv"),
    history: Annotated[
        bool, typer.Option("--history", help="Export the history's cases instead (one row per run too).")
    ] = False,
    suite: Annotated[str | None, typer.Option("--suite", help="Only this suite.")] = None,
    variant: Annotated[str | None, typer.Option("--variant", help="Only this variant.")] = None,
    last: Annotated[int | None, typer.Option("--last", min=1, help="--history: the newest N runs.")] = None,
    config: ConfigOpt = None,
    otlp: Annotated[
        bool,
        typer.Option(
            "--otlp",
            help="Send RUN_DIR's results as OpenTelemetry traces to OTEL_EXPORTER_OTLP_ENDPOINT instead.",
        ),
    ] = False,
    mlflow: Annotated[
        bool, typer.Option("--mlflow", help="Log RUN_DIR to an MLflow tracking server instead.")
    ] = False,
    mlflow_uri: Annotated[
        str | None,
        typer.Option(
            "--mlflow-uri", metavar="URL", help="The tracking server (default MLFLOW_TRACKING_URI)."
        ),
    ] = None,
    experiment: Annotated[
        str, typer.Option("--experiment", help="--mlflow: the MLflow experiment.")
    ] = "evalkit",
) -> None:
    """Write results as a table (one row per case × variant × repeat, a column per score) to CSV
    or Parquet, from a run directory or from the history; or send a run to an OpenTelemetry
    collector (--otlp) or an MLflow tracking server (--mlflow)."""
    from evalkit.cli.render import console
    from evalkit.history import frames

    with user_errors():
        if (run_dir is None) == (not history):
            raise UserInputError("export: give a RUN_DIR or --history (one of them)")
        if otlp:
            from evalkit.cli._common import export_traces
            from evalkit.rundir.dir import RunDir

            if run_dir is None or not RunDir(run_dir).results_file.is_file():
                raise UserInputError("--otlp exports a run directory (with results.jsonl)", path=run_dir)
            raise typer.Exit(ExitCode.OK if export_traces(run_dir) else ExitCode.FAILED)
        if mlflow:
            if run_dir is None:
                raise UserInputError("--mlflow exports a run directory")
            raise typer.Exit(_to_mlflow(run_dir, mlflow_uri, experiment))
        if history:
            from evalkit.history.record import open_store
            from evalkit.history.store import Filters
            from evalkit.spec.config import load_config

            store = open_store(load_config(config), reading=True)
            try:
                frame = frames.history_frame(store, Filters(suite=suite, variant=variant, last=last))
            finally:
                store.close()
        else:
            assert run_dir is not None
            frame = frames.load_run(run_dir)
            if suite or variant:
                frame = frame[
                    (frame["suite"] == (suite or frame["suite"]))
                    & (frame["variant"] == (variant or frame["variant"]))
                ]
        path = frames.write(frame, out)
    console.print(f"wrote {len(frame)} rows to {path}", highlight=False)


def _to_mlflow(run_dir: Path, uri: str | None, experiment: str) -> ExitCode:
    from evalkit.cli.render import console, warn
    from evalkit.integrations import mlflow_export

    try:
        got = mlflow_export.export_run(run_dir, tracking_uri=uri, experiment=experiment)
    except mlflow_export.MlflowError as exc:
        warn(f"MLflow: not exported: {exc}")
        return ExitCode.FAILED
    console.print(
        f"MLflow: run {got.parent_run_id} in experiment {got.experiment_id}: {got.runs} run(s), "
        f"{got.metrics} metric(s), {got.artifacts} artifact(s)",
        markup=False,
        highlight=False,
    )
    return ExitCode.OK
