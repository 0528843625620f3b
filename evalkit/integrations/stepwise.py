"""A run driven piece by piece from outside evalkit's own loop (the pytest plugin): each process
runs the requests it is handed, a few at a time, and appends their results to its own part file
in the run directory; one process then joins the parts into results.jsonl (in plan order) and
concludes the run exactly as `evalkit run` does (summary, gate, reports)."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evalkit.providers.base import Provider
from evalkit.rundir.files import ResultWriter, read_results
from evalkit.spec.config import load_config
from evalkit.stages.execute import Runner
from evalkit.stages.pipeline import (
    Prepared,
    RunOptions,
    RunOutcome,
    conclude_run,
    load_suites,
    open_cache,
    resolve_baseline_dir,
    suite_paths,
)
from evalkit.stages.plan import Plan, build_plan, instantiate
from evalkit.stages.retrieve import retrieve
from evalkit.types import CaseResult

PARTS = ".parts"  # per process: <name>.jsonl, joined into results.jsonl when the run concludes


class _Collect:
    """The runner's observer: keeps every result of this process by key."""

    def __init__(self, into: dict[str, CaseResult]):
        self.into = into

    def status(self, message: str) -> None:
        pass

    def result(self, result: CaseResult) -> None:
        self.into[result.key] = result


@dataclass
class Executor:
    """Runs the requests it is handed through the framework's runner (cache, limiter, fallback,
    scorers), appending each result to this process's part file as it arrives."""

    plan: Plan
    providers: dict[str, Provider[Any]]
    part: Path
    baseline_dir: Path | None = None
    no_cache: bool = False
    results: dict[str, CaseResult] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    writer: ResultWriter | None = None  # open from the first batch to close(): one fsync at the end

    def run(self, keys: Iterable[str]) -> None:
        todo = set(keys) - self.results.keys()
        if not todo:
            return
        if self.writer is None:
            self.part.parent.mkdir(parents=True, exist_ok=True)
            self.writer = ResultWriter(self.part)
        skip = set(self.plan.keys()) - todo
        cache = open_cache(self.plan, self.no_cache)
        runner = Runner(
            self.plan,
            self.providers,
            self.writer,
            _Collect(self.results),
            cache=cache,
            skip=skip,
            baseline_dir=self.baseline_dir,
        )
        try:
            asyncio.run(runner.run())
        finally:
            if cache is not None:
                cache.close()
            for name, seconds in runner.timings.items():
                self.timings[name] = self.timings.get(name, 0.0) + seconds

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def part_path(run_dir: Path, name: str) -> Path:
    return run_dir / PARTS / f"{name}.jsonl"


def executor_for(prepared: Prepared, name: str, no_cache: bool) -> Executor:
    """The executor of the process that prepared the run (its plan, providers and baselines)."""
    return Executor(
        prepared.plan,
        prepared.providers,
        part_path(prepared.run_dir, name),
        prepared.baseline_dir,
        no_cache,
    )


def worker_executor(options: RunOptions, run_dir: Path, name: str) -> Executor:
    """A pytest-xdist worker's executor: the same plan, built in this process, writing its own part."""
    loaded = load_config(options.config)
    suites = list(options.loaded_suites) or load_suites(suite_paths(options.suites, loaded))
    plan = build_plan(loaded, suites, options.variants, options.repeats, options.concurrency)
    providers = instantiate(plan)
    baseline_dir, _ = resolve_baseline_dir(options)
    plan = retrieve(plan)
    return Executor(plan, providers, part_path(run_dir, name), baseline_dir, options.no_cache)


def finish(
    prepared: Prepared, interrupted: int | None = None, timings: dict[str, float] | None = None
) -> RunOutcome:
    """Join every part into results.jsonl in plan order and conclude the run (releases its lock)."""
    t0 = time.perf_counter()
    order = {key: i for i, key in enumerate(prepared.plan.keys())}
    joined: dict[str, CaseResult] = {}
    parts_dir = prepared.run_dir / PARTS
    for part in sorted(parts_dir.glob("*.jsonl")) if parts_dir.is_dir() else []:
        for result in read_results(part):
            joined[result.key] = result
    rows: Sequence[CaseResult] = sorted(joined.values(), key=lambda r: order.get(r.key, len(order)))
    prepared.dir.rewrite_results(rows)
    shutil.rmtree(parts_dir, ignore_errors=True)
    prepared.timings.update(timings or {})
    prepared.timings["join_s"] = time.perf_counter() - t0
    return conclude_run(prepared, interrupted, None)
