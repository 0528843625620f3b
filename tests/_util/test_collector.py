"""The collector's settings during a run or a pass over every result are undone when it ends
(the pytest plugin and notebooks run evalkit in-process), and cyclic garbage is still freed."""

from __future__ import annotations

import gc
import weakref

from evalkit._util.collector import ONE_PASS, THRESHOLDS, long_run


def test_long_run_freezes_what_exists_and_undoes_it_all() -> None:
    before, frozen = gc.get_threshold(), gc.get_freeze_count()
    assert frozen == 0 and before != THRESHOLDS
    kept = [[] for _ in range(100)]  # objects alive on entry
    with long_run():
        assert gc.get_threshold() == THRESHOLDS
        assert gc.get_freeze_count() >= len(kept)
        inner = [[] for _ in range(100)]
        with long_run(ONE_PASS):  # nested: freezes more, its own young threshold, the outer's after
            assert gc.get_threshold() == (ONE_PASS, *THRESHOLDS[1:])
            assert gc.get_freeze_count() >= len(kept) + len(inner)
        assert gc.get_threshold() == THRESHOLDS and gc.get_freeze_count() >= len(kept) + len(inner)
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


def test_a_nested_use_does_not_count_the_frozen_objects(monkeypatch) -> None:
    """Counting walks every frozen object (a few ms once a run froze its own): only the outermost
    use asks, and a nested one leaves the unfreezing to it."""
    asked = []
    count = gc.get_freeze_count
    monkeypatch.setattr(gc, "get_freeze_count", lambda: asked.append(1) or count())
    with long_run():
        with long_run(ONE_PASS):
            assert len(asked) == 1
        assert count() > 0  # the nested use's exit unfroze nothing
    assert len(asked) == 1 and count() == 0


class Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the collector frees it


def test_cyclic_garbage_made_inside_is_still_freed() -> None:
    with long_run(ONE_PASS):
        first = Node()
        alive = weakref.ref(first)
        del first
        for _ in range(ONE_PASS // 10 + 10):  # enough young containers for one collection
            Node(), Node(), Node(), Node(), Node(), Node(), Node(), Node(), Node(), Node()
        assert alive() is None


def test_once_the_cli_keeps_its_start_up_frozen_no_run_counts_or_unfreezes(monkeypatch) -> None:
    """`evalkit run` freezes its start-up for good as its work begins: the run's stages then
    neither walk every frozen object to count them (7 ms before the first request) nor unfreeze."""
    from evalkit._util import collector

    monkeypatch.setattr(collector, "_kept", False)
    asked = []
    count = gc.get_freeze_count
    monkeypatch.setattr(gc, "get_freeze_count", lambda: asked.append(1) or count())
    try:
        collector.keep_frozen()
        frozen = count()
        with long_run():
            pass
        assert asked == [] and count() >= frozen > 0
    finally:
        gc.unfreeze()
