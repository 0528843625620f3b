"""SIGTERM (what CI runners send) ends a run like Ctrl-C does, and neither may cut the final
writes short: while a run is concluded, both are held and delivered once it is written."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

from evalkit.errors import ExitCode


class Terminated(KeyboardInterrupt):
    """SIGTERM, delivered as an interrupt so every `except KeyboardInterrupt` path keeps work."""

    exit_code = ExitCode.TERMINATED


_delivered = [0]  # SIGINT/SIGTERM received while `sigterm_as_interrupt` is in force


def interrupt_exit_code(exc: BaseException) -> ExitCode:
    return ExitCode.TERMINATED if isinstance(exc, Terminated) else ExitCode.INTERRUPTED


def signals_delivered() -> int:
    """How many SIGINT/SIGTERM this process has received during a run (see `callee_exit`)."""
    return _delivered[0]


def callee_exit(exc: BaseException, delivered_before: int) -> bool:
    """Whether `exc` (a SystemExit or KeyboardInterrupt) was raised by user code evalkit called
    (a tool, a `python` provider) rather than by a real Ctrl-C or SIGTERM: user code never
    decides evalkit's exit code, so such an exit becomes that case's error."""
    if isinstance(exc, SystemExit):
        return True
    return isinstance(exc, KeyboardInterrupt) and signals_delivered() == delivered_before


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within this block SIGTERM raises `Terminated` (a KeyboardInterrupt), and both signals are
    counted, so an interrupt raised by user code can be told from a real one."""
    if not _main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        _delivered[0] += 1
        raise Terminated()

    def on_interrupt(signum: int, frame: FrameType | None) -> None:
        _delivered[0] += 1
        raise KeyboardInterrupt()

    previous = signal.signal(signal.SIGTERM, handler)
    previous_int = signal.signal(signal.SIGINT, on_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, previous_int)


@contextlib.contextmanager
def held_interrupts() -> Iterator[list[int]]:
    """Hold SIGINT and SIGTERM for the block; afterwards, raise the interrupt that came in."""
    received: list[int] = []
    if not _main_thread():
        yield received
        return

    def record(signum: int, frame: FrameType | None) -> None:
        _delivered[0] += 1
        received.append(signum)

    previous = {sig: signal.signal(sig, record) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield received
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if signal.SIGTERM in received:
        raise Terminated()
    if received:
        raise KeyboardInterrupt()
