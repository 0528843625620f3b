"""history.check: the points an alert check reads from the history. Each case's value is the
mean of its repeats exactly as statistics.fmean gives it over the stored scores, on every store
a run records through."""

from __future__ import annotations

import statistics
from collections import defaultdict
from pathlib import Path

from evalkit.history import lite
from evalkit.history.base import Filters
from evalkit.history.check import load_points
from tests.history.fabricate import Case, Group, make_run


def test_per_case_values_are_fmean_over_the_repeats(tmp_path: Path) -> None:
    cases = [
        Case("a", {"q": 0.1, "r": -0.0}, passed=True),
        Case("b", {"q": -0.0, "r": -0.0}, repeat=1),
        Case("a", {"q": 0.2, "r": None}, passed=False, repeat=1),
        Case("a", {"q": 0.7, "r": 1.0}, passed=True, repeat=2),
        Case("b", {"q": -0.0, "r": 0.3}),
        Case("c", {"q": 0.5, "r": 0.25}, error="HTTP 500"),
    ]
    groups = [Group("s", "v", cases, scorers=["q", "r"]), Group("s", "w", cases[3:], scorers=["q", "r"])]
    url = f"sqlite:///{tmp_path / 'h.sqlite'}"
    lite.create_if_missing(url)
    store = lite.open_current(url)
    assert store is not None
    ids = [store.record(make_run(tmp_path / "runs", i, groups)).run_id for i in range(2)]
    expected: dict[tuple[str, str, str], dict[str, dict[str, list[float]]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(list))
    )
    for c in store.cases(ids):  # the straightforward reading, dicts and fmean
        bucket = expected[(c["suite"], c["variant"], c["run_id"])]
        for name, value in c["scores"].items():
            if value is not None:
                bucket[name][c["case_id"]].append(float(value))
        if c["passed"] is not None:
            bucket["pass_rate"][c["case_id"]].append(1.0 if c["passed"] else 0.0)
    points = load_points(store, ids, Filters())
    got = {(s, v, p.run_id): p.cases for (s, v), series in points.items() for p in series}
    want = {
        key: {name: {case: statistics.fmean(vs) for case, vs in per.items()} for name, per in names.items()}
        for key, names in expected.items()
    }
    assert repr(sorted(got.items())) == repr(sorted(want.items()))  # repr: -0.0 is not 0.0
    assert got[("s", "v", ids[0])]["q"]["a"] == statistics.fmean([0.1, 0.2, 0.7])
    assert set(got[("s", "v", ids[0])]["pass_rate"]) == {"a"}  # an error has no verdict
    store.close()
