"""`evalkit.run(...)`: a run from Python (tests, notebooks), the same pipeline as `evalkit run`:
config, suites, providers, the response cache, scorers, the gate, the run directory and the
history. It returns typed values and pandas frames; it prints nothing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from evalkit.compare.aggregate import GroupSummary, Summary
from evalkit.compare.gate import DiffReport
from evalkit.types import CaseResult

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class RunResult:
    """A finished run: where it is, its summary, its gate and its results."""

    run_dir: Path
    summary: Summary
    diff: DiffReport | None
    results: list[CaseResult]
    warnings: tuple[str, ...] = ()

    @property
    def status(self) -> str:
        return self.summary.status

    @property
    def exit_code(self) -> int:
        return self.summary.exit_code

    @property
    def regressed(self) -> bool:
        return bool(self.summary.regressions)

    def group(self, suite: str | None = None, variant: str | None = None) -> GroupSummary:
        """The one suite × variant matching (both may be left out when the run has one)."""
        found = [
            g
            for g in self.summary.groups
            if (suite is None or g.suite == suite) and (variant is None or g.variant == variant)
        ]
        if len(found) != 1:
            names = ", ".join(f"{g.suite} · {g.variant}" for g in self.summary.groups)
            raise LookupError(
                f"{len(found)} groups match suite={suite!r} variant={variant!r} (the run has {names})"
            )
        return found[0]

    def frame(self) -> pd.DataFrame:
        """One row per case × variant × repeat, one column per score (like `evalkit.load_run`)."""
        from evalkit.history.frames import load_run

        return load_run(self.run_dir)

    def metrics_frame(self) -> pd.DataFrame:
        """One row per suite × variant × metric: mean, its 95% CI, n, pass rate."""
        import pandas as pd

        rows = [
            {
                "suite": g.suite,
                "variant": g.variant,
                "metric": m.name,
                "mean": m.mean,
                "ci_low": m.ci_low,
                "ci_high": m.ci_high,
                "n": m.n,
                "pass_rate": m.pass_rate,
            }
            for g in self.summary.groups
            for m in g.metrics.values()
        ]
        return pd.DataFrame(
            rows, columns=["suite", "variant", "metric", "mean", "ci_low", "ci_high", "n", "pass_rate"]
        )


def run(
    suites: Sequence[str | Path] | str | Path = (),
    *,
    config: str | Path | None = None,
    variants: Sequence[str] = (),
    out: str | Path | None = None,
    runs_dir: str | Path | None = None,
    overwrite: bool = False,
    repeats: int | None = None,
    concurrency: int | None = None,
    no_cache: bool = False,
    baseline: str | Path | None = None,
    no_baseline: bool = False,
    record_history: bool = True,
) -> RunResult:
    """Run suites against variants like `evalkit run`; bad input raises `evalkit.errors.UserInputError`
    before any model call. Records the run in the history when the config's history is on."""
    from evalkit.stages.pipeline import RunOptions, execute, prepare

    paths = [Path(suites)] if isinstance(suites, str | Path) else [Path(s) for s in suites]
    prepared = prepare(
        RunOptions(
            suites=paths,
            config=Path(config) if config is not None else None,
            variants=list(variants),
            out=Path(out) if out is not None else None,
            runs_dir=Path(runs_dir) if runs_dir is not None else None,
            overwrite=overwrite,
            repeats=repeats,
            concurrency=concurrency,
            no_cache=no_cache,
            baseline=Path(baseline) if baseline is not None else None,
            no_baseline=no_baseline,
        ),
        cases_later=True,  # written while the first requests are in flight
    )
    outcome = execute(prepared)
    if record_history and outcome.summary.status != "interrupted":
        from evalkit.history.record import after_run

        after_run(prepared.run_dir, prepared.plan.loaded)
    results = list(prepared.dir.results())
    return RunResult(prepared.run_dir, outcome.summary, outcome.diff, results, (*prepared.warnings,))
