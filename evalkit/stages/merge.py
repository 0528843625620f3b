"""`evalkit merge`: join the run directories of `--shard I/N` runs into one run directory whose
results.jsonl (in plan order), summary and gate are those an unsharded run would have. Shards of
other configs, overlapping, missing or unfinished shards are refused (exit 2) before anything is
written."""

from __future__ import annotations

import secrets as pysecrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from evalkit.compare import baseline
from evalkit.errors import UserInputError
from evalkit.rundir.files import (
    CASES,
    RESULTS,
    RUN_INFO,
    RunDirLock,
    prepare_run_dir,
    read_results,
    read_run_info,
    write_json,
    write_jsonl,
)
from evalkit.rundir.runinfo import MergedShard, RunInfo
from evalkit.rundir.snapshot import suites_from_run
from evalkit.spec.config import Config, LoadedConfig
from evalkit.spec.suite import Suite
from evalkit.stages.conclude import ConcludeInput, Conclusion, conclude
from evalkit.stages.plan import metrics_for
from evalkit.stages.shard import Shard, parse_shard
from evalkit.types import CaseResult


@dataclass(frozen=True)
class ShardRun:
    run_dir: Path
    info: RunInfo
    shard: Shard


@dataclass(frozen=True)
class Merged:
    conclusion: Conclusion
    run_dir: Path
    warnings: tuple[str, ...]
    loaded: LoadedConfig  # the shards' config, as run.json keeps it (for the run history)


def merge_runs(
    run_dirs: Sequence[Path], out: Path, *, baseline_dir: Path | None = None, no_baseline: bool = False
) -> Merged:
    shards = check_shards([_read_shard(d) for d in run_dirs])
    results = _collect_results(shards)
    first = shards[0]
    suites = suites_from_run(first.run_dir, first.info, results)
    results.sort(key=plan_order(suites, first.info.options.variants))
    gate_dir, warnings = _gate_dir(first.info, baseline_dir, no_baseline)
    prepare_run_dir(out)
    with RunDirLock(out):
        prepare_run_dir(out)
        (out / CASES).write_bytes((first.run_dir / CASES).read_bytes())
        write_jsonl(out / RESULTS, results)
        info = _merged_info(shards, len(results), gate_dir)
        write_json(out / RUN_INFO, info)
        config = Config.model_validate(info.config) if info.config else Config()
        conclusion = conclude(
            ConcludeInput(
                run_id=info.run_id,
                run_dir=out,
                suites=suites,
                variants=info.options.variants,
                metrics=metrics_for(suites),
                run_settings=config.run,
                baseline_dir=gate_dir,
                max_new_failures=config.thresholds.max_new_failures,
            )
        )
        info = info.model_copy(
            update={"status": conclusion.summary.status, "finished_at": datetime.now(UTC).isoformat()}
        )
        write_json(out / RUN_INFO, info)
        from evalkit.report import html

        html.write(out)
    loaded = LoadedConfig(config=config, path=None, base_dir=Path(info.config_dir or out))
    return Merged(conclusion, out, warnings, loaded)


def _read_shard(run_dir: Path) -> ShardRun:
    info = read_run_info(run_dir)
    if info.options.shard is None:
        raise UserInputError("not a shard: this run was not started with --shard I/N", path=run_dir)
    if not (run_dir / CASES).exists():
        raise UserInputError("no cases.jsonl: written by an evalkit too old to merge", path=run_dir)
    return ShardRun(run_dir, info, parse_shard(info.options.shard))


def check_shards(shards: Sequence[ShardRun]) -> list[ShardRun]:
    """One config, one N, each of 1..N exactly once, each finished; sorted by shard index."""
    if not shards:
        raise UserInputError("merge needs the run directories of the shards")
    first = shards[0]
    for other in shards[1:]:
        if other.info.config_digest != first.info.config_digest:
            raise UserInputError(
                f"another config than {first.run_dir} (config digest {other.info.config_digest} ≠ "
                f"{first.info.config_digest}): shards must come from one config, suites and variants",
                path=other.run_dir,
            )
        if other.shard.count != first.shard.count:
            raise UserInputError(
                f"shard {other.shard} is one of {other.shard.count}, but {first.run_dir} is shard "
                f"{first.shard}: all shards must split the plan the same way",
                path=other.run_dir,
            )
    seen: dict[int, Path] = {}
    for s in shards:
        if s.shard.index in seen:
            raise UserInputError(
                f"overlapping shards: shard {s.shard} is given twice ({seen[s.shard.index]} and {s.run_dir})"
            )
        seen[s.shard.index] = s.run_dir
    missing = [f"{i}/{first.shard.count}" for i in range(1, first.shard.count + 1) if i not in seen]
    if missing:
        raise UserInputError(f"missing shard(s) {', '.join(missing)}: merge needs every shard of the run")
    return sorted(shards, key=lambda s: s.shard.index)


def _collect_results(shards: Sequence[ShardRun]) -> list[CaseResult]:
    out: list[CaseResult] = []
    seen: dict[str, Path] = {}
    for s in shards:
        results = list(read_results(s.run_dir / RESULTS))
        expected = s.info.plan.get("requests")
        if s.info.status in ("running", "interrupted") or (
            isinstance(expected, int) and len(results) != expected
        ):
            raise UserInputError(
                f"shard {s.shard} is unfinished ({len(results)} of {expected} results, status "
                f"{s.info.status}): finish it with `evalkit run --resume {s.run_dir}` first",
                path=s.run_dir,
            )
        for r in results:
            if r.key in seen:
                raise UserInputError(
                    f"overlapping shards: result {r.key} is in {seen[r.key]} and {s.run_dir}"
                )
            seen[r.key] = s.run_dir
        out.extend(results)
    return out


def plan_order(
    suites: Sequence[Suite], variants: Sequence[str]
) -> Callable[[CaseResult], tuple[int, int, int, int]]:
    """The order an unsharded run makes its requests in: suite, variant, case, repeat."""
    suite_at = {s.name: i for i, s in enumerate(suites)}
    case_at = {(s.name, c.id): i for s in suites for i, c in enumerate(s.cases)}
    variant_at = {v: i for i, v in enumerate(variants)}

    def key(r: CaseResult) -> tuple[int, int, int, int]:
        return (
            suite_at.get(r.suite, len(suite_at)),
            variant_at.get(r.variant, len(variant_at)),
            case_at.get((r.suite, r.case_id), len(case_at)),
            r.repeat,
        )

    return key


def _gate_dir(info: RunInfo, given: Path | None, no_baseline: bool) -> tuple[Path | None, tuple[str, ...]]:
    """--baseline wins; else the folder the shards were gated against, when it is here too."""
    if no_baseline:
        return None, ()
    if given is not None:
        if not baseline.has_baselines(given):
            raise UserInputError("no baselines here (expected <suite>/<variant>.jsonl files)", path=given)
        return given.resolve(), ()
    stored = Path(info.options.baseline) if info.options.baseline else None
    if stored is None:
        return None, ()
    if not baseline.has_baselines(stored):
        return None, (f"not gated: the shards' baselines are not here ({stored}); pass --baseline DIR",)
    return stored, ()


def _merged_info(shards: Sequence[ShardRun], n_results: int, gate_dir: Path | None) -> RunInfo:
    first = shards[0].info
    hits = sum((s.info.cache or {}).get("hits", 0) for s in shards)
    misses = sum((s.info.cache or {}).get("misses", 0) for s in shards)
    return first.model_copy(
        update={
            "run_id": datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + pysecrets.token_hex(2),
            "started_at": min(s.info.started_at for s in shards),
            "finished_at": None,
            "status": "running",
            "options": first.options.model_copy(
                update={"shard": None, "baseline": str(gate_dir) if gate_dir else None}
            ),
            "plan": {**first.plan, "requests": n_results},
            "cache": {"hits": hits, "misses": misses} if any(s.info.cache for s in shards) else None,
            "timings_s": {},
            "resumed_with_done": None,
            "interruptions": [i for s in shards for i in s.info.interruptions],
            "merged_from": [
                MergedShard(
                    shard=str(s.shard),
                    run_id=s.info.run_id,
                    run_dir=str(s.run_dir.resolve()),
                    results=int(s.info.plan.get("requests") or 0),
                    started_at=s.info.started_at,
                    finished_at=s.info.finished_at,
                    timings_s=s.info.timings_s,
                )
                for s in shards
            ],
        }
    )
