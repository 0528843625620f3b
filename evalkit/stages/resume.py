"""What `--resume` may and may not change. Operational settings (concurrency, timeouts, retries,
cache use, deadline) never block a resume; anything that changes results does: the suites,
variants, repeats, prompts, models, params, scorers, thresholds and the baselines the run is
gated against. Repeating the original command with `--resume RUN_DIR` added is accepted."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from evalkit import plugins
from evalkit.errors import UserInputError
from evalkit.rundir.runinfo import RunInfo, StoredOptions
from evalkit.stages.plan import Plan

RUN_OPERATIONAL = {"concurrency", "deadline_s", "output_dir"}
PROVIDER_OPERATIONAL = {"concurrency", "replicas"}  # a run resumes on any number of replicas


def _provider_identity(config: dict[str, Any]) -> dict[str, Any]:
    """A provider's settings less those that only change how answers are fetched."""
    operational = set(PROVIDER_OPERATIONAL)
    try:
        cls = plugins.providers.get(str(config.get("type")))
        operational |= cls.operational_settings
    except UserInputError:
        pass
    return {k: v for k, v in config.items() if k not in operational}


def config_digest(plan: Plan) -> str:
    """A digest of everything that decides which requests a run makes and how they are scored."""
    config = plan.loaded.config.model_dump(mode="json", exclude={"cache", "history"})
    config["providers"] = {name: _provider_identity(p) for name, p in config["providers"].items()}
    config["run"] = {k: v for k, v in config["run"].items() if k not in RUN_OPERATIONAL}
    payload = {
        "config": config,
        "prompts": plan.prompts,
        "suites": {s.name: s.content_hash for s in plan.suites},
        "variants": [v.name for v in plan.variants],
        "repeats": plan.repeats,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def check_arguments(given: dict[str, Any], stored: StoredOptions) -> None:
    """Arguments repeated on `--resume` must equal the stored ones; each one that differs is named.
    `given` holds only what the user passed (resolved: absolute paths, variant names)."""
    differ = []
    for name, value in given.items():
        before = getattr(stored, name)
        if value != before:
            differ.append(f"{name.replace('_', '-')} (run: {_show(before)}, now: {_show(value)})")
    if differ:
        raise UserInputError(
            "cannot resume with other arguments than the run's: "
            + "; ".join(differ)
            + ". Repeat the original arguments, or pass only --resume RUN_DIR"
        )


def _show(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(Path(v).name if "/" in str(v) else str(v) for v in value) or "none"
    return "none" if value is None else str(value)


def what_changed(info: RunInfo, plan: Plan, digest: str) -> str | None:
    """None when the plan is what the run started with; else what changed, for the message."""
    if digest == info.config_digest:
        return None
    before = {s.name: s.content_hash for s in info.suites}
    for suite in plan.suites:
        if before.get(suite.name) != suite.content_hash:
            return f"suite '{suite.name}' ({suite.source_path})"
    old = info.config
    new = plan.loaded.config.model_dump(mode="json")
    for section in ("providers", "variants", "pricing", "plugins"):
        if section == "providers":
            changed = [
                n
                for n in {*old.get(section, {}), *new.get(section, {})}
                if _provider_identity(old.get(section, {}).get(n, {}))
                != _provider_identity(new.get(section, {}).get(n, {}))
            ]
            if changed:
                return f"provider '{sorted(changed)[0]}' in evalkit.yaml"
        elif old.get(section) != new.get(section):
            return f"'{section}' in evalkit.yaml"
    return "a prompt template or a run setting that changes results"
