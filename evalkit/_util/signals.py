"""SIGTERM (what CI runners send) ends a run like Ctrl-C does, and neither may cut the final
writes short: while a run is concluded, both are held and delivered once it is written."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType


class Terminated(KeyboardInterrupt):
    """SIGTERM, delivered as an interrupt so every `except KeyboardInterrupt` path keeps work."""

    exit_code = 143


def interrupt_exit_code(exc: BaseException) -> int:
    return getattr(exc, "exit_code", 130)


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within this block SIGTERM raises `Terminated` (a KeyboardInterrupt)."""
    if not _main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def held_interrupts() -> Iterator[list[int]]:
    """Hold SIGINT and SIGTERM for the block; afterwards, raise the interrupt that came in."""
    received: list[int] = []
    if not _main_thread():
        yield received
        return

    def record(signum: int, frame: FrameType | None) -> None:
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
