"""Errors a user can act on, and every exit code. The CLI turns an error into one line and its
exit code, never a traceback.

    EvalkitError                 exit 2 unless it says otherwise
    ├── UserInputError           2 (USAGE): bad input, config or usage, file:line, before any model call
    ├── ModelNotFoundError       2 (USAGE): the provider's API does not know the configured model
    ├── AuthenticationError      3 (INFRA): the provider refused the credentials
    ├── DiskFullError            3 (INFRA): no space left to write results
    ├── RunDeadlineError         3 (INFRA): the run's deadline passed
    ├── EngineStartError         3 (INFRA): a local engine (or one of its Ray replicas) could not start
    └── (history) HistoryUnavailable  3 (INFRA): the history database cannot be reached
"""

from __future__ import annotations

import difflib
import json
import os
from collections.abc import Iterable
from enum import IntEnum


class ExitCode(IntEnum):
    """Every exit code evalkit gives. Whatever decides one names it here; user code never does."""

    OK = 0
    FAILED = 1  # a threshold failed, or something regressed against the baseline
    USAGE = 2  # bad input, config or usage (no model was called)
    INFRA = 3  # errors over budget, credentials refused, deadline, disk full, history unreachable
    ALERT = 4  # --fail-on-alert: a trend alert, and nothing worse happened
    INCONCLUSIVE = 5  # a comparison with nothing paired: neither a pass nor a regression
    INTERRUPTED = 130  # Ctrl-C
    TERMINATED = 143  # SIGTERM


# What each exit code means (docs/reference/exit-codes.md is generated from this table;
# tests/docs/test_reference.py checks the codes the code uses are all here).
EXIT_CODES: dict[ExitCode, str] = {
    ExitCode.OK: "All thresholds met, nothing regressed.",
    ExitCode.FAILED: "A threshold failed, or a metric regressed against the baseline "
    "(`evalkit diff`: the second run regressed).",
    ExitCode.USAGE: "Bad input, config or usage: one line names the file and line (or the case id); "
    "no model was called. Also a model name the provider's API rejects (HTTP 404): the run stops at "
    "that first answer, with one line naming the provider and the model.",
    ExitCode.INFRA: "Provider errors over the error budget, credentials refused, the first requests to "
    "a provider all failed for one cause no retry fixes (host not found, connection refused, a model "
    "not found that the provider did not report as such: the run stops early), a local engine could "
    "not start, the run's deadline "
    "passed, or no space left on the disk (what was written is kept: free space, then `--resume`). "
    "Also an `evalkit history` command whose database cannot be reached (a run itself never fails "
    "for that).",
    ExitCode.ALERT: "With `--fail-on-alert`: the run (or `evalkit history check`) raised a trend alert, "
    "and nothing worse happened (a failed threshold or a regression keeps 1, errors keep 3).",
    ExitCode.INCONCLUSIVE: "Inconclusive: `evalkit diff` could pair no case, so nothing was compared.",
    ExitCode.INTERRUPTED: "Interrupted (Ctrl-C). Finished results are kept and the summary, JUnit, "
    "Markdown and HTML files are written.",
    ExitCode.TERMINATED: "Terminated (SIGTERM, what CI runners send on a timeout or cancel); as for 130.",
}


class EvalkitError(Exception):
    """Base class for every error evalkit reports to a user."""

    exit_code: ExitCode = ExitCode.USAGE


class UserInputError(EvalkitError):
    """Bad input, config or usage: exit code 2, raised before any model call."""

    def __init__(self, message: str, *, path: str | os.PathLike[str] | None = None, line: int | None = None):
        self.path = str(path) if path is not None else None
        self.line = line
        where = ""
        if self.path is not None:
            where = f"{self.path}:{line}: " if line is not None else f"{self.path}: "
        super().__init__(f"{where}{message}")

    @classmethod
    def bad_json(
        cls, exc: json.JSONDecodeError, *, path: str | os.PathLike[str], line: int | None = None
    ) -> UserInputError:
        """A file's (or a line's, `line`) JSON that does not parse, as every reader says it."""
        return cls(f"invalid JSON: {exc.msg} (column {exc.colno})", path=path, line=line or exc.lineno)


class ModelNotFoundError(EvalkitError):
    """The provider's API does not know the model the config names (HTTP 404): every request to
    it would fail the same way, so the run stops at the first answer instead of writing N errors."""

    exit_code = ExitCode.USAGE


class AuthenticationError(EvalkitError):
    """The provider refused our credentials: aborting beats burning through a suite."""

    exit_code = ExitCode.INFRA


class DiskFullError(EvalkitError):
    """No space left to write results: what was written is kept, and --resume finishes it."""

    exit_code = ExitCode.INFRA


class CircuitOpenError(EvalkitError):
    """The first requests to a provider all failed for one cause no retry fixes: stopped early."""

    exit_code = ExitCode.INFRA


class RunDeadlineError(EvalkitError):
    """The run's overall deadline passed; what finished is kept."""

    exit_code = ExitCode.INFRA


class EngineStartError(EvalkitError):
    """A local engine (vLLM, or one of its Ray replicas) could not start: its own first error line."""

    exit_code = ExitCode.INFRA


def first_line(exc: BaseException, limit: int = 300) -> str:
    """An exception as one readable line: its type and the first line of its message."""
    lines = str(exc).strip().splitlines()
    text = f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """' (did you mean 'x'?)' when a close match exists, else a list of what is known."""
    options = sorted(set(choices))
    close = difflib.get_close_matches(name, options, n=1, cutoff=0.6)
    if close:
        return f" (did you mean '{close[0]}'?)"
    if options and len(options) <= 12:
        return f" (known: {', '.join(options)})"
    return ""
