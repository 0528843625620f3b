"""The `human` scores that a run's labels give, and each judge's κ with the people.

The labels of a run live in RUN_DIR/labels.jsonl; `apply_labels` keeps results.jsonl in step
with them, and a conclusion (`evalkit.stages.finish`) adds each judge's κ to its group
(`with_kappa`). `evalkit labels import` is `evalkit.stages.labelling.import_labels`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from evalkit.compare.aggregate import GroupSummary, check_threshold
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
    run_dir: RunDir, extra: Sequence[lb.AnyLabel] = (), stored: Sequence[lb.AnyLabel] | None = None
) -> None:
    """Merge `extra` labels (a suite's calibration set) into the run's labels.jsonl and set the
    human and agreement scores in results.jsonl, rewritten (streamed) only when one changes:
    the results pass by one at a time, so memory grows with the labels, not with the run.
    `stored`: the run's labels when the caller holds them already (read once, not again)."""
    stored = list(lb.stored_labels(run_dir) if stored is None else stored)
    if extra:
        merged = lb.merge(stored, extra)
        if merged != stored:
            lb.write_labels(run_dir, merged)
        stored = merged
    if not stored and not any(lb.HUMAN in r.scores for r in run_dir.results()):
        return
    judged = lb.compared_scores(run_dir.info(), run_dir.results())
    index = lb.LabelIndex(stored)
    if any(index.scored(r, judged) is not r for r in run_dir.results()):
        run_dir.rewrite_results(index.scored(r, judged) for r in run_dir.results())


def with_kappa(
    groups: Sequence[GroupSummary],
    results: Callable[[], Iterable[CaseResult]],
    labels: Sequence[lb.AnyLabel],
    info: RunInfo,
    thresholds: Mapping[str, Mapping[str, Threshold]],
) -> list[GroupSummary]:
    """The groups with each judge's κ with the people as a figure (`<judge>_kappa`), so a suite
    can hold it to a threshold, and the threshold checks on it redone (new groups returned).
    `results()`: the run's results, streamed (a pass for the scores compared, one for the
    labels found, one per group counted): only the labelled results' labels are held."""
    if not labels:
        return list(groups)
    from evalkit.human.calibrate import kappas

    compared = lb.compared_scores(info, results())
    found = lb.labels_for(labels, results())  # once for every group
    grouped = _Grouped(results)
    out = []
    for g in groups:
        figures = kappas(grouped.of(g.suite, g.variant), compared, found)
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


class _Grouped:
    """One suite × variant's results, streamed from `results()` on each call."""

    def __init__(self, results: Callable[[], Iterable[CaseResult]]):
        self.results = results

    def of(self, suite: str, variant: str) -> Iterator[CaseResult]:
        return (r for r in self.results() if r.suite == suite and r.variant == variant)
