"""The garbage collector's settings while a run works through its cases.

CPython collects its youngest generation every 700 container allocations and, now and then,
walks every object the process holds. A run of 20,000 cases allocates millions of short-lived
objects (requests, answers, scores, result lines) while it holds its plan, suites and imported
modules for its whole length: with the default settings the collector took 16 % of the run's CPU
(measured in benchmarks/bench_scale.py), mostly re-walking objects that live until the end.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

# the youngest generation collected every 10,000 allocations (not 700): almost everything a case
# allocates is freed by reference counting before then, so fewer, emptier passes
THRESHOLDS = (10_000, 10, 10)


@contextlib.contextmanager
def long_run() -> Iterator[None]:
    """For the body: what exists on entry lives on (gc.freeze: the full passes leave it alone)
    and the young generations are collected less often; both undone on exit, so a process that
    runs evalkit in-process (the pytest plugin, a notebook) keeps its own settings. Nested uses
    leave the outer one's freeze in place."""
    thresholds = gc.get_threshold()
    freeze = gc.isenabled() and gc.get_freeze_count() == 0
    if freeze:
        gc.freeze()
    gc.set_threshold(*THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        if freeze:
            gc.unfreeze()
