"""The typer app, `evalkit`: the root options and every command group, one module each
(init.py, run.py, labels.py, baseline.py, cache.py, list.py, export.py, history.py, imports.py,
github.py; shared options in _common.py). A command's module is imported, and its typer command
built, only when that command is used (lazy.py); each imports what its commands need only when
they run."""

from __future__ import annotations

from typing import Annotated, ClassVar

import typer

from evalkit.cli.lazy import LazyGroup


class EvalkitGroup(LazyGroup):
    """The root group: every command, each imported and built only when it is used."""

    # the order of `evalkit --help`: the commands, then the command groups
    targets: ClassVar[dict[str, str]] = {
        "init": "evalkit.cli.init:init",
        "run": "evalkit.cli.run:run",
        "score": "evalkit.cli.run:score",
        "merge": "evalkit.cli.run:merge",
        "report": "evalkit.cli.run:report",
        "calibrate": "evalkit.cli.labels:calibrate",
        "diff": "evalkit.cli.baseline:diff",
        "validate": "evalkit.cli.run:validate",
        "list": "evalkit.cli.list:list_",
        "export": "evalkit.cli.export:export",
        "schema": "evalkit.cli.init:schema",
        "labels": "evalkit.cli.labels:labels_app",
        "baseline": "evalkit.cli.baseline:baseline_app",
        "cache": "evalkit.cli.cache:cache_app",
        "history": "evalkit.cli.history:history_app",
        "import": "evalkit.cli.imports:import_app",
        "github": "evalkit.cli.github:github_app",
    }
    starts_itself = frozenset({"run"})  # at its first request, after the imports it needs


app = typer.Typer(
    name="evalkit",
    help="Evaluate and regression-test LLM systems: suites × variants → scores, summaries, verdicts.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=EvalkitGroup,
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
