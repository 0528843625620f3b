"""Build alert inputs from the history database and run the rules for one run."""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from evalkit.errors import UserInputError
from evalkit.history.alerts import Alert, Point, evaluate
from evalkit.history.base import Filters
from evalkit.spec.history import AlertRules

if TYPE_CHECKING:
    from evalkit.history.lite import LiteStore
    from evalkit.history.store import HistoryStore


def check_run(
    store: HistoryStore | LiteStore, run_id: str | None, rules: AlertRules, filters: Filters | None = None
) -> list[Alert]:
    """Alerts for `run_id` (default: the newest matching run) against the runs before it."""
    filters = filters or Filters()
    scope = {**filters.__dict__, "run_id": run_id, "last": rules.window + 2}
    ids = [r["run_id"] for r in store.runs(Filters(**scope))]  # up to and including run_id
    current_id = run_id or (ids[-1] if ids else None)
    if run_id is not None and run_id not in ids:
        raise UserInputError(f"no run '{run_id}' in the history (that matches the filters)")
    if current_id is None:
        return []
    ids = ids[: ids.index(current_id) + 1]
    # Per-case values only serve the paired quality test, which needs min_history earlier runs:
    # a history with fewer (a project's first runs, every run on a CI runner that starts clean)
    # is not read back case by case.
    points = load_points(store, ids, filters, per_case=len(ids) - 1 >= rules.min_history)
    alerts: list[Alert] = []
    for series in points.values():
        if not series or series[-1].run_id != current_id:
            continue
        alerts += evaluate(series[-1], series[:-1], rules)
    return alerts


def load_points(
    store: HistoryStore | LiteStore, run_ids: list[str], filters: Filters, per_case: bool = True
) -> dict[tuple[str, str], list[Point]]:
    """Per suite × variant, a Point per run (in the order of `run_ids`); without `per_case`, the
    points have no per-case values (nor the pass rate as a metric, which counts them)."""
    order = {rid: i for i, rid in enumerate(run_ids)}
    scoped = Filters(suite=filters.suite, variant=filters.variant)
    by_key: dict[tuple[str, str, str], Point] = {}
    for g in store.groups(scoped, run_ids):
        if g["run_id"] in order:
            by_key[(g["suite"], g["variant"], g["run_id"])] = Point(g["run_id"], g)
    for m in store.metrics(scoped, run_ids):
        point = by_key.get((m["suite"], m["variant"], m["run_id"]))
        if point is not None:
            point.metrics[m["metric"]] = m
    values = _case_values(store, run_ids, filters) if per_case else {}
    for key, point in by_key.items():
        point.cases = values.get(key, {})
        add_pass_rate(point)
    out: dict[tuple[str, str], list[Point]] = defaultdict(list)
    for (suite, variant, _), point in sorted(by_key.items(), key=lambda kv: order[kv[0][2]]):
        out[(suite, variant)].append(point)
    return out


def _case_values(
    store: HistoryStore | LiteStore, run_ids: list[str], filters: Filters
) -> dict[tuple[str, str, str], dict[str, dict[str, float]]]:
    """Per (suite, variant, run id), per metric (and pass_rate), each case's value: the mean of
    its repeats as statistics.fmean gives it (of one value: the value, -0.0 made 0.0 as fsum
    makes it). A list is made only for a case with repeats."""
    values: dict[tuple[str, str, str], dict[str, dict[str, Any]]] = {}
    repeated: list[tuple[dict[str, Any], str]] = []
    for run_id, suite, variant, case_id, passed, scores in store.case_scores(
        run_ids, filters.suite, filters.variant
    ):
        bucket = values.get((suite, variant, run_id))
        if bucket is None:
            bucket = values[(suite, variant, run_id)] = {}
        items: list[tuple[str, Any]] = list(scores.items()) if scores else []
        if passed is not None:
            items.append(("pass_rate", 1.0 if passed else 0.0))
        for name, value in items:
            if value is None:
                continue
            cases = bucket.get(name)
            if cases is None:
                cases = bucket[name] = {}
            before = cases.get(case_id)
            if before is None:
                cases[case_id] = float(value) + 0.0
            elif type(before) is list:
                before.append(float(value))
            else:
                cases[case_id] = [before, float(value)]
                repeated.append((cases, case_id))
    for cases, case_id in repeated:
        cases[case_id] = statistics.fmean(cases[case_id])
    return values


def add_pass_rate(point: Point) -> None:
    """The pass rate is a quality metric too (per case: 1 passed, 0 failed)."""
    rate = point.figures.get("pass_rate")
    flags = point.cases.get("pass_rate")
    if rate is None or not flags:
        return
    n = len(flags)
    point.metrics["pass_rate"] = {
        "metric": "pass_rate",
        "mean": rate,
        "std": math.sqrt(rate * (1 - rate) * n / (n - 1)) if n > 1 else None,
        "n": n,
        "higher_is_better": True,
    }


def alerts_json(alerts: list[Alert]) -> list[dict[str, Any]]:
    return [a.as_dict() for a in alerts]
