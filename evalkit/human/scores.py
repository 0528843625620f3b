"""Human labels in a run directory: `evalkit labels import`, and the `human` scores they give.

The labels of a run live in RUN_DIR/labels.jsonl; this module keeps results.jsonl, summary.json
and the reports in step with them (after an import, a re-score, or a run whose suite names a
calibration set).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from evalkit._util.signals import held_interrupts
from evalkit.compare.aggregate import GroupSummary, Summary, check_threshold, group_results, summarize_group
from evalkit.errors import UserInputError
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
    extra: Sequence[lb.Label] = (),
    stored: Sequence[lb.Label] | None = None,
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


def import_labels(path: Path, run_path: Path) -> ImportOutcome:
    """`evalkit labels import FILE RUN_DIR`: check every label against the run, then store them,
    score them and refresh summary.json and the reports, holding the run directory's lock."""
    run_dir = RunDir(run_path)
    run_dir.require_results()
    new = lb.read_labels(path)
    if not new:
        raise UserInputError("no labels in the file", path=path)
    with run_dir.lock("evalkit labels import"):
        results = list(run_dir.results())
        lb.check_against_run(path, new, run_dir.info().run_id, results)
        merged = lb.merge(lb.stored_labels(run_dir), new)
        # labels, human scores and summary are written together: a Ctrl-C or SIGTERM meanwhile
        # is delivered once all three are (it kept labels with no human scores, silently)
        with held_interrupts():
            lb.write_labels(run_dir, merged)
            results = apply_labels(run_dir, results, stored=merged)
            refresh_summary(run_dir, results, merged)
    found = lb.labels_for(merged, results)
    return ImportOutcome(
        imported=len(new),
        labels=len(merged),
        labelled_results=len(found),
        labellers=sorted({x.labeller for x in merged}),
    )


def human_metrics(groups: Sequence[GroupSummary], results: Sequence[CaseResult]) -> None:
    """Add the human and agreement metrics of each group (in place), beside the automatic ones."""
    grouped = group_results(results)
    for g in groups:
        rows = grouped.get((g.suite, g.variant), [])
        names = {n for r in rows for n in r.scores if n == lb.HUMAN or n.endswith(lb.AGREEMENT)}
        for name in list(g.metrics):
            if name == lb.HUMAN or name.endswith(lb.AGREEMENT):
                del g.metrics[name]
        if names:
            extra = summarize_group(rows, [], {}).metrics
            g.metrics.update({n: extra[n] for n in sorted(names)})


def add_kappa(
    groups: Sequence[GroupSummary],
    results: Sequence[CaseResult],
    labels: Sequence[lb.Label],
    info: RunInfo,
    thresholds: Mapping[str, Mapping[str, Threshold]],
) -> None:
    """Each judge's κ with the people as a figure of its group (`<judge>_kappa`, in place), so a
    suite can hold it to a threshold; threshold checks on it are redone."""
    if not labels:
        return
    from evalkit.human.calibrate import collect_pairs, kappa

    compared = lb.compared_scores(info, results)
    grouped = group_results(results)
    for g in groups:
        pairs = collect_pairs(grouped.get((g.suite, g.variant), []), labels, compared)
        fresh: dict[str, float] = {}  # from these labels: a summary read back holds the old κ
        for (name, kind), p in sorted(pairs.items()):
            value = kappa(p)
            if value is not None and (kind == "rating" or f"{name}_kappa" not in fresh):
                fresh[f"{name}_kappa"] = value  # a judge that rates: its weighted κ on ratings wins
        g.corpus.update(fresh)
        limits = thresholds.get(g.suite, {})
        g.thresholds = [
            (check_threshold(g, t.metric, limits[t.metric]) or t) if t.metric.endswith("_kappa") else t
            for t in g.thresholds
        ]


def refresh_summary(
    run_dir: RunDir, results: Sequence[CaseResult], labels: Sequence[lb.Label] | None = None
) -> None:
    """Rewrite summary.json with the human metrics and each judge's κ, its threshold checks and
    so the run's status and exit code, then run.json's status, junit.xml, summary.md and
    report.html, so no file disagrees with another (the caller holds the lock)."""
    from evalkit.compare.gate import DiffReport
    from evalkit.report import html, junit, markdown

    data = run_dir.summary_data()
    if data is None:
        html.write(run_dir)
        return
    summary = Summary.model_validate(data)
    human_metrics(summary.groups, results)
    info = run_dir.info()
    thresholds = {s.name: dict(s.thresholds) for s in info.suites}
    stored = lb.stored_labels(run_dir) if labels is None else labels
    add_kappa(summary.groups, results, stored, info, thresholds)
    summary = summary.with_checks_redone()
    run_dir.write_summary(summary)
    update = {"status": summary.status} | (
        {"exit_code": summary.exit_code} if info.exit_code is not None else {}
    )
    run_dir.write_info(info.model_copy(update=update))
    raw_diff = run_dir.diff_data()
    diff = None if raw_diff is None else DiffReport.model_validate(raw_diff)
    run_dir.write_junit(junit.render(summary, diff, results))
    run_dir.write_summary_md(markdown.render(summary, diff))
    html.write(run_dir)
