"""What evalkit shows in a terminal while a command works: the consoles, errors, warnings and
notices, and a run's progress bar. The outcome's tables (summaries, gates) are in
`evalkit.cli.render`, which loads what figures need (the aggregate and gate modules) only once
there is an outcome to show: `evalkit run` imports this module before its first request."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.markup import escape as markup_escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from evalkit._util import secrets
from evalkit._util.textsafe import terminal_text
from evalkit.types import CaseResult

console = Console()
err_console = Console(stderr=True)


def escape(text: str) -> str:
    """Data for a rich markup string: its markup escaped and its control characters, newlines
    included, shown as escapes (an ESC or OSC sequence in a case id never reaches the terminal,
    and a case id or suite name cannot print a line of its own)."""
    return markup_escape(terminal_text(str(text)))


def escape_message(text: str) -> str:
    """`escape`, keeping the newlines of a message that has several lines."""
    return markup_escape(terminal_text(str(text), lines=True))


def error(message: str) -> None:
    text = escape_message(secrets.scrub(message))
    err_console.print(f"[bold red]error:[/] {text}", highlight=False, soft_wrap=True)


def warn(message: str) -> None:
    # wrapped by rich on word boundaries, never by the terminal mid-word
    err_console.print(f"[yellow]warning:[/] {escape_message(secrets.scrub(message))}", highlight=False)


def notices() -> None:
    """What the library noted for a person: secrets too short to scrub (evalkit._util.secrets), a
    corrupt response cache moved aside (evalkit.providers.cache)."""
    from evalkit.providers import cache

    for message in [*secrets.take_warnings(), *cache.take_notices()]:
        warn(message)


class ProgressObserver:
    """A rich progress bar fed by the runner as results arrive."""

    def __init__(self, total: int, description: str):
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("[red]{task.fields[errors]} errors"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self.task = self.progress.add_task(description, total=total, errors=0)
        self.errors = 0
        self.done = 0  # results counted here, handed to the bar at most every TICK_S
        self.shown = 0
        self.last = 0.0

    TICK_S = 0.05  # the bar redraws 10 times a second: per-result updates cost CPU, not news

    def __enter__(self) -> ProgressObserver:
        self.progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._flush()
        self.progress.stop()

    def _flush(self) -> None:
        self.progress.update(self.task, advance=self.done - self.shown, errors=self.errors)
        self.shown = self.done
        self.last = time.monotonic()

    def status(self, message: str) -> None:
        self.progress.update(self.task, description=message)
        if not console.is_terminal and message != "evaluating":
            # no live bar in a CI log: what the run is doing goes out as plain lines
            console.print(f"  {escape_message(message)}", highlight=False)

    def result(self, result: CaseResult) -> None:
        if result.error is not None:
            self.errors += 1
        self.done += 1
        if time.monotonic() - self.last >= self.TICK_S:
            self._flush()
