"""Schema versions of everything evalkit writes, and the ordered migrations that bring an older
file up to date, so a newer evalkit reads the run directories and baselines an older one wrote.

Each kind has a current version and a list of functions; `MIGRATIONS[kind][i]` turns version
i + 1 into version i + 2. A record without `schema_version` is version 1 (everything written
before versions existed). Migrations are pure dict → dict functions: no I/O, no evalkit types.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from evalkit.types import normalise_finish

Migration = Callable[[dict[str, Any]], dict[str, Any]]


def _run_info_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """v1 run.json was an untyped dict: suites, scorers and thresholds lived under `config`."""
    old_config = data.get("config") or {}
    options = dict(data.get("options") or {})
    options.setdefault("baseline", None)
    options.setdefault("no_baseline", False)
    suites = [
        {
            "name": s["name"],
            "path": s.get("path"),
            "content_hash": s.get("content_hash"),
            "cases": s.get("cases", 0),
            "repeats": s.get("repeats", 1),
            "scorers": s.get("scorers", []),
            "thresholds": {
                k: {kk: vv for kk, vv in t.items() if vv is not None}
                for k, t in (s.get("thresholds") or {}).items()
            },
        }
        for s in old_config.get("suites", [])
    ]
    return {
        "schema_version": 2,
        "run_id": data.get("run_id", ""),
        "started_at": data.get("started_at", ""),
        "finished_at": data.get("finished_at"),
        "status": data.get("status", "unknown"),
        "evalkit_version": data.get("evalkit_version"),
        "python": data.get("python"),
        "platform": data.get("platform"),
        "packages": data.get("packages") or {},
        "git_sha": data.get("git_sha"),
        "options": options,
        "config_digest": data.get("config_digest", ""),
        "plan": {k: v for k, v in old_config.items() if k != "suites"},
        "suites": suites,
        "run_settings": old_config.get("run") or {},
        "cache": data.get("cache"),
        "resumed_with_done": data.get("resumed_with_done"),
        "timings_s": data.get("timings_s") or {},
    }


def _cache_entry_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """v1 cache entries were a bare completion; v2 wraps it with its version."""
    return {"schema_version": 2, "completion": data}


def _result_v2_to_v3(data: dict[str, Any]) -> dict[str, Any]:
    """v3 speaks one finish vocabulary (stop, length, tool_calls, content_filter, error) and keeps
    the vendor's own word apart; v2 stored the vendor's word as `finish_reason`."""
    normal, vendor = normalise_finish(data.get("finish_reason"), failed=data.get("error") is not None)
    return {**data, "schema_version": 3, "finish_reason": normal, "vendor_finish_reason": vendor}


def _summary_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    return {**data, "schema_version": 2, "frontier": data.get("frontier", [])}


def _set_version(version: int) -> Migration:
    def migrate(data: dict[str, Any]) -> dict[str, Any]:
        return {**data, "schema_version": version}

    return migrate


CURRENT: dict[str, int] = {"run_info": 2, "result": 3, "baseline_meta": 2, "cache_entry": 2, "summary": 2}

MIGRATIONS: dict[str, list[Migration]] = {
    "run_info": [_run_info_v1_to_v2],
    # v2 adds the version field itself; the record is otherwise unchanged
    "result": [_set_version(2), _result_v2_to_v3],
    "baseline_meta": [_set_version(2)],
    "cache_entry": [_cache_entry_v1_to_v2],
    # v2 adds the version field and the cost–quality `frontier` (an empty list before it existed)
    "summary": [_summary_v1_to_v2],
}


class NewerSchemaError(ValueError):
    """A file written by a newer evalkit than this one."""


def migrate(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    """Bring one record of `kind` to the current schema version."""
    version = int(data.get("schema_version", 1))
    current = CURRENT[kind]
    if version > current:
        raise NewerSchemaError(
            f"written by a newer evalkit ({kind} schema {version}; this one reads up to {current}): "
            "upgrade evalkit"
        )
    for step in MIGRATIONS[kind][version - 1 : current - 1]:
        data = step(data)
    return data


def needs_migration(kind: str, data: dict[str, Any]) -> bool:
    return int(data.get("schema_version", 1)) != CURRENT[kind]
