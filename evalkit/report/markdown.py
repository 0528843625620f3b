"""summary.md: a compact table for $GITHUB_STEP_SUMMARY and pull-request comments."""

from __future__ import annotations

from pathlib import Path

from evalkit.aggregate import Summary
from evalkit.gate import DiffReport
from evalkit.rundir import write_text

ICON = {
    "passed": "✅ PASSED",
    "failed": "❌ FAILED",
    "regressed": "❌ REGRESSED",
    "errors": "⚠️ ERRORS",
    "interrupted": "⏸️ INTERRUPTED",
}
VERDICT = {
    "regressed": "❌ regressed",
    "worse": "⚠️ worse",
    "improved": "✅ improved",
    "unchanged": "· unchanged",
    "unmeasured": "? unmeasured",
}


def _f(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}g}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render(summary: Summary, diff: DiffReport | None) -> str:
    lines = [f"## evalkit: {ICON.get(summary.status, summary.status)}", ""]
    lines.append(
        f"Run `{summary.run_id}` · {summary.results} results · {summary.errors} errors"
        f" · {summary.error_budget}"
    )
    if summary.aborted:
        lines.append(f"\n> {_cell(summary.aborted)}")
    names: list[str] = []
    for g in summary.groups:
        names += [n for n in g.metrics if n not in names]
    lines += ["", "| suite | variant | n | errors | pass rate | " + " | ".join(names) + " | p95 ms | cost |"]
    lines.append("|" + "---|" * (7 + len(names)))
    for g in summary.groups:
        metrics = [_f(g.metrics[n].mean) if n in g.metrics else "–" for n in names]
        pass_rate = "–" if g.pass_rate is None else f"{g.pass_rate:.1%}"
        cost = "–" if g.cost_usd is None else f"${g.cost_usd:.4f}"
        lines.append(
            f"| {_cell(g.suite)} | {_cell(g.variant)} | {g.results} | {g.errors} | {pass_rate} | "
            + " | ".join(metrics)
            + f" | {_f(g.latency.p95_ms, 4)} | {cost} |"
        )
    failed = [(g, t) for g in summary.groups for t in g.thresholds if not t.passed]
    if failed:
        lines += ["", "**Thresholds not met**", ""]
        lines += [
            f"- {_cell(g.suite)} · {_cell(g.variant)} · `{t.metric}`: {_cell(t.reason)}" for g, t in failed
        ]
    if diff is not None:
        lines += [
            "",
            f"### Against the baseline (α = {diff.alpha:g}, Holm over {diff.family_size} gated comparisons)",
            "",
        ]
        lines += [
            "| suite · variant | metric | baseline | candidate | Δ | 95% CI | MDE | verdict |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for gd in diff.groups:
            for m in gd.metrics:
                if m.delta is None and m.verdict == "unmeasured" and m.kind in ("latency_p95", "cost"):
                    continue
                ci = "–" if m.ci_low is None else f"[{_f(m.ci_low)}, {_f(m.ci_high)}]"
                gate = "" if m.gated else " (not gated)"
                lines.append(
                    f"| {_cell(gd.suite)} · {_cell(gd.variant)} | `{m.metric}` | {_f(m.baseline)} | "
                    f"{_f(m.candidate)} | {_f(m.delta)} | {ci} | {_f(m.mde)} | {VERDICT[m.verdict]}{gate} |"
                )
        for gd in diff.groups:
            if gd.top_regressions and gd.verdict == "regressed":
                lines += ["", f"**Most regressed cases in {_cell(gd.suite)} · {_cell(gd.variant)}**", ""]
                lines += [
                    f"- `{c.case_id}` {c.metric}: {_f(c.baseline)} → {_f(c.candidate)}"
                    for c in gd.top_regressions[:5]
                ]
            for w in gd.warnings:
                lines.append(f"- ⚠️ {_cell(gd.suite)} · {_cell(gd.variant)}: {_cell(w)}")
        for missing in diff.missing_baselines:
            lines.append(f"- no baseline for {_cell(missing)}")
    return "\n".join(lines) + "\n"


def write(path: Path, summary: Summary, diff: DiffReport | None) -> None:
    write_text(path, render(summary, diff))
