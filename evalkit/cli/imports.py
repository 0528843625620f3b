"""`evalkit import`: other tools' data and configs written as evalkit suites."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from evalkit.cli._common import user_errors

import_app = typer.Typer(
    help="Write evalkit suites from other tools' data and configs.", no_args_is_help=True
)

CategoryArg = Annotated[
    str, typer.Argument(help="simple (simple_python), multiple, parallel or parallel_multiple")
]
OutOpt = Annotated[Path, typer.Option("--out", "-o", help="Folder for the suite and its cases.")]
DataOpt = Annotated[
    Path | None,
    typer.Option(help="BFCL_v4_<category>.json with possible_answer/ (default: the bfcl-eval package's)."),
]


@import_app.command("bfcl")
def import_bfcl(
    category: CategoryArg,
    out: OutOpt = Path("suites"),
    data: DataOpt = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Convert the first N cases only.")] = None,
) -> None:
    """Convert a Berkeley Function Calling Leaderboard category into a suite (tools per case,
    BFCL's acceptable answers, scored by tool_arguments as BFCL's checker scores them)."""
    from evalkit.cli.render import console
    from evalkit.importers import bfcl

    with user_errors():
        path = bfcl.write_suite(category, out, data, limit)
    cases = path.with_suffix(".jsonl").name
    console.print(f"wrote {path} and its cases ({cases})", markup=False, highlight=False)


@import_app.command("promptfoo")
def import_promptfoo(
    config: Annotated[Path, typer.Argument(help="promptfooconfig.yaml")],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Folder for evalkit.yaml, prompts/ and suites/.")
    ] = Path("."),
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace an evalkit.yaml already there.")
    ] = False,
) -> None:
    """Convert a promptfoo config: providers, prompts, tests and defaultTest vars, and the
    assertions that have an evalkit scorer. Everything not mapped is listed with its file, line
    and path (the import still succeeds); where evalkit's figure differs from promptfoo's, it says how."""
    from evalkit.cli.render import console, warn
    from evalkit.importers import promptfoo

    with user_errors():
        report = promptfoo.import_config(config, out, overwrite=overwrite)
    for path in report.written:
        console.print(f"wrote {path}", markup=False, highlight=False)
    console.print(f"{report.cases} test(s) converted", markup=False, highlight=False)
    for note in report.notes:
        console.print(f"note: {note}", markup=False, highlight=False)
    for line in report.unmapped:
        warn(f"not mapped: {line}")
    if report.unmapped:
        console.print(
            f"{len(report.unmapped)} item(s) not mapped (listed above)", markup=False, highlight=False
        )


@import_app.command("traces")
def import_traces(
    source: Annotated[Path, typer.Argument(help="An OTLP JSON trace export, or a folder of them.")],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Folder for suites/, traces/ and evalkit.yaml.")
    ] = Path("."),
    suite: Annotated[str, typer.Option("--suite", help="The suite's name.")] = "production",
    sample: Annotated[
        float,
        typer.Option("--sample", min=0.0, max=1.0, help="Keep this fraction of the traces (by trace id)."),
    ] = 1.0,
    seed: Annotated[str, typer.Option("--seed", help="Another seed draws another sample.")] = "evalkit",
    scrub_pii: Annotated[
        bool, typer.Option("--scrub-pii", help="Replace e-mails, phone, card and ID numbers, API keys.")
    ] = False,
) -> None:
    """Turn an application's traces (OpenTelemetry GenAI or OpenInference spans, exported as OTLP
    JSON) into cases with their recorded outputs and steps, replayed by a `production` variant so
    trajectory scorers, judges and the gate run on real traffic."""
    from evalkit.cli.render import console, warn
    from evalkit.importers import traces

    with user_errors():
        got = traces.import_traces(source, out, suite=suite, sample=sample, seed=seed, scrub_pii=scrub_pii)
    for line in got.skipped:
        warn(f"not imported: {line}")
    console.print(
        f"{got.cases} case(s) from {got.traces} trace(s) → {got.suite} (answers: {got.results})",
        markup=False,
        highlight=False,
    )
    if got.config is not None:
        console.print(f"wrote {got.config} (a `production` replay variant)", markup=False, highlight=False)
    console.print(
        "add scorers to the suite (tool_called, step_budget, judge, ...), then: evalkit run",
        markup=False,
        highlight=False,
    )
