"""summary.md: a compact table for $GITHUB_STEP_SUMMARY and pull-request comments."""

from __future__ import annotations

from evalkit._util.causes import causes_text
from evalkit._util.numbers import figure, figure_delta, figure_interval, kind_of, metric_label, ms, number
from evalkit._util.textsafe import md_code, md_text
from evalkit.compare.aggregate import GroupSummary, Summary
from evalkit.compare.frontier import SuiteFrontier, marks_text, pick_text, rule_text, vs_best_text
from evalkit.compare.gate import (
    VERDICT_TONES,
    DiffReport,
    GroupDiff,
    case_lines,
    gate_footnote,
    group_label,
    in_order,
    provenance_text,
    truncation_text,
    verdict_label,
)
from evalkit.compare.judgecost import judge_text
from evalkit.types import GROUP_VERDICTS

ICON = {"passed": "✅", "failed": "❌", "regressed": "❌", "errors": "⚠️", "interrupted": "⏸️"}
# by the tone the one verdict table (evalkit.types.VERDICTS) gives each verdict
TONE_ICON = {"bad": "❌", "warn": "⚠️", "good": "✅", "neutral": "·"}
MARK = {code: TONE_ICON[tone] for code, tone in VERDICT_TONES.items()}


CELL_LIMIT = 200  # characters of any one value (a case id, a reason, a warning) shown


def _cell(text: str) -> str:
    """Any value evalkit did not write (names, ids, reasons, warnings) as literal text."""
    return md_text(text, CELL_LIMIT)


def _code(text: str) -> str:
    return md_code(text, CELL_LIMIT)


def _group_row(g: GroupSummary, names: list[str]) -> str:
    metrics = [figure(n, g.metrics[n].mean) if n in g.metrics else "–" for n in names]
    cells = [_cell(g.suite), _cell(g.variant), number(g.results, "count"), number(g.errors, "count")]
    cells += [number(g.pass_rate, "rate"), *metrics, ms(g.latency.p95_ms), number(g.cost_usd, "cost")]
    return _row(cells)


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _frontier_lines(f: SuiteFrontier) -> list[str]:
    lines = [
        "",
        f"### Cost–quality frontier: {_cell(f.suite)}",
        "",
        f"| variant | pass rate | {_cell(f.metric or '–')} | cost/case | P95 | vs best |",
        "|---|---|---|---|---|---|",
    ]
    for v in f.variants:
        marks = marks_text(f, v)
        name = f"**{_cell(v.variant)}**" if v.variant == f.pick else _cell(v.variant)
        lines.append(
            f"| {name} | {number(v.pass_rate, 'rate')} | {number(v.quality, kind_of(f.metric or ''))} | "
            f"{number(v.cost_per_case_usd, 'cost')} | {ms(v.latency_p95_ms)} | "
            f"{_cell(vs_best_text(f, v))}{' · ' + _cell(marks) if marks else ''} |"
        )
    return [*lines, "", f"**{_cell(pick_text(f))}**", "", f"_{_cell(rule_text(f))}_"]


def _diff_lines(summary: Summary, diff: DiffReport) -> list[str]:
    lines = [
        "",
        "### Against the baseline",
        "",
        md_text(gate_footnote(diff)),
        "",
        "| suite · variant | metric | baseline | candidate | Δ | 95% CI | MDE | verdict |",
        "|---|---|---|---|---|---|---|---|",
    ]
    groups = in_order(diff, [(g.suite, g.variant) for g in summary.groups], summary.metric_names())
    for gd in groups:
        for m in gd.metrics:
            if m.delta is None and m.verdict == "unmeasured" and m.kind in ("latency_p95", "cost"):
                continue
            name = m.metric
            lines.append(
                f"| {_cell(gd.suite)} · {_cell(gd.variant)} | {_code(metric_label(name))} | "
                f"{figure(name, m.baseline)} | {figure(name, m.candidate)} | {figure_delta(name, m.delta)} | "
                f"{figure_interval(name, m.ci_low, m.ci_high)} | {figure(name, m.mde)} | "
                f"{MARK.get(m.verdict, '·')} {_cell(verdict_label(m))} |"
            )
    for gd in groups:
        lines += _group_notes(gd)
    for missing in diff.missing_baselines:
        lines.append(f"- no baseline for {_cell(missing)}")
    return lines


def _group_notes(gd: GroupDiff) -> list[str]:
    tone = GROUP_VERDICTS[gd.verdict].tone if gd.verdict in GROUP_VERDICTS else "neutral"
    lines = [
        f"- {TONE_ICON[tone]} {_cell(gd.suite)} · {_cell(gd.variant)}: {_cell(group_label(gd))}"
        f" ({number(gd.paired, 'count')} paired cases)"
    ]
    lines += [f"  - changed since the baseline: {_cell(provenance_text(p))}" for p in gd.provenance]
    lines += [f"  - {_cell(line)}" for line in case_lines(gd)]
    truncation = truncation_text(gd)
    if truncation:
        lines.append(f"  - {_cell(truncation)}")
    if gd.top_regressions and gd.verdict == "regressed":
        lines += ["", f"**Most regressed cases in {_cell(gd.suite)} · {_cell(gd.variant)}**", ""]
        lines += [
            f"- {_code(c.case_id)} {_cell(metric_label(c.metric))}: {figure(c.metric, c.baseline)} → "
            f"{figure(c.metric, c.candidate)}"
            for c in gd.top_regressions[:5]
        ]
    lines += [f"- ⚠️ {_cell(gd.suite)} · {_cell(gd.variant)}: {_cell(w)}" for w in gd.warnings]
    return lines


def _cause_lines(summary: Summary) -> list[str]:
    """Why requests failed and scores went unmeasured, by cause (the terminal's words)."""
    errors, unmeasured = summary.error_causes(), summary.unmeasured_causes()
    out = []
    if errors:
        out.append(f"- **{sum(errors.values()):,} errors**: {_cell(causes_text(errors))}")
    if unmeasured:
        out.append(f"- **{sum(unmeasured.values()):,} unmeasured scores**: {_cell(causes_text(unmeasured))}")
    return ["", *out] if out else []


def render(summary: Summary, diff: DiffReport | None) -> str:
    icon = "⚠️" if summary.alerts and summary.status == "passed" else ICON.get(summary.status, "")
    lines = [f"## evalkit: {icon} {md_text(summary.headline())}", ""]
    lines.append(
        f"Run {_code(summary.run_id)} · {number(summary.results, 'count')} results · "
        f"{number(summary.errors, 'count')} errors · {_cell(summary.error_budget)}"
    )
    if summary.aborted:
        lines.append(f"\n> {_cell(summary.aborted)}")
    lines += _cause_lines(summary)
    names = summary.metric_names()
    info = {n for g in summary.groups for n, m in g.metrics.items() if m.informational}
    heads = [_cell(f"{n} (info)" if n in info else n) for n in names]
    lines += ["", _row(["suite", "variant", "n", "errors", "pass rate", *heads, "P95", "cost"])]
    lines.append("|" + "---|" * (7 + len(names)))
    lines += [_group_row(g, names) for g in summary.groups]
    truncated = [g for g in summary.groups if g.truncated]
    if truncated:  # answers cut short at max_tokens (finish_reason length)
        lines += ["", "**Truncated answers** (finish reason `length`)", ""]
        lines += [
            f"- {_cell(g.suite)} · {_cell(g.variant)}: {number(g.truncation_rate, 'rate')} "
            f"({number(g.truncated, 'count')} of {number(g.results - g.errors, 'count')})"
            for g in truncated
        ]
    judged = [(g, name, j) for g in summary.groups for name, j in g.judges.items()]
    if judged:  # the judges' own tokens and cost (their cost is in the table's cost)
        lines += ["", "**Judges** (their cost is part of the cost above)", ""]
        lines += [f"- {_cell(g.suite)} · {_cell(g.variant)}: {_cell(judge_text(n, j))}" for g, n, j in judged]
    for f in summary.frontier:
        lines += _frontier_lines(f)
    failed = [(g, t) for g in summary.groups for t in g.thresholds if not t.passed]
    if failed:
        lines += ["", "**Thresholds not met**", ""]
        lines += [
            f"- {_cell(g.suite)} · {_cell(g.variant)} · {_code(t.metric)}: {_cell(t.reason)}"
            for g, t in failed
        ]
    if diff is not None:
        lines += _diff_lines(summary, diff)
    return "\n".join(lines) + "\n"
