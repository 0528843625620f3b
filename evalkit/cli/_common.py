"""What every command shares: the options written once, and `user_errors` (an evalkit error is
one line on stderr and its exit code, never a traceback)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from evalkit.errors import EvalkitError

if TYPE_CHECKING:
    from evalkit.history.feed import HistoryFeed
    from evalkit.spec.config import LoadedConfig


@contextmanager
def user_errors() -> Iterator[None]:
    """EvalkitError → one line on stderr and its exit code; no traceback."""
    try:
        yield
    except EvalkitError as exc:
        from evalkit.cli.render import error

        error(str(exc))
        raise typer.Exit(exc.exit_code) from None


SuitesArg = Annotated[
    list[Path] | None,
    typer.Argument(
        help="Suite files or folders (default: the config's suites, else the bundled smoke suite)."
    ),
]
ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="evalkit.yaml (default: ./evalkit.yaml if present)."),
]
VariantsOpt = Annotated[
    list[str] | None, typer.Option("--variant", "-v", help="Only these variants (repeatable).")
]
SuiteOpt = Annotated[str | None, typer.Option("--suite", help="Only this suite.")]
VariantOpt = Annotated[str | None, typer.Option("--variant", help="Only this variant.")]


def history_feed(loaded: LoadedConfig) -> HistoryFeed:
    """The history's per-case rows, fed as the run writes its results (evalkit.history.feed),
    where `after_run` will record the run into a SQLite file (asked with its first result)."""
    from evalkit.history.feed import HistoryFeed

    return HistoryFeed(lambda: _into_sqlite(loaded))


def _into_sqlite(loaded: LoadedConfig) -> bool:
    from evalkit.history.record import history_url, records

    return records(loaded.config.history) and history_url(loaded).startswith("sqlite:///")


def after_run(
    run_dir: Path, loaded: LoadedConfig, exit_code: int, fail_on_alert: bool, feed: HistoryFeed | None = None
) -> int:
    """Record the finished run in the history and check its trend; the run's own verdict wins.
    `feed`: its rows fed as it ran (`history_feed`)."""
    from evalkit.cli.render import show_final_line, show_history_outcome
    from evalkit.history.record import after_run as record

    outcome = record(run_dir, loaded, exit_code, fail_on_alert, feed)
    show_history_outcome(outcome)
    export_traces(run_dir, when_configured=True)
    if outcome is None or not outcome.alerts:
        return exit_code
    final = outcome.exit_code if outcome.exit_code is not None else exit_code
    show_final_line(run_dir, final, fail_on_alert)  # last: the run's outcome, with its alerts
    return final


def export_traces(run_dir: Path, *, when_configured: bool = False) -> bool:
    """Send a run's results as OpenTelemetry traces (evalkit.integrations.otel_out); a failure is
    one warning line, never an exit code. `when_configured`: only if an OTLP endpoint is set."""
    from evalkit._util.numbers import ms
    from evalkit.cli.render import console, warn
    from evalkit.integrations import otel_out

    if when_configured and not otel_out.configured():
        return False
    try:
        got = otel_out.export_run(run_dir)
    except ImportError:
        warn("OpenTelemetry: traces not exported: pip install 'evalkit[otel]'")
        return False
    if got.error is not None:
        warn(f"OpenTelemetry: traces not exported to {got.endpoint}: {got.error}")
        return False
    console.print(
        f"OpenTelemetry: {got.traces} trace(s), {got.spans} span(s) sent to {got.endpoint} "
        f"in {ms(got.seconds * 1000)}",
        markup=False,
        highlight=False,
    )
    return True
