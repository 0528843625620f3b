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
