"""Everything evalkit shows in a terminal: the outcome's summary tables, gates and alerts; the
consoles, errors and progress bar (`evalkit.cli.console`, re-exported here)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rich.cells import cell_len
from rich.table import Table
from rich.text import Text

from evalkit._util.numbers import (
    figure,
    figure_delta,
    figure_interval,
    kind_of,
    metric_label,
    number,
    token_counts,
)
from evalkit._util.paths import shown
from evalkit.cli.console import (  # re-exported: every command's one import of terminal output
    ProgressObserver as ProgressObserver,
)
from evalkit.cli.console import console as console
from evalkit.cli.console import err_console as err_console
from evalkit.cli.console import error as error
from evalkit.cli.console import escape as escape
from evalkit.cli.console import notices as notices
from evalkit.cli.console import warn as warn
from evalkit.compare.aggregate import GroupSummary, Summary
from evalkit.compare.frontier import SuiteFrontier, marks_text, pick_text, rule_text, vs_best_text
from evalkit.compare.gate import (
    VERDICT_SYMBOLS,
    VERDICT_TONES,
    DiffReport,
    GroupDiff,
    MetricDiff,
    case_lines,
    diff_preview,
    gate_footnote,
    group_label,
    in_order,
    provenance_text,
    truncation_text,
    verdict_label,
)
from evalkit.types import GROUP_VERDICTS

if TYPE_CHECKING:
    from evalkit.history.alerts import Alert
    from evalkit.history.record import Outcome
    from evalkit.stages.pipeline import RunOutcome


def _consistency(g: GroupSummary) -> str:
    c = g.consistency
    if c is None:
        return "–"
    return f"{number(c.pass_at_k, 'rate')} / {number(c.pass_hat_k, 'rate')} (k={c.k})"


def _cell_width(cell: object, wrap: bool) -> int:
    text = Text.from_markup(cell) if isinstance(cell, str) else Text(str(cell))
    if wrap:
        return max((cell_len(word) for word in text.plain.split()), default=0)
    return max((cell_len(line) for line in text.plain.splitlines()), default=0)


def fits(table: Table, width: int) -> bool:
    """Whether `table` renders within `width` columns with every number whole and every word
    unbroken (only columns without `no_wrap` may wrap, and only between words). Sets each
    wrapping column's `min_width` to its longest word so that rich never cuts one."""
    need = table._extra_width
    for col in table.columns:
        cells = [col.header, *col._cells]
        longest = max(_cell_width(c, wrap=not col.no_wrap) for c in cells)
        if not col.no_wrap:
            col.min_width = longest
        need += longest + 2  # the default padding, one space each side
    return need <= width


def _suite_rows(groups: list[GroupSummary]) -> list[tuple[str, list[str]]]:
    rows: list[tuple[str, list[str]]] = [
        ("results", [number(g.results, "count") for g in groups]),
        ("errors", [f"[red]{number(g.errors, 'count')}[/]" if g.errors else "0" for g in groups]),
        ("from cache", [number(g.cached, "count") for g in groups]),
        ("pass rate", [number(g.pass_rate, "rate") for g in groups]),
    ]
    if any(g.retrieval_failures is not None for g in groups):
        rows.append(
            (
                "retrieval failures",
                [
                    "–"
                    if (n := g.retrieval_failures) is None
                    else (f"[red]{number(n, 'count')}[/]" if n else "0")
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
                cells.append(number(g.corpus.get(name), kind_of(name)))
            else:
                cells.append(
                    number(m.mean, kind_of(name))
                    + (f" [dim]({m.unmeasured} unmeasured)[/]" if m.unmeasured else "")
                )
        info = any(name in g.metrics and g.metrics[name].informational for g in groups)
        rows.append((escape(name) + (" [dim](info)[/]" if info else ""), cells))
    if any(g.consistency for g in groups):
        rows.append(
            (
                "flaky cases",
                [number(g.consistency.flaky_share, "rate") if g.consistency else "–" for g in groups],
            )
        )
        rows.append(("pass@k / pass^k", [_consistency(g) for g in groups]))
    if any(g.latency.ttft_p50_ms is not None for g in groups):
        rows.append(
            (
                "first token p50 / p95 ms",
                [
                    f"{number(g.latency.ttft_p50_ms, 'ms')} / {number(g.latency.ttft_p95_ms, 'ms')}"
                    for g in groups
                ],
            )
        )
    rows += _step_rows(groups)
    rows += [
        (
            "latency p50 / p95 ms",
            [f"{number(g.latency.p50_ms, 'ms')} / {number(g.latency.p95_ms, 'ms')}" for g in groups],
        ),
        (
            "tokens in / out",
            [
                token_counts(g.tokens.input, g.tokens.output, g.tokens.mean_input_per_case is not None)
                for g in groups
            ],
        ),
        ("cost", [number(g.cost_usd, "cost") for g in groups]),
    ]
    if any(g.judges for g in groups):  # what the judges read and wrote: their cost is in the cost
        rows.append(
            (
                "judge tokens in / out",
                [
                    f"{number(g.tokens.judge_input, 'count')} / {number(g.tokens.judge_output, 'count')}"
                    for g in groups
                ],
            )
        )
        rows.append(("judge cost", [number(_judge_cost(g), "cost") for g in groups]))
    if any(g.truncated for g in groups):  # answers cut short at max_tokens (finish_reason length)
        rows.append(("truncated", [f"{number(g.truncation_rate, 'rate')} ({g.truncated})" for g in groups]))
    return rows


def _judge_cost(g: GroupSummary) -> float | None:
    """What the group's judges cost (None when none of them has a price)."""
    costs = [j.cost_usd for j in g.judges.values() if j.cost_usd is not None]
    return sum(costs) if costs else None


def _step_rows(groups: list[GroupSummary]) -> list[tuple[str, list[str]]]:
    """A row per step name of the traces: latency p50 / p95, and errors when there are any."""
    names: list[str] = []
    for g in groups:
        names += [n for n in g.steps or {} if n not in names]
    rows = []
    for name in names:
        label = name if len(name) <= 18 else name[:17] + "…"
        cells = []
        for g in groups:
            st = (g.steps or {}).get(name)
            if st is None:
                cells.append("–")
                continue
            errors = f" [red]{number(st.errors, 'count')} err[/]" if st.errors else ""
            cells.append(f"{number(st.latency_p50_ms, 'ms')} / {number(st.latency_p95_ms, 'ms')}{errors}")
        rows.append((f"step {escape(label)} ms", cells))
    return rows


def _suite_table(title: str, groups: list[GroupSummary], rows: list[tuple[str, list[str]]]) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("", no_wrap=True)  # figure names stay whole: variants move to a next table
    for g in groups:
        table.add_column(escape(g.variant), justify="right", no_wrap=True)
    for label, cells in rows:
        table.add_row(label, *cells)
    return table


def summary_tables(summary: Summary, width: int | None = None) -> list[Table]:
    """One table per suite: a row per figure, a column per variant. Variants that do not fit
    the terminal's width continue in a second table (never a truncated column)."""
    width = width or console.width
    tables = []
    suites: dict[str, list[GroupSummary]] = {}
    for g in summary.groups:
        suites.setdefault(g.suite, []).append(g)
    for suite, groups in suites.items():
        title = f"suite [bold]{escape(suite)}[/]"
        rows = _suite_rows(groups)
        start = 0
        while start < len(groups):
            end = start + 1
            while end < len(groups):
                part = [(label, cells[start : end + 1]) for label, cells in rows]
                if not fits(_suite_table(title, groups[start : end + 1], part), width):
                    break
                end += 1
            part = [(label, cells[start:end]) for label, cells in rows]
            suffix = "" if start == 0 else " (continued)"
            tables.append(_suite_table(title + suffix, groups[start:end], part))
            start = end
    return tables


def _frontier_table(f: SuiteFrontier, wrap: bool) -> Table:
    title = f"cost–quality frontier: suite [bold]{escape(f.suite)}[/]"
    table = Table(title=title, title_justify="left")
    table.add_column("variant", no_wrap=not wrap)
    for head in ("pass rate", escape(f.metric or "–"), "cost/case", "P95 ms"):
        table.add_column(head, justify="right", no_wrap=True)
    table.add_column("vs best", no_wrap=not wrap)
    for v in f.variants:
        style = "dim" if v.dominated_by else ("bold green" if v.variant == f.pick else "")
        marks = marks_text(f, v)
        note = escape(vs_best_text(f, v)) + (f" [{style or 'bold'}]· {escape(marks)}[/]" if marks else "")
        name = escape(v.variant)
        table.add_row(
            f"[{style}]{name}[/]" if style else name,
            number(v.pass_rate, "rate"),
            number(v.quality, kind_of(f.metric or "")),
            number(v.cost_per_case_usd, "cost"),
            number(v.latency_p95_ms, "ms"),
            note,
        )
    return table


def frontier_tables(summary: Summary, width: int | None = None) -> list[Table | str]:
    """Per suite of two or more variants: its frontier table (fitted to `width`: the names and
    the verdicts wrap between words when they must), its pick and how to read it."""
    width = width or console.width
    out: list[Table | str] = []
    for f in summary.frontier:
        table = _frontier_table(f, wrap=False)
        out.append(table if fits(table, width) else _frontier_table(f, wrap=True))
        out.append(f"[bold]{escape(pick_text(f))}[/]")
        out.append(f"[dim]{escape(rule_text(f))}[/]")
    return out


# colour by the tone the one verdict table (evalkit.types.VERDICTS) gives each verdict
TONE_STYLE = {"bad": "bold red", "warn": "yellow", "good": "green", "neutral": "dim"}
VERDICT_STYLE = {code: TONE_STYLE[tone] for code, tone in VERDICT_TONES.items()}
VERDICT_MARK = VERDICT_SYMBOLS
# columns of the gate table, most important first; the last ones go when 80 columns are too few
DIFF_COLUMNS = ("metric", "verdict", "baseline", "candidate", "Δ", "95% CI", "MDE")
DROP_ORDER = ("MDE", "baseline", "candidate", "95% CI")


def verdict_text(m: MetricDiff) -> str:
    style, mark = VERDICT_STYLE.get(m.verdict, "bold"), VERDICT_MARK.get(m.verdict, "·")
    return f"[{style}]{mark} {escape(verdict_label(m))}[/]"


def _diff_cells(m: MetricDiff) -> dict[str, str]:
    name = m.metric
    return {
        "metric": escape(metric_label(name)),
        "verdict": verdict_text(m),
        "Δ": figure_delta(name, m.delta),
        "candidate": figure(name, m.candidate),
        "95% CI": figure_interval(name, m.ci_low, m.ci_high),
        "baseline": figure(name, m.baseline),
        "MDE": figure(name, m.mde),
    }


def _diff_table(title: str, metrics: list[MetricDiff], columns: list[str], wrap: bool) -> Table:
    table = Table(title=title, title_justify="left")
    for col in columns:
        left = col in ("metric", "verdict")
        table.add_column(col, justify="left" if left else "right", no_wrap=not (left and wrap))
    for m in metrics:
        cells = _diff_cells(m)
        table.add_row(*(cells[c] for c in columns))
    return table


def _shown(m: MetricDiff) -> bool:
    return not (m.delta is None and m.kind in ("latency_p95", "cost"))


def _ordered(diff: DiffReport, summary: Summary | None) -> list[GroupDiff]:
    if summary is None:
        return diff.groups
    return in_order(diff, [(g.suite, g.variant) for g in summary.groups], summary.metric_names())


def _quiet(g: GroupDiff, alpha: float) -> bool:
    """Nothing to look at: no compared metric moved beyond noise even before the correction, no
    case changed between pass and fail, nothing warned about."""
    shown = [m for m in g.metrics if _shown(m)]
    quiet = bool(shown) and g.paired > 0 and not g.warnings and not g.provenance
    quiet = quiet and not (g.pass_to_fail or g.fail_to_pass)
    return quiet and all(
        m.verdict == "unchanged"
        or (m.verdict in ("worse_ns", "better_ns") and m.p_value is not None and m.p_value >= alpha)
        for m in shown
    )


def diff_tables(
    diff: DiffReport, summary: Summary | None = None, width: int | None = None
) -> list[Table | str]:
    """A table per compared group, fitted to `width`; an all-unchanged group is one line."""
    width = width or console.width
    out: list[Table | str] = []
    for g in _ordered(diff, summary):
        where = f"[bold]{escape(g.suite)}[/] · [bold]{escape(g.variant)}[/]"
        against = (
            f"baseline variant [bold]{escape(g.baseline_variant)}[/]" if g.baseline_variant else "baseline"
        )
        shown = [m for m in g.metrics if _shown(m)]
        if _quiet(g, diff.alpha):
            out.append(
                f"[dim]= no significant change[/] vs {against}: {where} "
                f"({len(shown)} metrics, {number(g.paired, 'count')} paired cases)"
            )
            continue
        title = f"vs {against}: {where} ({number(g.paired, 'count')} paired cases) {_group_text(g)}"
        if g.provenance:
            changes = " · ".join(provenance_text(p) for p in g.provenance)
            title += f"\n[dim]changed since the baseline: {escape(changes)}[/]"
        out.append(_fitted(title, shown, width))
    return out


def _group_text(g: GroupDiff) -> str:
    tone = GROUP_VERDICTS[g.verdict].tone if g.verdict in GROUP_VERDICTS else "neutral"
    return f"[{TONE_STYLE[tone]}]{escape(group_label(g))}[/]"


def _fitted(title: str, metrics: list[MetricDiff], width: int) -> Table:
    """The widest gate table that fits: drop columns by priority; before the interval goes, try
    wrapping names and verdicts; last, wrap what is left."""
    columns = list(DIFF_COLUMNS)
    for drop in (*DROP_ORDER, None):
        table = _diff_table(title, metrics, columns, wrap=False)
        if fits(table, width):
            return table
        if drop == "95% CI":
            wrapped = _diff_table(title, metrics, columns, wrap=True)
            if fits(wrapped, width):
                return wrapped
        if drop is not None:
            columns.remove(drop)
    return _diff_table(title, metrics, columns, wrap=True)


def show_diff(diff: DiffReport, summary: Summary | None = None) -> None:
    for table in diff_tables(diff, summary):
        console.print(table, highlight=False)
    for g in _ordered(diff, summary):
        if g.verdict == "regressed" and g.top_regressions:
            console.print(f"[bold]most regressed cases[/] in {escape(g.suite)} · {escape(g.variant)}:")
            for c in g.top_regressions[:5]:
                console.print(
                    f"  {escape(c.case_id)}  {escape(metric_label(c.metric))} "
                    f"{figure(c.metric, c.baseline)} → {figure(c.metric, c.candidate)}",
                    highlight=False,
                )
        if g.outputs_compared:
            console.print(
                f"  {escape(g.suite)} · {escape(g.variant)}: {number(g.outputs_identical, 'count')} of "
                f"{number(g.outputs_compared, 'count')} outputs identical to the baseline's "
                f"({number(g.outputs_identical / g.outputs_compared, 'rate')})",
                highlight=False,
            )
        for p in g.provenance:
            if p.diff:
                console.print(
                    f"  [dim]prompt diff in {escape(g.suite)} · {escape(g.variant)}:[/]", highlight=False
                )
                for line in diff_preview(p.diff):
                    style = "green" if line.startswith("+") else "red" if line.startswith("-") else "dim"
                    console.print(f"    [{style}]{escape(line[:200])}[/]", highlight=False)
        for line in case_lines(g):
            style = "bold red" if line.startswith("✗") else ""
            text = escape(f"{g.suite} · {g.variant}: {line}")
            console.print(f"  [{style}]{text}[/]" if style else f"  {text}", highlight=False)
        truncation = truncation_text(g)
        if truncation:
            console.print(f"  {escape(f'{g.suite} · {g.variant}: {truncation}')}", highlight=False)
        for w in g.warnings:
            warn(f"{g.suite} · {g.variant}: {w}")
        if g.verdict == "inconclusive":
            warn(f"{g.suite} · {g.variant}: inconclusive: no case could be paired with the baseline")
    for missing in diff.missing_baselines:
        warn(f"no baseline for {missing}: not gated")
    console.print(f"[dim]{escape(gate_footnote(diff))}[/]")


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
    for item in frontier_tables(summary):
        console.print(item, highlight=False)
    if diff is not None:
        show_diff(diff, summary)
    for line in threshold_lines(summary.groups):
        console.print(line, highlight=False)
    for line in cause_lines(summary):
        console.print(f"[red]{escape(line)}[/]", highlight=False)
    verdict = {
        "passed": "[bold green]PASSED[/]",
        "failed": "[bold red]FAILED[/] (threshold not met)",
        "regressed": "[bold red]REGRESSED[/] (worse than the baseline: "
        + escape(", ".join(summary.regressions))
        + ")",
        # stopped (the deadline, a circuit breaker, refused credentials: the next line says why)
        "errors": "[bold red]ERRORS[/] "
        + ("(the run stopped early)" if summary.aborted else "(over the error budget)"),
        "interrupted": "[bold yellow]INTERRUPTED[/] (partial results kept)",
    }[summary.status]
    console.print(
        f"{verdict}  {number(summary.results, 'count')} results, {number(summary.errors, 'count')} errors"
        f" · {escape(summary.error_budget)}"
    )
    if summary.aborted:
        error(summary.aborted)
    console.print(f"Results in [bold]{escape(shown(run_dir))}[/]", highlight=False)


def cause_lines(summary: Summary) -> list[str]:
    """Why requests failed and scores went unmeasured, grouped by cause with counts."""
    from evalkit._util.causes import causes_text

    lines = []
    errors = summary.error_causes()
    if errors:
        lines.append(f"{number(sum(errors.values()), 'count')} errors: {causes_text(errors)}")
    unmeasured = summary.unmeasured_causes()
    if unmeasured:
        n = number(sum(unmeasured.values()), "count")
        lines.append(f"{n} unmeasured scores: {causes_text(unmeasured)}")
    return lines


def show_final_line(run_dir: Path, exit_code: int, fail_on_alert: bool) -> None:
    """The run's last line once the history raised alerts: the same words as summary.json,
    summary.md, junit.xml and the report ('PASSED with 4 alerts'), and the exit code."""
    from evalkit.compare.aggregate import Summary
    from evalkit.rundir.dir import RunDir

    raw = RunDir(run_dir).summary_data()
    if raw is None:
        return
    summary = Summary.model_validate(raw)
    style = "bold red" if exit_code else "bold yellow"
    why = " (--fail-on-alert)" if fail_on_alert and exit_code == 4 else ""
    console.print(f"[{style}]{escape(summary.headline())}[/] · exit {exit_code}{why}", highlight=False)


def show_alerts(alerts: list[Alert]) -> None:
    if not alerts:
        console.print("[green]✓[/] no trend alerts", highlight=False)
        return
    for a in alerts:
        mark = "[yellow]⚠ alert[/]" if a.severity == "warning" else "[cyan]ℹ note[/]"
        console.print(
            f"{mark} {escape(a.suite)} · {escape(a.variant)} · {a.rule}: {escape(a.message)}", highlight=False
        )


def show_history_outcome(outcome: Outcome | None) -> None:
    """What `evalkit run` says after recording."""
    if outcome is None:
        return
    if not outcome.recorded:
        console.print(f"[yellow]history: {escape(outcome.message)}[/]", highlight=False)
        return
    console.print(f"history: {escape(outcome.message)}", highlight=False)
    show_alerts(outcome.alerts)
    if outcome.webhook:
        console.print(f"history: {escape(outcome.webhook)}", highlight=False)
