"""The one reader of run directories: run.json, summary.json and results.jsonl → plain records.

Everything else in evalkit.history sees only these records, so a change in the run directory's
layout is followed here and nowhere else.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from math import isfinite
from pathlib import Path
from typing import Any

from evalkit.errors import UserInputError
from evalkit.rundir.dir import RUN_INFO, RunDir
from evalkit.types import CaseResult


@dataclass
class RunRecord:
    run_id: str
    started_at: datetime
    finished_at: datetime | None
    status: str
    exit_code: int | None
    git_sha: str | None
    branch: str | None
    tag: str | None
    config_digest: str | None
    evalkit_version: str | None
    groups: list[dict[str, Any]] = field(default_factory=list)
    metrics: list[dict[str, Any]] = field(default_factory=list)


def read_run(run_dir: Path, *, branch: str | None = None, tag: str | None = None) -> RunRecord:
    """The run-level and per suite × variant figures of a finished run directory."""
    rd = RunDir(run_dir)
    info = rd.info()
    summary = rd.summary_data()
    if summary is None or "groups" not in summary:
        raise UserInputError("the run has no summary.json: it never finished", path=run_dir)
    try:
        return _record(info, summary, branch, tag)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:  # a crafted or damaged summary.json
        raise UserInputError(
            f"summary.json is not one evalkit wrote ({type(exc).__name__}: {exc})", path=run_dir
        ) from None


def _record(info: Any, summary: dict[str, Any], branch: str | None, tag: str | None) -> RunRecord:
    record = RunRecord(
        run_id=info.run_id,
        started_at=_when(info.started_at) or datetime.now(UTC),
        finished_at=_when(info.finished_at),
        status=str(summary.get("status", info.status)),
        exit_code=_int_or_none(summary.get("exit_code")),
        git_sha=f"{info.git_sha}-dirty" if info.git_sha and info.git_dirty else info.git_sha,
        branch=branch,
        tag=tag,
        config_digest=info.config_digest or None,
        evalkit_version=info.evalkit_version,
    )
    suite_hash = {s.name: s.content_hash for s in info.suites}
    variants = info.plan.get("variants") or info.config.get("variants") or {}
    for g in summary["groups"]:
        record.groups.append(_group(g, suite_hash.get(g["suite"]), variants.get(g["variant"], {})))
        for name, m in (g.get("metrics") or {}).items():
            record.metrics.append(
                {
                    "suite": g["suite"],
                    "variant": g["variant"],
                    "metric": name,
                    "mean": m.get("mean"),
                    "std": m.get("std"),
                    "ci_low": m.get("ci_low"),
                    "ci_high": m.get("ci_high"),
                    "n": m.get("n", 0),
                    "higher_is_better": m.get("higher_is_better", True),
                }
            )
    return record


def _int_or_none(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"exit_code {value!r} is not a whole number")
    return value


def _group(g: dict[str, Any], suite_hash: str | None, variant: dict[str, Any]) -> dict[str, Any]:
    unmeasured = max((m.get("scorer_unmeasured", 0) for m in (g.get("metrics") or {}).values()), default=0)
    prompt = {"suite": suite_hash, **{k: variant.get(k) for k in ("prompt", "system")}}
    latency = g.get("latency") or {}
    ci = g.get("pass_rate_ci") or (None, None)
    return {
        "suite": g["suite"],
        "variant": g["variant"],
        "provider": g.get("provider"),
        "models": sorted(g.get("models") or []),
        "model_versions": sorted(g.get("model_versions") or []),
        "prompt_hash": _digest(prompt),
        "config_hash": _digest(variant),
        "results": int(g.get("results") or 0),
        "errors": int(g.get("errors") or 0),
        "error_rate": g.get("error_rate"),
        "pass_rate": g.get("pass_rate"),
        "pass_rate_low": ci[0],
        "pass_rate_high": ci[1],
        "latency_p50_ms": latency.get("p50_ms"),
        "latency_p95_ms": latency.get("p95_ms"),
        "cost_per_case_usd": g.get("cost_per_case_usd"),
        "retrieval_failures": g.get("retrieval_failures"),
        "unmeasured": unmeasured,
        "truncated": g.get("truncated"),
        "truncation_rate": g.get("truncation_rate"),
    }


# The per-case columns of the history, in the order `case_values` gives them (after the run id).
CASE_COLUMNS = (
    "suite",
    "variant",
    "case_id",
    "repeat",
    "input_hash",
    "model",
    "model_version",
    "passed",
    "error",
    "latency_ms",
    "cost_usd",
    "input_tokens",
    "output_tokens",
    "cached",
    "scores",
)


def read_cases(run_dir: Path) -> Iterator[dict[str, Any]]:
    """One record per case × variant × repeat (`case_record`'s), streamed."""
    for values in read_case_values(run_dir):
        yield dict(zip(CASE_COLUMNS, values, strict=True))


def read_case_values(run_dir: Path) -> Iterator[tuple[Any, ...]]:
    """The values of CASE_COLUMNS per case × variant × repeat, streamed. Each results line is
    validated as CaseResult validates it (evalkit.report.rows: a bad line is refused with its
    file and line), into a plain dict rather than a model: a third of the cost."""
    from evalkit.report.rows import read_rows

    for row in read_rows(RunDir(run_dir).results_file):
        usage = row.get("usage") or {}
        scores = row.get("scores") or {}
        error = row.get("error")
        yield (
            row["suite"],
            row["variant"],
            row["case_id"],
            row["repeat"],
            row.get("input_hash"),
            row.get("model"),
            row.get("model_version"),
            _passed(error, scores),
            error,
            row.get("latency_ms"),
            row.get("cost_usd"),
            usage.get("input_tokens"),
            usage.get("output_tokens"),
            row.get("cached", False),
            {name: s["value"] for name, s in scores.items()},
        )


def result_case_values(r: CaseResult) -> tuple[Any, ...]:
    """`read_case_values`' tuple of one result as its line reads back, where the line is the
    result's own JSON (nothing scrubbed or cleaned from it): the same values, each of the type
    reading gives it (a float read as a float, whatever it was made as; NaN and infinities,
    which JSON writes as null, as None)."""
    usage = r.usage
    return (
        r.suite,
        r.variant,
        r.case_id,
        r.repeat,
        r.input_hash,
        r.model,
        r.model_version,
        r.passed(),
        r.error,
        _float(r.latency_ms),
        _float(r.cost_usd),
        usage.input_tokens,
        usage.output_tokens,
        r.cached,
        {name: _float(s.value) for name, s in r.scores.items()},
    )


def _float(value: float | None) -> float | None:
    return None if value is None or not isfinite(value) else float(value)


def _passed(error: str | None, scores: Mapping[str, Mapping[str, Any]]) -> bool | None:
    """CaseResult.passed() of a result line read as a dict."""
    if error is not None:
        return None
    verdict = None
    for s in scores.values():
        passed = s.get("passed")
        if passed is None:
            continue
        if not passed:
            return False
        verdict = True
    return verdict


def case_record(r: CaseResult) -> dict[str, Any]:
    return {
        "suite": r.suite,
        "variant": r.variant,
        "case_id": r.case_id,
        "repeat": r.repeat,
        "input_hash": r.input_hash,
        "model": r.model,
        "model_version": r.model_version,
        "passed": r.passed(),
        "error": r.error,
        "latency_ms": r.latency_ms,
        "cost_usd": r.cost_usd,
        "input_tokens": r.usage.input_tokens,
        "output_tokens": r.usage.output_tokens,
        "cached": r.cached,
        "scores": {name: s.value for name, s in r.scores.items()},
    }


def finished(run_dir: Path) -> bool:
    """False for a run that was interrupted (its partial figures would distort a trend)."""
    summary = RunDir(run_dir).summary_data()
    return summary is not None and summary.get("status") not in (None, "interrupted")


def is_run_dir(path: Path) -> bool:
    rd = RunDir(path)
    return rd.info_file.is_file() and rd.results_file.is_file()


def read_alerts(run_dir: Path) -> list[dict[str, Any]]:
    """The alerts a run directory says it raised (alerts.json), for a backfill to record."""
    alerts = RunDir(run_dir).alerts()
    return [a for a in alerts if isinstance(a, dict) and isinstance(a.get("message"), str)]


def _when(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]


def find_run_dirs(paths: list[Path]) -> list[Path]:
    """Run directories named, or found below the folders named (e.g. downloaded CI artifacts)."""
    found: list[Path] = []
    for path in paths:
        if not path.exists():
            raise UserInputError("no such file or folder", path=path)
        if is_run_dir(path):
            found.append(path)
            continue
        below = sorted(p.parent for p in path.rglob(RUN_INFO) if is_run_dir(p.parent))
        if not below:
            raise UserInputError(
                "not a run directory, and none below it (no run.json + results.jsonl)", path=path
            )
        found.extend(below)
    return found
