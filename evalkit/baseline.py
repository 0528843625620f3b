"""Baselines: a blessed run, per suite × variant, in small diff-friendly files.

baselines/<suite>/<variant>.jsonl      one line per case × repeat, sorted, sorted keys
baselines/<suite>/<variant>.meta.json  provenance: suite hash, model versions, params, evalkit version
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from evalkit.aggregate import GroupSummary, Summary
from evalkit.errors import UserInputError
from evalkit.migrations import CURRENT, NewerSchemaError, migrate
from evalkit.rundir import (
    RESULTS,
    SUMMARY,
    read_results,
    read_run_info,
    write_json,
    write_text,
)
from evalkit.runinfo import RunInfo
from evalkit.types import CaseResult, Threshold

DEFAULT_DIR = Path("baselines")


class CaseRecord(BaseModel):
    """What a baseline keeps of one result (and what a diff compares)."""

    model_config = ConfigDict(extra="forbid")

    case_id: str
    repeat: int = 0
    input_hash: str | None = None
    output: str | None = None
    error: str | None = None
    scores: dict[str, float | None] = Field(default_factory=dict)
    passed: dict[str, bool] = Field(default_factory=dict)  # for pass/fail scores
    latency_ms: float | None = None
    cost_usd: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    model_version: str | None = None
    cached: bool = False
    tags: list[str] = Field(default_factory=list)

    @classmethod
    def from_result(cls, r: CaseResult) -> CaseRecord:
        return cls(
            case_id=r.case_id,
            repeat=r.repeat,
            input_hash=r.input_hash,
            output=r.output,
            error=r.error,
            scores={k: s.value for k, s in r.scores.items()},
            passed={k: s.passed for k, s in r.scores.items() if s.passed is not None},
            latency_ms=None if r.latency_ms is None else round(r.latency_ms, 3),
            cost_usd=r.cost_usd,
            input_tokens=r.usage.input_tokens,
            output_tokens=r.usage.output_tokens,
            model_version=r.model_version,
            cached=r.cached,
            tags=r.tags,
        )


class MetricInfo(BaseModel):
    model_config = ConfigDict(extra="forbid")

    higher_is_better: bool = True


class BaselineMeta(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_version: int = CURRENT["baseline_meta"]
    suite: str
    variant: str
    suite_content_hash: str | None = None
    provider: str | None = None
    model: str | None = None
    model_versions: list[str] = Field(default_factory=list)
    params: dict[str, Any] = Field(default_factory=dict)
    judge_model: str | None = None  # each judge: "name: provider/model [versions]"
    judge_model_versions: list[str] = Field(default_factory=list)
    metrics: dict[str, MetricInfo] = Field(default_factory=dict)
    evalkit_version: str
    run_id: str
    git_sha: str | None = None
    saved_at: str
    cases: int
    results: int


class Group(BaseModel):
    """The records and metadata of one suite × variant, from a run or a baseline."""

    model_config = ConfigDict(extra="forbid")

    suite: str
    variant: str
    records: list[CaseRecord]
    meta: BaselineMeta


def run_thresholds(run_dir: Path) -> dict[str, dict[str, Threshold]]:
    """Each suite's thresholds as the run recorded them (run.json), so a diff needs no suite files."""
    return {s.name: dict(s.thresholds) for s in read_run_info(run_dir).suites}


def has_baselines(root: Path) -> bool:
    return root.is_dir() and any(root.glob("*/*.jsonl"))


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)


def baseline_paths(root: Path, suite: str, variant: str) -> tuple[Path, Path]:
    folder = root / _safe(suite)
    return folder / f"{_safe(variant)}.jsonl", folder / f"{_safe(variant)}.meta.json"


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
                        n: MetricInfo(higher_is_better=m.higher_is_better) for n, m in g.metrics.items()
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


def save(group: Group, root: Path) -> tuple[Path, Path]:
    """Write a baseline through the run directory's one write path: atomic, secrets scrubbed."""
    data_path, meta_path = baseline_paths(root, group.suite, group.variant)
    try:
        data_path.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise UserInputError("the baselines folder is a file, not a folder", path=root) from None
    lines = [json.dumps(r.model_dump(mode="json"), sort_keys=True, ensure_ascii=False) for r in group.records]
    write_text(data_path, "\n".join(lines) + "\n")
    write_json(meta_path, group.meta)
    return data_path, meta_path


def load(root: Path, suite: str, variant: str) -> Group | None:
    data_path, meta_path = baseline_paths(root, suite, variant)
    if not data_path.exists():
        return None
    if not meta_path.exists():
        raise UserInputError(f"baseline without its {meta_path.name}", path=data_path)
    try:
        meta = BaselineMeta.model_validate(migrate("baseline_meta", json.loads(meta_path.read_text())))
        records = [
            CaseRecord.model_validate_json(line)
            for line in data_path.read_text(encoding="utf-8").splitlines()
            if line.strip()
        ]
    except (OSError, ValueError, NewerSchemaError) as exc:
        first = str(exc).splitlines()[0]
        raise UserInputError(f"unreadable baseline: {first}", path=data_path) from None
    return Group(suite=suite, variant=variant, records=records, meta=meta)
