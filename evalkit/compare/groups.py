"""A run directory read as groups (suite × variant) with their provenance: what `baseline save`
blesses, and what the gate compares with a baseline."""

from __future__ import annotations

from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

from evalkit.compare.aggregate import GroupSummary, Summary
from evalkit.compare.baseline import BaselineMeta, BaselineMetric, Group
from evalkit.compare.records import CaseRecord, RecordStore, StoredRecords
from evalkit.errors import UserInputError
from evalkit.rundir.dir import RunDir
from evalkit.rundir.runinfo import RunInfo
from evalkit.types import CaseResult, Threshold


def run_thresholds(run_dir: RunDir | Path) -> dict[str, dict[str, Threshold]]:
    """Each suite's thresholds as the run recorded them (run.json), so a diff needs no suite files."""
    return {s.name: dict(s.thresholds) for s in RunDir.of(run_dir).info().suites}


@dataclass
class _Tally:
    """What a group's provenance needs of its results, gathered as they stream past; the
    results themselves are kept only as compact CaseRecords."""

    suite: str
    provider: str
    model: str | None
    model_versions: set[str] = field(default_factory=set)
    judges: dict[str, tuple[str, str | None, set[str]]] = field(default_factory=dict)
    latency_measured: bool = False
    records: StoredRecords = field(default_factory=lambda: StoredRecords(by_repeat=True))
    cases: int = 0  # distinct case ids (counted when the records are read back, in order)

    def add(self, r: CaseResult) -> None:
        if r.model_version:
            self.model_versions.add(r.model_version)
        for name, j in r.judges.items():
            self.judges.setdefault(name, (j.provider, j.model, set()))[2].update(j.model_versions)
        self.latency_measured |= r.latency_ms is not None and not r.cached
        self.records.add(CaseRecord.from_result(r))


class Gathered:
    """Results gathered into groups one at a time (so conclude can fill it in the same pass
    over results.jsonl that aggregates them): one CaseRecord per result is all that is kept,
    on disk (evalkit.compare.records), read back case by case. `wanted`: the groups whose
    records are kept (the gate's: those with a baseline); the others are only named (a group
    with no baseline is reported missing, nothing of it compared). None: every group."""

    def __init__(self, wanted: Container[tuple[str, str]] | None = None) -> None:
        self.tallies: dict[tuple[str, str], _Tally] = {}
        self.store = RecordStore()
        self.wanted = wanted
        self._kept: dict[tuple[str, str], _Tally] = {}  # the wanted ones

    def add(self, r: CaseResult) -> None:
        key = (r.suite, r.variant)
        tally = self._kept.get(key)
        if tally is None and key not in self.tallies:
            records = StoredRecords(self.store, by_repeat=True)
            tally = self.tallies[key] = _Tally(r.suite, r.provider, r.model, records=records)
            if self.wanted is None or key in self.wanted:
                self._kept[key] = tally
            else:
                tally = None
        if tally is not None:
            tally.add(r)

    def narrow(self, wanted: Container[tuple[str, str]]) -> None:
        """Gathered every group (`wanted` None): now as if `wanted` had been given from the start,
        each other group only named (its records and provenance dropped)."""
        assert self.wanted is None, "narrowed once, from every group"
        self.wanted = wanted
        self._kept = {key: tally for key, tally in self._kept.items() if key in wanted}
        for key, tally in self.tallies.items():
            if key not in wanted:
                records = StoredRecords(self.store, by_repeat=True)
                self.tallies[key] = _Tally(tally.suite, tally.provider, tally.model, records=records)


def groups_from_run(
    where: RunDir | Path,
    summary_groups: Sequence[GroupSummary] | None = None,
    results: Iterable[CaseResult] | Gathered | None = None,
) -> list[Group]:
    """Read a run directory into groups (suite × variant) with provenance. Metric directions
    come from `summary_groups` and results from `results` (or already `Gathered`) when the
    caller has them, else from the run's summary.json and results.jsonl (streamed)."""
    run_dir = RunDir.of(where)
    run_dir.require_results()
    info = run_dir.info()
    if summary_groups is None and run_dir.summary_file.exists():
        summary_groups = _read_summary(run_dir).groups
    suite_hashes = {s.name: s.content_hash for s in info.suites}
    variants = info.plan.get("variants", {})
    gathered = results if isinstance(results, Gathered) else Gathered()
    if not isinstance(results, Gathered):
        for r in results if results is not None else run_dir.results():
            gathered.add(r)
    tallies = gathered.tallies
    out = []
    for (suite, variant), tally in sorted(tallies.items()):
        directions: dict[str, BaselineMetric] = {}
        if summary_groups is not None:
            for g in summary_groups:
                if (g.suite, g.variant) == (suite, variant):
                    directions = {
                        n: BaselineMetric(higher_is_better=m.higher_is_better, informational=m.informational)
                        for n, m in g.metrics.items()
                    }
        vconf = variants.get(variant, {})
        meta = BaselineMeta(
            suite=suite,
            variant=variant,
            suite_content_hash=suite_hashes.get(suite),
            provider=tally.provider,
            model=tally.model,
            model_versions=sorted(tally.model_versions),
            params=vconf.get("params", {}),
            judge_model=judge_provenance(tally.judges, suite, info),
            judge_model_versions=sorted({v for _, _, vs in tally.judges.values() for v in vs}),
            retrieval=vconf.get("rag"),
            prompt_text=prompt_text(info, suite, variant),
            machine=info.machine,
            latency_measured=tally.latency_measured,
            metrics=directions,
            evalkit_version=info.evalkit_version or version("evalkit"),
            run_id=info.run_id or run_dir.path.name,
            git_sha=info.git_sha,
            saved_at=datetime.now(UTC).isoformat(timespec="seconds"),
            cases=sum(1 for _ in tally.records.case_ids()),
            results=len(tally.records),
        )
        tally.records.flush()
        out.append(Group(suite=suite, variant=variant, records=tally.records, meta=meta))
    return out


def _read_summary(run_dir: RunDir) -> Summary:
    try:
        return Summary.model_validate_json(run_dir.summary_file.read_text(encoding="utf-8"))
    except ValueError as exc:
        first = str(exc).splitlines()[0]
        raise UserInputError(f"summary.json is unreadable: {first}", path=run_dir.summary_file) from None


def prompt_text(info: RunInfo, suite: str, variant: str) -> str | None:
    """What a suite × variant was asked with, as text: the system prompt, then the message
    templates (the variant's own prompt, else the suite's), from run.json alone."""
    record = info.suite(suite)
    if record is None:
        return None
    vconf = info.plan.get("variants", {}).get(variant, {})
    system = vconf.get("system") or record.system
    own = info.plan.get("prompts", {}).get(variant)
    messages = (
        [own] if own is not None else [f"[{m.get('role')}] {m.get('content')}" for m in record.messages]
    )
    parts = ([f"[system] {system}"] if system else []) + [str(m) for m in messages]
    return "\n".join(parts) if parts else None


def judge_provenance(
    judges: Mapping[str, tuple[str, str | None, set[str]]], suite_name: str, info: RunInfo
) -> str | None:
    """The judges that scored a group's results (`judges`: name → provider, model and model
    versions, as the results recorded them), and judges recorded only in the run's config (no
    call made: all cached before usage was kept) by model."""
    seen = {name: (provider, model, set(versions)) for name, (provider, model, versions) in judges.items()}
    providers = info.plan.get("providers", {})
    for suite in info.suites:
        if suite.name != suite_name:
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
