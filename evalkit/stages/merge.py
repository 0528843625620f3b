"""`evalkit merge`: join the run directories of `--shard I/N` runs into one run directory whose
results.jsonl (in plan order), summary and gate are those an unsharded run would have. Shards of
other configs, overlapping, missing or unfinished shards are refused (exit 2) before anything is
written."""

from __future__ import annotations

import filecmp
import itertools
import json
import secrets as pysecrets
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from evalkit.compare import baseline
from evalkit.errors import UserInputError
from evalkit.rundir.dir import RunDir
from evalkit.rundir.files import current_result_line, parse_result_line, read_results_at
from evalkit.rundir.runinfo import MergedShard, RunInfo
from evalkit.spec.config import Config, LoadedConfig
from evalkit.stages.conclude import Conclusion
from evalkit.stages.finish import finish
from evalkit.stages.mergeplan import Key, MergePlan
from evalkit.stages.shard import Shard, parse_shard


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
    first = shards[0]
    with MergePlan(first.run_dir, first.info) as plan:  # from cases.jsonl (every shard has it)
        lines = _collect_lines(shards, plan)
    gate_dir, warnings = _gate_dir(first.info, baseline_dir, no_baseline)
    merged = RunDir(out).prepare()
    with merged.lock("evalkit merge"):
        merged.prepare()
        merged.copy_cases_from(RunDir(first.run_dir))
        merged.write_result_lines(lines.in_order())
        info = _merged_info(shards, len(lines), gate_dir)
        merged.write_info(info)
        config = Config.model_validate(info.config) if info.config else Config()
        finished_at = datetime.now(UTC).isoformat()
        conclusion = finish(
            merged,
            baselines=gate_dir,
            interrupted=None,
            aborted=None,
            stamp=lambda on_disk, summary: on_disk.model_copy(
                update={"status": summary.status, "finished_at": finished_at}
            ),
        )
    loaded = LoadedConfig(config=config, path=None, base_dir=Path(info.config_dir or out))
    return Merged(conclusion, out, warnings, loaded)


def _read_shard(run_dir: Path) -> ShardRun:
    info = RunDir(run_dir).info()
    if info.options.shard is None:
        raise UserInputError("not a shard: this run was not started with --shard I/N", path=run_dir)
    if not RunDir(run_dir).cases_file.exists():
        raise UserInputError(_no_cases(run_dir, info), path=run_dir)
    return ShardRun(run_dir, info, parse_shard(info.options.shard))


def _no_cases(run_dir: Path, info: RunInfo) -> str:
    """Why a shard has no cases.jsonl. A run puts it in place before its first result line, or
    as it concludes when it stopped earlier: a run.json still "running" is a process that died
    between preparing and its first result (`--resume` writes it); a concluded run without it
    was written by an evalkit from before cases.jsonl."""
    if info.status == "running":
        return (
            "no cases.jsonl: this shard stopped before its first result (run.json still says"
            f" running); finish it with `evalkit run --resume {run_dir}`, which writes cases.jsonl"
        )
    return "no cases.jsonl: written by an evalkit too old to merge"


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


class _Lines:
    """Where each result line of the shards is (shard, byte offset, length) and its position in
    the plan (-1: not in it), in compact arrays: merging holds a few dozen bytes per result,
    never the results nor a Python object per result."""

    def __init__(self, shards: Sequence[ShardRun]):
        self.shards = shards
        self.shard, self.offset, self.size, self.position = array("i"), array("q"), array("q"), array("q")
        self.order: Any = ()  # line numbers in plan order (a numpy array of them)
        self.sorted: Any = ()  # their positions, in that order

    def __len__(self) -> int:
        return len(self.shard)

    def add(self, shard: int, offset: int, size: int, position: int | None) -> None:
        self.shard.append(shard)
        self.offset.append(offset)
        self.size.append(size)
        self.position.append(-1 if position is None else position)

    def sort(self) -> None:
        """Put the lines in plan order (a stable sort: shard by shard, line by line)."""
        import numpy as np

        positions = np.frombuffer(self.position, dtype=np.int64)
        self.order = np.argsort(positions, kind="stable")
        self.sorted = positions[self.order]
        self.position = array("q")  # the order is all that is needed now

    def planned(self) -> Any:
        """The distinct positions of the plan there are results for, sorted."""
        import numpy as np

        have = self.sorted[np.searchsorted(self.sorted, 0) :]
        return have[np.r_[True, have[1:] != have[:-1]]] if len(have) else have

    def check_once(self) -> None:
        """A planned result in two shards (or twice in one) sorts next to itself: refused."""
        import numpy as np

        same = (self.sorted[1:] == self.sorted[:-1]) & (self.sorted[1:] >= 0)
        if same.any():
            k = int(np.argmax(same))
            a, b = int(self.order[k]), int(self.order[k + 1])
            _overlap(
                parse_result_line(self.line(b)).key, self.shards[self.shard[a]], self.shards[self.shard[b]]
            )

    def line(self, i: int) -> str:
        with RunDir(self.shards[self.shard[i]].run_dir).results_file.open("rb") as fh:
            fh.seek(self.offset[i])
            return fh.read(self.size[i]).decode("utf-8")

    def in_order(self) -> Iterator[str]:
        handles = [RunDir(s.run_dir).results_file.open("rb") for s in self.shards]
        try:
            for i in map(int, self.order):
                fh = handles[self.shard[i]]
                fh.seek(self.offset[i])
                yield current_result_line(fh.read(self.size[i]).decode("utf-8")) + "\n"
        finally:
            for fh in handles:
                fh.close()


def _collect_lines(shards: Sequence[ShardRun], plan: MergePlan) -> _Lines:
    """Every shard's result lines checked (finished, the plan covered, no result in two shards)
    and put in plan order, streaming: each result is parsed once and only its place is kept."""
    lines = _Lines(shards)
    unplanned: dict[str, int] = {}  # results of cases the plan does not know (none, normally)
    extra: set[Key] = set()  # results the plan does not have (none, normally)
    for k, s in enumerate(shards):
        count = 0
        for r, offset, size in read_results_at(RunDir(s.run_dir).results_file):
            count += 1
            place = plan.place(r)
            if not place.known_case:
                if r.key in unplanned:
                    _overlap(r.key, shards[unplanned[r.key]], s)
                unplanned[r.key] = k
            if place.position is None:
                extra.add(place.key)
            lines.add(k, offset, size, place.position)
        expected = s.info.plan.get("requests")
        if s.info.status in ("running", "interrupted") or (isinstance(expected, int) and count != expected):
            raise UserInputError(
                f"shard {s.shard} is unfinished ({count} of {expected} results, status "
                f"{s.info.status}): finish it with `evalkit run --resume {s.run_dir}` first",
                path=s.run_dir,
            )
    lines.sort()
    check_coverage(shards, plan, lines.planned(), len(extra))
    lines.check_once()
    return lines


def _same_cases(a: Path, b: Path) -> bool:
    """One cases snapshot: the same bytes or, line by line, the same case but for where it was
    read (`origin`: the suite's path as it was given, or the absolute path `--resume` loads it
    from when it writes the cases.jsonl of a run that stopped before its first result)."""
    if filecmp.cmp(a, b, shallow=False):
        return True
    with a.open("rb") as one, b.open("rb") as other:
        for line, other_line in itertools.zip_longest(one, other):
            if line != other_line and not _same_but_origin(line, other_line):
                return False
    return True


def _same_but_origin(line: bytes | None, other: bytes | None) -> bool:
    """Two case lines that are the same case as JSON (`true` is not `1`) but for their origin."""
    if line is None or other is None:
        return False
    try:
        row, other_row = json.loads(line), json.loads(other)
    except ValueError:
        return False
    if not isinstance(row, dict) or not isinstance(other_row, dict):
        return False
    row.pop("origin", None)
    other_row.pop("origin", None)
    return json.dumps(row, sort_keys=True) == json.dumps(other_row, sort_keys=True)


def check_coverage(shards: Sequence[ShardRun], plan: MergePlan, have: Any, extra: int) -> None:
    """The joined results must be exactly the plan the cases snapshot gives (every case × variant
    × repeat once), not what each shard's own run.json claims: an edited shard merged 123 of 200
    results with exit 0. Every shard must hold the same cases snapshot. `have`: the distinct
    positions in the plan there are results for, sorted; `extra`: the results it does not have."""
    import numpy as np

    first = shards[0]
    for s in shards[1:]:
        if not _same_cases(RunDir(first.run_dir).cases_file, RunDir(s.run_dir).cases_file):
            raise UserInputError(
                f"its cases.jsonl differs from {first.run_dir}'s: not one run", path=s.run_dir
            )
    missing = plan.planned - len(have)
    if missing or extra:
        said = []
        if missing:  # the first position in the plan with no result
            gaps = have != np.arange(len(have))
            first_missing = int(np.argmax(gaps)) if gaps.any() else len(have)
            said.append(f"{missing} planned result(s) missing (e.g. {plan.name(first_missing)})")
        if extra:
            said.append(f"{extra} result(s) the plan does not have")
        raise UserInputError(
            f"the shards do not cover the run's plan ({plan.planned} results from cases.jsonl): "
            + "; ".join(said)
        )


def _overlap(key: str, first: ShardRun, second: ShardRun) -> None:
    raise UserInputError(f"overlapping shards: result {key} is in {first.run_dir} and {second.run_dir}")


def _gate_dir(info: RunInfo, given: Path | None, no_baseline: bool) -> tuple[Path | None, tuple[str, ...]]:
    """--baseline wins; else the folder the shards were gated against, when it is ./baselines
    here: a shard's run.json is data and does not choose which files evalkit reads."""
    if no_baseline:
        return None, ()
    if given is not None:
        if not baseline.has_baselines(given):
            raise UserInputError("no baselines here (expected <suite>/<variant>.jsonl files)", path=given)
        return given.resolve(), ()
    stored = Path(info.options.baseline) if info.options.baseline else None
    if stored is None:
        return None, ()
    if stored.resolve() != baseline.DEFAULT_DIR.resolve():
        return None, (
            f"not gated: the shards were gated against {stored}, which is not ./{baseline.DEFAULT_DIR}: "
            "pass --baseline DIR to gate against it",
        )
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
