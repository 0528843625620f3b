"""The `human` scores that a run's labels give, and each judge's κ with the people.

The labels of a run live in RUN_DIR/labels.jsonl; `apply_labels` keeps results.jsonl in step
with them, and a conclusion (`evalkit.stages.finish`) adds each judge's κ to its group
(`with_kappa`). `evalkit labels import` is `evalkit.stages.labelling.import_labels`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from evalkit.compare.aggregate import GroupSummary, check_threshold, group_results
from evalkit.human import labels as lb
from evalkit.rundir.dir import RunDir
from evalkit.rundir.runinfo import RunInfo
from evalkit.types import CaseResult, Threshold


@dataclass(frozen=True)
class ImportOutcome:
    imported: int
    labels: int  # in the run after the import
    labelled_results: int
    labellers: list[str]


def apply_labels(
    run_dir: RunDir,
    results: list[CaseResult],
    extra: Sequence[lb.AnyLabel] = (),
    stored: Sequence[lb.AnyLabel] | None = None,
) -> list[CaseResult]:
    """Merge `extra` labels (a suite's calibration set) into the run's labels.jsonl and set the
    human and agreement scores on `results`; results.jsonl is rewritten only when they change.
    `stored`: the run's labels when the caller holds them already (read once, not again)."""
    stored = list(lb.stored_labels(run_dir) if stored is None else stored)
    if extra:
        merged = lb.merge(stored, extra)
        if merged != stored:
            lb.write_labels(run_dir, merged)
        stored = merged
    if not stored and not any(lb.HUMAN in r.scores for r in results):
        return results
    updated = lb.with_human_scores(results, stored, lb.compared_scores(run_dir.info(), results))
    if updated != results:
        run_dir.rewrite_results(updated)
    return updated


def with_kappa(
    groups: Sequence[GroupSummary],
    results: Sequence[CaseResult],
    labels: Sequence[lb.AnyLabel],
    info: RunInfo,
    thresholds: Mapping[str, Mapping[str, Threshold]],
) -> list[GroupSummary]:
    """The groups with each judge's κ with the people as a figure (`<judge>_kappa`), so a suite
    can hold it to a threshold, and the threshold checks on it redone (new groups returned)."""
    if not labels:
        return list(groups)
    from evalkit.human.calibrate import kappas

    compared = lb.compared_scores(info, results)
    grouped = group_results(results)
    found = lb.labels_for(labels, results)  # once for every group
    out = []
    for g in groups:
        figures = kappas(grouped.get((g.suite, g.variant), []), compared, found)
        fresh: dict[str, float] = {}  # from these labels: a summary read back holds the old κ
        for (name, kind), value in sorted(figures.items()):
            if value is not None and (kind == "rating" or f"{name}_kappa" not in fresh):
                fresh[f"{name}_kappa"] = value  # a judge that rates: its weighted κ on ratings wins
        g = g.model_copy(update={"corpus": {**g.corpus, **fresh}})
        limits = thresholds.get(g.suite, {})
        checks = [
            (check_threshold(g, t.metric, limits[t.metric]) or t) if t.metric.endswith("_kappa") else t
            for t in g.thresholds
        ]
        out.append(g.model_copy(update={"thresholds": checks}))
    return out
