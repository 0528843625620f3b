"""The garbage collector's settings while evalkit works through many objects: a run's stages,
and one pass over every result (`evalkit report`, the HTML writer).

CPython collects its youngest generation every 700 container allocations and, now and then,
walks every object the process holds. A run of 20,000 cases allocates millions of short-lived
objects (requests, answers, scores, result lines) while it holds its plan, suites and imported
modules for its whole length: with the default settings the collector took 16 % of the run's CPU
(measured in benchmarks/bench_scale.py), mostly re-walking objects that live until the end; a
pass over a million results makes ~100 containers per result, few of them cyclic, and a third of
the report's CPU went to collections that freed nothing.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

# the youngest generation collected every 10,000 allocations (not 700): almost everything a case
# allocates is freed by reference counting before then, so fewer, emptier passes
THRESHOLDS = (10_000, 10, 10)
ONE_PASS = 100_000  # the young generation's threshold for one pass over every result
_depth = 0  # the uses of long_run() now open in this process
_kept = False  # the process froze what it holds for good (`keep_frozen`): never unfrozen here


def keep_frozen() -> None:
    """What exists now stays frozen for the process's life (the CLI's start-up, once the
    command's own work begins): no `long_run` unfreezes it, nor needs to ask whether any was
    (`gc.get_freeze_count()` walks every frozen object: 7 ms before a run's first request)."""
    global _kept
    gc.freeze()
    _kept = True


@contextlib.contextmanager
def long_run(young: int = THRESHOLDS[0]) -> Iterator[None]:
    """For the body: what exists on entry lives on (gc.freeze: the collections leave it alone)
    and the young generation is collected every `young` allocations (cyclic garbage made inside
    is still freed). On exit the thresholds are restored, and the outermost use (none was
    frozen on entry) unfreezes, so a process that runs evalkit in-process (the pytest plugin, a
    notebook) keeps its own settings; a nested use freezes more and leaves the unfreezing to it."""
    global _depth
    thresholds = gc.get_threshold()
    # gc.get_freeze_count() walks every frozen object (a few ms once a run has frozen its own):
    # asked only by the outermost use, a nested one knows an outer use undoes the freezing
    outermost = _depth == 0 and not _kept and gc.get_freeze_count() == 0
    if gc.isenabled():
        gc.freeze()
    gc.set_threshold(young, *THRESHOLDS[1:])
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        gc.set_threshold(*thresholds)
        if outermost:
            gc.unfreeze()
