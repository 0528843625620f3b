"""Charts: small multiples (one strip per variant), whole names, no axis for a constant metric."""

from __future__ import annotations

import re
import tracemalloc
from array import array

from evalkit.report import charts

LONG = "a-suite-with-a-long-name · prompt-v2-reply-in-french-with-citations"


def test_each_variant_gets_its_own_strip_and_its_full_name() -> None:
    html = charts.distribution("rougeL", {LONG: [0.1, 0.5, 0.9], "short": [0.2, 0.3, 0.35]})
    assert html.count('<svg class="chart strip"') == 2  # small multiples, never overlaid
    assert LONG in html.replace("&#x27;", "'")  # the legend is HTML text: whole, never cut
    assert re.search(r"n = 3 · mean 0\.500", html) and "0.100" in html and "0.900" in html


def test_a_constant_metric_is_said_not_drawn() -> None:
    html = charts.distribution("exact", {"a": [0.5, 0.5], "b": [0.5]})
    assert "<svg" not in html and "Every measured value is 0.500 (3 values)" in html


def test_a_pass_fail_metric_is_a_share_per_variant() -> None:
    html = charts.distribution("exact", {"a": [1.0, 1.0, 0.0, 1.0], "b": [0.0, 0.0, 0.0, 1.0]})
    assert "share passing" in html and "75.0% of 4" in html and "25.0% of 4" in html


def test_latency_ticks_and_values_in_the_label() -> None:
    markers = {"a": {"P50": 12_000.0, "P95": 66_330.0}}
    html = charts.latency("latency", {"a": [10_000.0, 12_000.0, 70_000.0]}, markers)
    assert "P50 12,000 · P95 66,330 ms" in html and html.count("stroke-dasharray") == 2


def test_coinciding_cost_quality_points_are_told_apart_in_the_legend() -> None:
    html = charts.pareto("cost vs quality", [("a", 1.2e-5, 0.5), ("b", 1.2e-5, 0.5)], "cost", "pass rate")
    radii = re.findall(r'<circle [^>]*r="(\d+)"', html)
    assert len(set(radii)) == 2  # the later point is smaller, so both stay visible
    assert html.count("$0.000012 per case") == 2 and "e-05" not in html


def test_arrays_draw_as_lists_do_and_their_values_are_never_listed() -> None:
    """The report's series are arrays of doubles: the same charts as lists (an empty variant, a
    0/1 metric against one that is not), and 200,000 values cost no list of Python floats."""
    lists = {"a": [0.0, 1.0, 1.0], "b": [], "c": [0.25, 1.0]}
    arrays = {name: array("d", vs) for name, vs in lists.items()}
    assert charts.distribution("m", arrays) == charts.distribution("m", lists)
    passfail = {"a": [0.0, 1.0, -0.0], "b": [1.0]}
    assert "share passing" in charts.distribution("m", {k: array("d", v) for k, v in passfail.items()})
    assert charts.latency("l", arrays, {}) == charts.latency("l", lists, {})
    assert charts.distribution("m", {"a": array("d")}) == charts.latency("l", {"a": []}, {}) == ""
    big = {"a": array("d", (i % 1000 / 7 for i in range(200_000)))}
    tracemalloc.start()
    try:
        html = charts.distribution("m", big) + charts.latency("l", big, {})
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "n = 200,000" in html and peak < 1_000_000  # a list of them: 6 MB
