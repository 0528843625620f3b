"""The typer app, `evalkit`: the root options and every command group, one module each
(init.py, run.py, labels.py, baseline.py, cache.py, list.py, export.py, history.py, imports.py,
github.py; shared options in _common.py). Each module imports what its commands need only when they run."""

from __future__ import annotations

from typing import Annotated

import typer

from evalkit.cli import baseline, cache, export, labels, run
from evalkit.cli import list as list_
from evalkit.cli.github import github_app
from evalkit.cli.helptext import TidyGroup
from evalkit.cli.history import history_app
from evalkit.cli.imports import import_app
from evalkit.cli.init import init as init_command
from evalkit.cli.init import schema as schema_command

app = typer.Typer(
    name="evalkit",
    help="Evaluate and regression-test LLM systems: suites × variants → scores, summaries, verdicts.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=TidyGroup,
)


def _version_callback(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"evalkit {version('evalkit')}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version_callback, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """evalkit: the evaluation and regression-testing harness for LLM systems."""


# the order of `evalkit --help`
app.command(name="init")(init_command)
app.command()(run.run)
app.command()(run.score)
app.command()(run.merge)
app.command()(run.report)
app.add_typer(labels.labels_app, name="labels")
app.command()(labels.calibrate)
app.add_typer(baseline.baseline_app, name="baseline")
app.command()(baseline.diff)
app.command()(run.validate)
app.add_typer(cache.cache_app, name="cache")
app.command(name="list")(list_.list_)
app.command()(export.export)
app.add_typer(history_app, name="history")
app.add_typer(import_app, name="import")
app.add_typer(github_app, name="github")
app.command(name="schema")(schema_command)
