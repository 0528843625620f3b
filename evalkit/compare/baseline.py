"""Baselines: a blessed run, per suite × variant, in small diff-friendly files.

baselines/<suite>/<variant>.jsonl      one line per case × repeat, sorted, sorted keys
baselines/<suite>/<variant>.meta.json  provenance: suite hash, model versions, params, evalkit version
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from evalkit._util.models import new_list
from evalkit._util.paths import shown
from evalkit.compare.records import CaseRecord, Records, StoredRecords, by_case
from evalkit.errors import UserInputError
from evalkit.rundir.dir import RunDir
from evalkit.rundir.files import read_json, write_json, write_jsonl
from evalkit.rundir.migrations import CURRENT, NewerSchemaError, migrate
from evalkit.spec.yamlfile import format_validation_error

__all__ = ["CaseRecord", "Group"]  # CaseRecord lives in evalkit.compare.records

DEFAULT_DIR = Path("baselines")


class BaselineMetric(BaseModel):
    """How a baseline compares one score: its direction, and whether it is only informational."""

    model_config = ConfigDict(extra="forbid")

    higher_is_better: bool = True
    informational: bool = False  # scored and shown; compared with the baseline but never gated


class BaselineMeta(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_version: int = CURRENT["baseline_meta"]
    suite: str
    variant: str
    suite_content_hash: str | None = None
    provider: str | None = None
    model: str | None = None
    model_versions: list[str] = Field(default_factory=new_list)
    params: dict[str, Any] = Field(default_factory=dict)
    judge_model: str | None = None  # each judge: "name: provider/model [versions]"
    judge_model_versions: list[str] = Field(default_factory=new_list)
    retrieval: dict[str, Any] | None = None  # a RAG variant's settings
    prompt_text: str | None = None  # the system prompt and message templates asked with (prompt diffs)
    machine: str | None = None  # where it ran: latency from another machine is not comparable
    latency_measured: bool = True  # False: every result came from the cache (no latency measured)
    metrics: dict[str, BaselineMetric] = Field(default_factory=dict)
    evalkit_version: str
    run_id: str
    git_sha: str | None = None
    saved_at: str
    cases: int
    results: int


@dataclass
class Group:
    """The records and metadata of one suite × variant, from a run or a baseline: a list, or
    (runs and baseline files of any size) records kept on disk and read back case by case."""

    suite: str
    variant: str
    records: Records
    meta: BaselineMeta


def has_baselines(root: Path) -> bool:
    return root.is_dir() and any(root.glob("*/*.jsonl"))


_PLAIN_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")


def _safe(name: str) -> str:
    """A file name for a suite or variant name: the name itself when it is a plain one, else a
    readable form plus a hash of the name, so two names never share a file (`a b` and `a_b`,
    `x/y` and `x_y`) and none climbs out of the folder (`..`)."""
    if _PLAIN_NAME.fullmatch(name):
        return name
    readable = re.sub(r"[^A-Za-z0-9_-]+", "_", name).strip("_")[:40] or "_"
    return f"{readable}-{hashlib.sha256(name.encode('utf-8', 'surrogatepass')).hexdigest()[:10]}"


def baseline_paths(root: Path, suite: str, variant: str) -> tuple[Path, Path]:
    folder = root / _safe(suite)
    return folder / f"{_safe(variant)}.jsonl", folder / f"{_safe(variant)}.meta.json"


def incomplete(run_dir: RunDir | Path, results: int) -> str | None:
    """Why a run is not a complete one (killed, interrupted, cut short), or None."""
    info = RunDir.of(run_dir).info()
    planned = info.plan.get("requests")
    reasons = []
    if info.status in ("running", "interrupted"):
        reasons.append("never finished" if info.status == "running" else "was interrupted")
    if isinstance(planned, int) and results < planned:
        reasons.append(f"holds {results} of its {planned} planned results")
    return " and ".join(reasons) or None


def check_folder(root: Path) -> None:
    """A baselines folder must be a folder (or not exist yet): `--to FILE` is a usage error."""
    if root.exists() and not root.is_dir():
        raise UserInputError("not a folder: baselines are saved into a folder (--to DIR)", path=root)


def keep_known_latency(group: Group, previous: Group | None) -> int:
    """Cached results measured no latency in this run: keep what the previous baseline measured
    for the same case (same data) and repeat. Returns how many cached results got none. Records
    on disk are read case by case beside the previous baseline's (both sorted by case id)."""
    run_id = previous.meta.run_id if previous else None
    unknown, all_cached, measured = 0, True, False
    if isinstance(group.records, StoredRecords):
        kept = StoredRecords(group.records.store, by_repeat=group.records.by_repeat)
        pairs = _beside(group.records, previous.records if previous else [])
    else:
        prev = {(r.case_id, r.repeat, r.case_hash): r for r in previous.records} if previous else {}
        pairs = iter([(list(group.records), prev)])
    for records, old in pairs:
        for r in records:
            unknown += _keep_one(r, old, run_id)
            all_cached &= r.cached
            measured |= not r.cached or bool(r.latency_kept_from)
            if isinstance(group.records, StoredRecords):
                kept.add(r)
    if isinstance(group.records, StoredRecords):
        kept.flush()
        group.records = kept
    if previous is not None and all_cached:
        group.meta.machine = previous.meta.machine  # the kept latencies were measured there
    group.meta.latency_measured = measured
    return unknown


def _keep_one(r: CaseRecord, prev: dict[tuple[str, int, str | None], CaseRecord], run_id: str | None) -> bool:
    """Give a cached record the latency its previous baseline measured; False when it has one."""
    if not r.cached:
        return False
    old = prev.get((r.case_id, r.repeat, r.case_hash))
    if old is not None and old.latency_ms is not None and (not old.cached or old.latency_kept_from):
        r.latency_ms = old.latency_ms
        r.latency_kept_from = old.latency_kept_from or run_id
        return False
    return True


def _beside(
    records: Records, previous: Records
) -> Iterator[tuple[list[CaseRecord], dict[tuple[str, int, str | None], CaseRecord]]]:
    """Each case's records with the previous baseline's records of that case, by key."""
    old_cases = by_case(previous)
    old = next(old_cases, None)
    for case_id, case in by_case(records):
        while old is not None and old[0] < case_id:
            old = next(old_cases, None)
        same = old[1] if old is not None and old[0] == case_id else []
        yield case, {(r.case_id, r.repeat, r.case_hash): r for r in same}


def save(group: Group, root: Path) -> tuple[Path, Path]:
    """Write a baseline through the run directory's one write path: atomic, secrets scrubbed."""
    data_path, meta_path = baseline_paths(root, group.suite, group.variant)
    try:
        data_path.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise UserInputError("the baselines folder is a file, not a folder", path=root) from None
    write_jsonl(data_path, (r.model_dump(mode="json") for r in group.records))  # scrubbed value by value
    write_json(meta_path, group.meta)
    return data_path, meta_path


def _legacy_paths(root: Path, suite: str, variant: str) -> tuple[Path, Path]:
    """Where evalkit before issue 27 saved a baseline of a name that is not a plain file name."""
    old_suite, old_variant = (re.sub(r"[^A-Za-z0-9._-]+", "_", n) for n in (suite, variant))
    folder = root / old_suite
    return folder / f"{old_variant}.jsonl", folder / f"{old_variant}.meta.json"


def saved_paths(root: Path, suite: str, variant: str) -> tuple[Path, Path] | None:
    """The files `load` reads a suite × variant's baseline from (None: none saved)."""
    data_path, meta_path = baseline_paths(root, suite, variant)
    if not data_path.exists():
        legacy = _legacy_paths(root, suite, variant)
        named = read_json(legacy[1]) if ".." not in (suite, variant) and legacy[0].is_file() else None
        if not isinstance(named, dict) or (named.get("suite"), named.get("variant")) != (suite, variant):
            return None  # none saved, or that file is another name's
        return legacy
    return data_path, meta_path


def load(root: Path, suite: str, variant: str) -> Group | None:
    paths = saved_paths(root, suite, variant)
    if paths is None:
        return None
    data_path, meta_path = paths
    if not meta_path.exists():
        raise UserInputError(f"baseline without its {meta_path.name}", path=data_path)
    meta = _read_meta(meta_path)
    try:
        records = StoredRecords().extend(_lines(data_path))
    except (OSError, UnicodeDecodeError) as exc:
        raise UserInputError(f"unreadable baseline: {exc}", path=data_path) from None
    if not len(records):  # `baseline save` never writes one: each group has a result
        raise UserInputError("this baseline holds no records (an empty or damaged file)", path=data_path)
    if (meta.suite, meta.variant) != (suite, variant):  # never gate one variant against another's
        raise UserInputError(
            f"this baseline is for {meta.suite} · {meta.variant}, not {suite} · {variant}", path=data_path
        )
    return Group(suite=suite, variant=variant, records=records, meta=meta)


@dataclass(frozen=True)
class Copied:
    """The baselines a run is gated against, as copied into its directory: the gate is redone
    from these, with no baselines folder (`finish` on a copy of the directory gives the same)."""

    folder: str | None  # where they were copied from, as the summary shows it
    groups: dict[tuple[str, str], Group]


def copy_into(run_dir: RunDir, folder: Path, groups: Sequence[Group]) -> None:
    """Copy baselines into a run directory: baseline.jsonl (their cases) and baseline.meta.json
    (their folder and each group's meta), through its write path (the caller holds the lock)."""
    rows = (copied_row(group.suite, group.variant, record) for group in groups for record in group.records)
    metas = [group.meta.model_dump(mode="json") for group in groups]
    run_dir.write_baseline_copy(rows, {"folder": str(folder), "shown": shown(folder), "groups": metas})


def copied_row(suite: str, variant: str, record: CaseRecord) -> dict[str, Any]:
    """A baseline's record as baseline.jsonl holds it (written as `write_jsonl` writes a row)."""
    return {"suite": suite, "variant": variant, **record.model_dump(mode="json")}


def saved_records(path: Path) -> Iterator[CaseRecord]:
    """A saved baseline file's records, in its order, as `load` reads them."""
    return _lines(path)


def copied(run_dir: RunDir) -> Copied | None:
    """The baselines copied into a run directory (None: it holds none). A damaged copy is a usage
    error naming the file, not a traceback."""
    meta = run_dir.baseline_meta_data()
    if meta is None or not run_dir.baseline_file.exists():
        return None
    try:
        groups: dict[tuple[str, str], Group] = {}
        for raw in meta.get("groups") or []:
            group_meta = BaselineMeta.model_validate(migrate("baseline_meta", raw))
            key = (group_meta.suite, group_meta.variant)
            groups[key] = Group(suite=key[0], variant=key[1], records=StoredRecords(), meta=group_meta)
        for row in run_dir.baseline_rows():
            key = (row.pop("suite"), row.pop("variant"))
            records = groups[key].records
            assert isinstance(records, StoredRecords)
            records.add(CaseRecord.model_validate(row))
        for group in groups.values():
            assert isinstance(group.records, StoredRecords)
            group.records.flush()
    except (ValueError, KeyError, TypeError, AttributeError, NewerSchemaError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UserInputError(
            f"unreadable copy of the baselines: {first}", path=run_dir.baseline_file
        ) from None
    folder = meta.get("shown", meta.get("folder"))
    return Copied(folder if isinstance(folder, str) else None, groups)


def _read_meta(path: Path) -> BaselineMeta:
    """A baseline's .meta.json; what is wrong with it names that file (and its line)."""
    try:
        return BaselineMeta.model_validate(migrate("baseline_meta", json.loads(path.read_text("utf-8"))))
    except json.JSONDecodeError as exc:
        raise UserInputError.bad_json(exc, path=path) from None
    except ValidationError as exc:
        raise format_validation_error(exc, path=path, model=BaselineMeta) from None
    except (OSError, ValueError, NewerSchemaError) as exc:
        raise UserInputError(f"unreadable baseline: {str(exc).splitlines()[0]}", path=path) from None


def _lines(path: Path) -> Iterator[CaseRecord]:
    """A baseline file's records; a damaged line is bad input naming its file, line and field."""
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if line.strip():
                yield _record(line, path, lineno)


def _record(line: str, path: Path, lineno: int) -> CaseRecord:
    try:
        return CaseRecord.model_validate_json(line)
    except ValidationError as exc:
        if exc.errors()[0]["type"] != "json_invalid":
            raise format_validation_error(
                exc, path=path, line_of=lambda _loc: lineno, model=CaseRecord
            ) from None
    try:
        json.loads(line)
    except json.JSONDecodeError as exc:
        raise UserInputError.bad_json(exc, path=path, line=lineno) from None
    raise UserInputError("invalid JSON", path=path, line=lineno)


def outputs_of(root: Path | None) -> Callable[[str, str], dict[tuple[str, int], str]]:
    """What a pairwise judge holds a variant's outputs against: its blessed baseline's outputs."""

    def outputs(suite: str, variant: str) -> dict[tuple[str, int], str]:
        group = load(root, suite, variant) if root is not None else None
        return {
            (r.case_id, r.repeat): r.output for r in (group.records if group else []) if r.output is not None
        }

    return outputs
