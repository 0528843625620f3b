"""The collector's settings during a run are undone when it ends (the pytest plugin and notebooks
run evalkit in-process)."""

from __future__ import annotations

import gc

from evalkit._util.collector import THRESHOLDS, long_run


def test_long_run_freezes_what_exists_and_undoes_it_all() -> None:
    before, frozen = gc.get_threshold(), gc.get_freeze_count()
    assert frozen == 0 and before != THRESHOLDS
    kept = [[] for _ in range(100)]  # objects alive on entry
    with long_run():
        assert gc.get_threshold() == THRESHOLDS
        assert gc.get_freeze_count() >= len(kept)
        with long_run():  # nested: the outer freeze stays
            assert gc.get_threshold() == THRESHOLDS
        assert gc.get_threshold() == THRESHOLDS and gc.get_freeze_count() >= len(kept)
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
