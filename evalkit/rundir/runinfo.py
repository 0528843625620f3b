"""run.json as a typed, versioned record: everything a later reader needs to score, report, diff or
resume a run from its directory alone — no config file, no suite files, no credentials."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from evalkit._util.models import Record, new_list
from evalkit.rundir.migrations import CURRENT
from evalkit.types import MetricInfo, Threshold


class StoredOptions(Record):
    """The options a run was started with. `--resume` restores every one that decides the outcome."""

    suites: list[str] = Field(default_factory=new_list)  # resolved suite paths
    config: str | None = None  # resolved evalkit.yaml path
    variants: list[str] = Field(default_factory=new_list)
    repeats: int | None = None
    concurrency: int | None = None  # operational: may change on resume
    no_cache: bool = False  # operational
    deadline_s: float | None = None  # operational
    baseline: str | None = None  # the resolved baselines folder the run is gated against
    no_baseline: bool = False
    shard: str | None = None  # "I/N": this run holds one shard of the plan (`evalkit merge` joins them)


class SuiteRecord(Record):
    """A suite as the run used it. With cases.jsonl beside run.json, it rebuilds the suite."""

    name: str
    path: str | None = None
    content_hash: str | None = None
    cases: int = 0
    repeats: int = 1
    description: str | None = None
    system: str | None = None
    messages: list[dict[str, Any]] = Field(default_factory=new_list)
    params: dict[str, Any] = Field(default_factory=dict)
    tags: list[str] = Field(default_factory=new_list)
    scorers: list[dict[str, Any]] = Field(default_factory=new_list)
    thresholds: dict[str, Threshold] = Field(default_factory=dict)
    pass_scores: list[str] | None = None  # `pass:`: the scores that decide a case's pass
    max_new_failures: int | None = None  # the suite's case-level gate rule (None: the config's)
    # each score's direction, kind, pass role and corpus options: what aggregation needs
    metrics: list[MetricInfo] = Field(default_factory=new_list)


class MergedShard(Record):
    """One shard directory `evalkit merge` joined into this run."""

    shard: str
    run_id: str
    run_dir: str
    results: int
    started_at: str
    finished_at: str | None = None
    timings_s: dict[str, float] = Field(default_factory=dict)


class RunInfo(Record):
    schema_version: int = CURRENT["run_info"]
    run_id: str
    started_at: str
    finished_at: str | None = None
    status: str = "running"
    exit_code: int | None = None  # set when the run is recorded in the history (4: --fail-on-alert)
    alerts: int | None = None  # trend alerts the history raised for this run
    evalkit_version: str | None = None
    python: str | None = None
    platform: str | None = None
    machine: str | None = None  # architecture, CPU model and count: latency is only comparable on one
    packages: dict[str, str | None] = Field(default_factory=dict)
    git_sha: str | None = None
    git_dirty: bool | None = None  # uncommitted changes to tracked files when the run started
    options: StoredOptions = Field(default_factory=StoredOptions)
    config_digest: str = ""
    # the validated evalkit.yaml (API keys are never in it: only the names of their env vars)
    config: dict[str, Any] = Field(default_factory=dict)
    config_dir: str | None = None
    plan: dict[str, Any] = Field(default_factory=dict)  # providers (described), variants, requests, rag
    suites: list[SuiteRecord] = Field(default_factory=new_list)
    run_settings: dict[str, Any] = Field(default_factory=dict)
    cache: dict[str, int] | None = None
    resumed_with_done: int | None = None
    timings_s: dict[str, float] = Field(default_factory=dict)
    interruptions: list[str] = Field(default_factory=new_list)  # e.g. "SIGTERM at finalize"
    merged_from: list[MergedShard] = Field(default_factory=new_list)  # `evalkit merge`: the shards joined

    def suite(self, name: str) -> SuiteRecord | None:
        return next((s for s in self.suites if s.name == name), None)
