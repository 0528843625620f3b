"""Everything evalkit shows in a terminal: progress, summary tables, errors."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from evalkit.aggregate import GroupSummary, Summary
from evalkit.gate import DiffReport
from evalkit.types import CaseResult

if TYPE_CHECKING:
    from evalkit.pipeline import RunOutcome

console = Console()
err_console = Console(stderr=True)


def error(message: str) -> None:
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)


def warn(message: str) -> None:
    err_console.print(f"[yellow]warning:[/] {escape(message)}", highlight=False, soft_wrap=True)


class ProgressObserver:
    """A rich progress bar fed by the runner as results arrive."""

    def __init__(self, total: int, description: str):
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("[red]{task.fields[errors]} errors"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self.task = self.progress.add_task(description, total=total, errors=0)
        self.errors = 0

    def __enter__(self) -> ProgressObserver:
        self.progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.stop()

    def status(self, message: str) -> None:
        self.progress.update(self.task, description=message)

    def result(self, result: CaseResult) -> None:
        if result.error is not None:
            self.errors += 1
        self.progress.update(self.task, advance=1, errors=self.errors)


def _fmt(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}g}"


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"


def _money(value: float | None) -> str:
    return "–" if value is None else f"${value:.4f}"


def _consistency(g: GroupSummary) -> str:
    c = g.consistency
    return "–" if c is None else f"{_fmt(c.pass_at_k)} / {_fmt(c.pass_hat_k)} (k={c.k})"


def summary_tables(summary: Summary) -> list[Table]:
    """One table per suite: a row per figure, a column per variant (readable at 80 columns)."""
    tables = []
    suites: dict[str, list[GroupSummary]] = {}
    for g in summary.groups:
        suites.setdefault(g.suite, []).append(g)
    for suite, groups in suites.items():
        table = Table(title=f"suite [bold]{escape(suite)}[/]", title_justify="left")
        table.add_column("")
        for g in groups:
            table.add_column(escape(g.variant), justify="right")
        rows: list[tuple[str, list[str]]] = [
            ("results", [str(g.results) for g in groups]),
            ("errors", [f"[red]{g.errors}[/]" if g.errors else "0" for g in groups]),
            ("from cache", [str(g.cached) for g in groups]),
            ("pass rate", [_pct(g.pass_rate) for g in groups]),
        ]
        if any(g.retrieval_failures is not None for g in groups):
            rows.append(
                (
                    "retrieval failures",
                    [
                        "–"
                        if g.retrieval_failures is None
                        else (f"[red]{n}[/]" if (n := g.retrieval_failures) else "0")
                        for g in groups
                    ],
                )
            )
        names: list[str] = []
        for g in groups:
            names += [n for n in [*g.metrics, *g.corpus] if n not in names]
        for name in names:
            cells = []
            for g in groups:
                m = g.metrics.get(name)
                if m is None:
                    cells.append(_fmt(g.corpus.get(name)))
                else:
                    cells.append(
                        _fmt(m.mean) + (f" [dim]({m.unmeasured} unmeasured)[/]" if m.unmeasured else "")
                    )
            rows.append((escape(name), cells))
        if any(g.consistency for g in groups):
            rows.append(
                ("flaky cases", [_pct(g.consistency.flaky_share) if g.consistency else "–" for g in groups])
            )
            rows.append(("pass@k / pass^k", [_consistency(g) for g in groups]))
        if any(g.latency.ttft_p50_ms is not None for g in groups):
            rows.append(
                (
                    "first token p50 / p95 ms",
                    [f"{_fmt(g.latency.ttft_p50_ms, 4)} / {_fmt(g.latency.ttft_p95_ms, 4)}" for g in groups],
                )
            )
        rows += [
            (
                "latency p50 / p95 ms",
                [f"{_fmt(g.latency.p50_ms, 4)} / {_fmt(g.latency.p95_ms, 4)}" for g in groups],
            ),
            ("tokens in / out", [f"{g.tokens.input} / {g.tokens.output}" for g in groups]),
            ("cost", [_money(g.cost_usd) for g in groups]),
        ]
        for label, cells in rows:
            table.add_row(label, *cells)
        tables.append(table)
    return tables


VERDICT_STYLE = {
    "regressed": "[bold red]✗ regressed[/]",
    "worse": "[yellow]! worse (not gated)[/]",
    "improved": "[green]↑ improved[/]",
    "unchanged": "[dim]= unchanged[/]",
    "unmeasured": "[dim]? unmeasured[/]",
}


def diff_tables(diff: DiffReport) -> list[Table]:
    tables = []
    for g in diff.groups:
        where = f"[bold]{escape(g.suite)}[/] · [bold]{escape(g.variant)}[/]"
        against = (
            f"baseline variant [bold]{escape(g.baseline_variant)}[/]" if g.baseline_variant else "baseline"
        )
        title = f"vs {against}: {where} ({g.paired} paired cases)"
        table = Table(title=title, title_justify="left")
        for col in ("metric", "baseline", "candidate", "Δ", "95% CI", "MDE", "verdict"):
            table.add_column(col, justify="left" if col in ("metric", "verdict") else "right")
        for m in g.metrics:
            if m.delta is None and m.kind in ("latency_p95", "cost"):
                continue
            ci = "–" if m.ci_low is None else f"[{_fmt(m.ci_low)}, {_fmt(m.ci_high)}]"
            delta = "–" if m.delta is None else f"{m.delta:+.3g}"
            table.add_row(
                escape(m.metric),
                _fmt(m.baseline),
                _fmt(m.candidate),
                delta,
                ci,
                _fmt(m.mde),
                VERDICT_STYLE[m.verdict],
            )
        tables.append(table)
    return tables


def show_diff(diff: DiffReport) -> None:
    for table in diff_tables(diff):
        console.print(table)
    for g in diff.groups:
        if g.verdict == "regressed" and g.top_regressions:
            console.print(f"[bold]most regressed cases[/] in {escape(g.suite)} · {escape(g.variant)}:")
            for c in g.top_regressions[:5]:
                console.print(
                    f"  {escape(c.case_id)}  {escape(c.metric)} {_fmt(c.baseline)} → {_fmt(c.candidate)}"
                )
        if g.outputs_compared:
            console.print(
                f"  {escape(g.suite)} · {escape(g.variant)}: {g.outputs_identical} of {g.outputs_compared} "
                f"outputs identical to the baseline's ({g.outputs_identical / g.outputs_compared:.0%})",
                highlight=False,
            )
        if g.pass_to_fail:
            shown = ", ".join(g.pass_to_fail[:10]) + (" …" if len(g.pass_to_fail) > 10 else "")
            console.print(f"  pass → fail: {escape(shown)}")
        for w in g.warnings:
            warn(f"{g.suite} · {g.variant}: {w}")
    for missing in diff.missing_baselines:
        warn(f"no baseline for {missing}: not gated")
    console.print(
        f"[dim]α = {diff.alpha:g}, Holm-adjusted over {diff.family_size} gated comparisons, "
        f"{diff.resamples} bootstrap resamples[/]"
    )


def threshold_lines(groups: list[GroupSummary]) -> list[str]:
    lines = []
    for g in groups:
        for t in g.thresholds:
            mark = "[green]✓ pass[/]" if t.passed else "[red]✗ FAIL[/]"
            lines.append(
                f"{mark} {escape(g.suite)} · {escape(g.variant)} · {escape(t.metric)}: {escape(t.reason)}"
            )
    return lines


def show_outcome(outcome: RunOutcome) -> None:
    for line in outcome.warnings:
        warn(line)
    show_summary(outcome.summary, str(outcome.run_dir), outcome.diff)


def show_summary(summary: Summary, run_dir: str, diff: DiffReport | None = None) -> None:
    for table in summary_tables(summary):
        console.print(table)
    if diff is not None:
        show_diff(diff)
    for line in threshold_lines(summary.groups):
        console.print(line, highlight=False)
    verdict = {
        "passed": "[bold green]PASSED[/]",
        "failed": "[bold red]FAILED[/] (threshold not met)",
        "regressed": "[bold red]REGRESSED[/] (worse than the baseline: "
        + escape(", ".join(summary.regressions))
        + ")",
        "errors": "[bold red]ERRORS[/] (over the error budget)",
        "interrupted": "[bold yellow]INTERRUPTED[/] (partial results kept)",
    }[summary.status]
    console.print(
        f"{verdict}  {summary.results} results, {summary.errors} errors · {escape(summary.error_budget)}"
    )
    if summary.aborted:
        error(summary.aborted)
    console.print(f"Results in [bold]{escape(run_dir)}[/]", highlight=False)
