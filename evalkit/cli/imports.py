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
