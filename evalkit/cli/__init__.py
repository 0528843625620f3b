"""Command-line interface. Kept thin: parse, call, render, exit code."""

from __future__ import annotations

import gc

# While evalkit starts (imports, pydantic models and validators, the typer command: a few hundred
# thousand objects, which live as long as the process) Python's cyclic collector would walk them
# again and again: over a tenth of a 10-case run's CPU. Until the command's own work begins, it runs
# rarely; then what starting made is frozen out of every later collection (`gc.freeze`) and the
# collector runs as usual (the run's stages set their own, evalkit/_util/collector.py).
STARTUP_THRESHOLD = (100_000, 50, 50)
_usual: tuple[int, int, int] | None = None


def main() -> None:
    global _usual
    _usual = gc.get_threshold()
    gc.set_threshold(*STARTUP_THRESHOLD)
    from evalkit.cli.app import app

    app()


def started() -> None:
    """The command's own work begins (`evalkit run`: its first request; every other command: as
    it is called): the collector as usual from now on. Only after `main()`: an app invoked
    in-process (tests) keeps its collector as it was."""
    global _usual
    if _usual is None:
        return
    from evalkit._util import collector

    collector.keep_frozen()
    gc.set_threshold(*_usual)
    _usual = None
