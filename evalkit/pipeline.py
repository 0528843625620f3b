"""A whole `evalkit run`: find suites, plan, execute, summarise, write the run directory."""

from __future__ import annotations

import asyncio
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

from evalkit.config import LoadedConfig, load_config
from evalkit.errors import EvalkitError, UserInputError
from evalkit.runner import Plan, Runner, RunObserver, build_plan, describe_plan
from evalkit.store import (
    RESULTS,
    RUN_INFO,
    SUMMARY,
    ResultWriter,
    prepare_run_dir,
    read_results,
    write_json,
)
from evalkit.suite import Suite, load_suite
from evalkit.summary import Summary, group_results, summarize_group

DEFAULT_SUITE = Path("suites") / "smoke.yaml"


@dataclass
class RunOptions:
    suites: Sequence[Path] = ()
    config: Path | None = None
    variants: Sequence[str] = ()
    out: Path | None = None
    repeats: int | None = None
    concurrency: int | None = None


@dataclass
class Prepared:
    plan: Plan
    run_id: str
    run_dir: Path
    started_at: str
    timings: dict[str, float] = field(default_factory=dict)


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
            found = sorted([*p.glob("*.yaml"), *p.glob("*.yml")])
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
    t0 = time.perf_counter()
    loaded = load_config(options.config)
    suites = load_suites(suite_paths(options.suites, loaded))
    plan = build_plan(loaded, suites, options.variants, options.repeats, options.concurrency)
    run_id = new_run_id()
    run_dir = (
        options.out if options.out is not None else loaded.resolve(loaded.config.run.output_dir) / run_id
    )
    prepare_run_dir(run_dir)
    return Prepared(
        plan,
        run_id,
        run_dir,
        datetime.now(UTC).isoformat(),
        {"prepare_s": time.perf_counter() - t0},
    )


def execute(prepared: Prepared, observer: RunObserver | None = None) -> Summary:
    """Run the plan, streaming results; always writes summary.json and run.json, even on Ctrl-C."""
    writer = ResultWriter(prepared.run_dir / RESULTS)
    runner = Runner(prepared.plan, writer, observer)
    interrupted = False
    aborted: EvalkitError | None = None
    try:
        asyncio.run(runner.run())
    except KeyboardInterrupt:
        interrupted = True
    except EvalkitError as exc:  # e.g. credentials refused: stop, but keep what finished
        aborted = exc
    finally:
        writer.close()
        prepared.timings.update(runner.timings)
    summary = finalize(prepared, interrupted=interrupted, aborted=str(aborted) if aborted else None)
    if interrupted:
        raise KeyboardInterrupt
    if aborted is not None:
        raise aborted
    return summary


def finalize(prepared: Prepared, *, interrupted: bool = False, aborted: str | None = None) -> Summary:
    plan = prepared.plan
    suites = {s.name: s for s in plan.suites}
    results = list(read_results(prepared.run_dir / RESULTS))
    groups = []
    order = {
        (s.name, v.name): i for i, (s, v) in enumerate((s, v) for s in plan.suites for v in plan.variants)
    }
    grouped = group_results(results)
    for key in sorted(grouped, key=lambda k: order.get(k, len(order))):
        suite = suites[key[0]]
        groups.append(summarize_group(grouped[key], plan.scorers[suite.name], suite.thresholds))
    errors = sum(g.errors for g in groups)
    run_settings = plan.loaded.config.run
    over_budget = bool(results) and (
        errors / len(results) > run_settings.max_error_rate
        or (run_settings.max_errors is not None and errors > run_settings.max_errors)
    )
    budget = f"max_error_rate={run_settings.max_error_rate:g}" + (
        f", max_errors={run_settings.max_errors}" if run_settings.max_errors is not None else ""
    )
    failed = any(not t.passed for g in groups for t in g.thresholds)
    if interrupted:
        status, code = "interrupted", 130
    elif aborted is not None or over_budget:
        status, code = "errors", 3
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
    )
    write_json(prepared.run_dir / SUMMARY, summary.model_dump(mode="json"))
    write_json(prepared.run_dir / RUN_INFO, run_info(prepared, summary))
    return summary


def run_info(prepared: Prepared, summary: Summary) -> dict[str, Any]:
    return {
        "run_id": prepared.run_id,
        "started_at": prepared.started_at,
        "finished_at": datetime.now(UTC).isoformat(),
        "status": summary.status,
        "evalkit_version": _version("evalkit"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": {
            name: _version(name) for name in ("torch", "transformers", "aiohttp", "sacrebleu", "rouge-score")
        },
        "git_sha": git_sha(),
        "config": describe_plan(prepared.plan),
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
