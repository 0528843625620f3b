"""Run directories made without a model: results.jsonl, summary.json and run.json written by
evalkit's own models and aggregation, for history tests and the history benchmark."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from evalkit.compare.aggregate import Summary, group_results, summarize_group
from evalkit.rundir.dir import RunDir
from evalkit.rundir.files import ResultWriter, write_json
from evalkit.rundir.runinfo import RunInfo, SuiteRecord
from evalkit.types import CaseResult, MetricInfo

if TYPE_CHECKING:
    from evalkit.history.feed import HistoryFeed

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def named(name: str, higher_is_better: bool = True) -> MetricInfo:
    """Stands for the scorer that produced a stored score: what a summary needs to know of it
    (its pass marks, when a case has one, decide the case's pass)."""
    return MetricInfo(
        name=name, scorer="fabricated", higher_is_better=higher_is_better, verdict=True, counts_for_pass=True
    )


@dataclass
class Case:
    case_id: str
    scores: dict[str, float | None]
    passed: bool | None = None
    latency_ms: float | None = 100.0
    cost_usd: float | None = None
    error: str | None = None
    repeat: int = 0
    retrieval_ids: list[str] | None = None
    finish_reason: str | None = None  # "length": an answer cut short


@dataclass
class Group:
    suite: str
    variant: str
    cases: Sequence[Case]
    model_version: str = "m-1"
    scorers: Sequence[str] = field(default_factory=lambda: ["quality"])


def make_run(
    root: Path, index: int, groups: Sequence[Group], *, git_sha: str = "abc123", prompt: str = "p1"
) -> Path:
    results = [_result(g, c) for g in groups for c in g.cases]
    scorers = {(g.suite, g.variant): list(g.scorers) for g in groups}
    return write_run(root, index, [results], scorers, git_sha=git_sha, prompt=prompt)


def write_run(
    root: Path,
    index: int,
    batches: Sequence[Sequence[CaseResult]],
    scorers: Mapping[tuple[str, str], Sequence[str]],
    *,
    git_sha: str = "abc123",
    prompt: str = "p1",
    feed: HistoryFeed | None = None,
) -> Path:
    """A finished run directory of these results, written a batch at a time (`feed`, when given,
    attached to the writer as `evalkit run` attaches the history's: history.feed); `scorers`:
    each suite × variant's score names whose pass marks decide a case."""
    run_id = f"run-{index:04d}"
    run_dir = root / run_id
    run_dir.mkdir(parents=True)
    rd = RunDir(run_dir)
    writer = ResultWriter(rd.results_file)
    if feed is not None:
        feed.attach(writer)
    for batch in batches:
        writer.extend(batch)
    writer.close()
    results = list(rd.results())
    summaries = [
        summarize_group(rows, [named(n) for n in scorers[key]], {})
        for key, rows in group_results(results).items()
    ]
    summary = Summary(
        run_id=run_id,
        status="passed",
        exit_code=0,
        results=len(results),
        errors=0,
        error_budget="",
        groups=summaries,
    )
    write_json(rd.summary_file, summary.model_dump(mode="json"))
    started = T0 + timedelta(days=index)
    info = RunInfo(
        run_id=run_id,
        started_at=started.isoformat(),
        finished_at=(started + timedelta(minutes=5)).isoformat(),
        status="passed",
        git_sha=git_sha,
        config_digest=f"cfg-{prompt}",
        evalkit_version="0.1.0",
        suites=[SuiteRecord(name=suite, content_hash=f"h-{suite}-{prompt}") for suite, _ in scorers],
        plan={"variants": {variant: {"name": variant, "prompt": prompt} for _, variant in scorers}},
    )
    rd.info_file.write_text(info.model_dump_json())
    return run_dir


def _result(g: Group, c: Case) -> CaseResult:
    from evalkit.types import StoredScore

    return CaseResult(
        suite=g.suite,
        case_id=c.case_id,
        variant=g.variant,
        repeat=c.repeat,
        provider="fake",
        model="fake-model",
        messages=[],
        output=None if c.error else "out",
        error=c.error,
        latency_ms=None if c.error else c.latency_ms,
        cost_usd=c.cost_usd,
        model_version=g.model_version,
        retrieval_ids=c.retrieval_ids,
        **({"finish_reason": c.finish_reason} if c.finish_reason else {}),
        scores={
            name: StoredScore(value=v, passed=c.passed if name == g.scorers[0] else None)
            for name, v in c.scores.items()
        },
    )
