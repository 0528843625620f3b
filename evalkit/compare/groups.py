"""A run directory read as groups (suite × variant) with their provenance: what `baseline save`
blesses, and what the gate compares with a baseline."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

from evalkit.compare.aggregate import GroupSummary, Summary
from evalkit.compare.baseline import BaselineMeta, CaseRecord, Group, MetricInfo
from evalkit.errors import UserInputError
from evalkit.rundir.files import RESULTS, SUMMARY, read_results, read_run_info
from evalkit.rundir.runinfo import RunInfo
from evalkit.types import CaseResult, Threshold


def run_thresholds(run_dir: Path) -> dict[str, dict[str, Threshold]]:
    """Each suite's thresholds as the run recorded them (run.json), so a diff needs no suite files."""
    return {s.name: dict(s.thresholds) for s in read_run_info(run_dir).suites}


def groups_from_run(
    run_dir: Path,
    summary_groups: Sequence[GroupSummary] | None = None,
    results: Sequence[CaseResult] | None = None,
) -> list[Group]:
    """Read a run directory into groups (suite × variant) with provenance. Metric directions
    come from `summary_groups` and results from `results` when the caller already has them,
    else from the run's summary.json and results.jsonl."""
    if not (run_dir / RESULTS).exists():
        raise UserInputError("not a run directory (no results.jsonl)", path=run_dir)
    info = read_run_info(run_dir)
    if summary_groups is None and (run_dir / SUMMARY).exists():
        summary_groups = _read_summary(run_dir).groups
    suite_hashes = {s.name: s.content_hash for s in info.suites}
    variants = info.plan.get("variants", {})
    by_group: dict[tuple[str, str], list[CaseResult]] = defaultdict(list)
    for r in results if results is not None else read_results(run_dir / RESULTS):
        by_group[(r.suite, r.variant)].append(r)
    out = []
    for (suite, variant), results in sorted(by_group.items()):
        directions: dict[str, MetricInfo] = {}
        if summary_groups is not None:
            for g in summary_groups:
                if (g.suite, g.variant) == (suite, variant):
                    directions = {
                        n: MetricInfo(higher_is_better=m.higher_is_better, informational=m.informational)
                        for n, m in g.metrics.items()
                    }
        vconf = variants.get(variant, {})
        meta = BaselineMeta(
            suite=suite,
            variant=variant,
            suite_content_hash=suite_hashes.get(suite),
            provider=results[0].provider,
            model=results[0].model,
            model_versions=sorted({r.model_version for r in results if r.model_version}),
            params=vconf.get("params", {}),
            judge_model=judge_provenance(results, info),
            judge_model_versions=sorted(
                {v for r in results for j in r.judges.values() for v in j.model_versions}
            ),
            retrieval=vconf.get("rag"),
            machine=info.machine,
            latency_measured=any(r.latency_ms is not None and not r.cached for r in results),
            metrics=directions,
            evalkit_version=info.evalkit_version or version("evalkit"),
            run_id=info.run_id or run_dir.name,
            git_sha=info.git_sha,
            saved_at=datetime.now(UTC).isoformat(timespec="seconds"),
            cases=len({r.case_id for r in results}),
            results=len(results),
        )
        records = sorted((CaseRecord.from_result(r) for r in results), key=lambda c: (c.case_id, c.repeat))
        out.append(Group(suite=suite, variant=variant, records=records, meta=meta))
    return out


def _read_summary(run_dir: Path) -> Summary:
    try:
        return Summary.model_validate_json((run_dir / SUMMARY).read_text(encoding="utf-8"))
    except ValueError as exc:
        first = str(exc).splitlines()[0]
        raise UserInputError(f"summary.json is unreadable: {first}", path=run_dir / SUMMARY) from None


def judge_provenance(results: Sequence[CaseResult], info: RunInfo) -> str | None:
    """The judges that scored these results, with provider, model and model versions; judges
    recorded only in the run's config (no call made: all cached before usage was kept) by model."""
    seen: dict[str, tuple[str, str | None, set[str]]] = {}
    for r in results:
        for name, j in r.judges.items():
            entry = seen.setdefault(name, (j.provider, j.model, set()))
            entry[2].update(j.model_versions)
    providers = info.plan.get("providers", {})
    for suite in info.suites:
        if results and suite.name != results[0].suite:
            continue
        for spec in suite.scorers:
            if spec.get("type") == "judge" and spec.get("provider") in providers:
                name = spec.get("name") or "judge"
                described = providers[spec["provider"]]
                seen.setdefault(name, (spec["provider"], described.get("model"), set()))
    if not seen:
        return None
    return "; ".join(
        f"{name}: {provider}/{model or '?'}" + (f" [{', '.join(sorted(versions))}]" if versions else "")
        for name, (provider, model, versions) in sorted(seen.items())
    )
