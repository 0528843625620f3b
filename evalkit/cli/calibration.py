"""Terminal output of `evalkit labels import` and `evalkit calibrate` (fits 80 columns)."""

from __future__ import annotations

from evalkit.cli.render import console, escape
from evalkit.human.calibrate import Agreement, Calibration, Figure


def _num(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "–"
    return f"{value:+.3f}" if signed else f"{value:.3f}"


def figure(f: Figure | None, signed: bool = False) -> str:
    if f is None or f.value is None:
        return "–  (undefined: one category only)" if f is not None else "–"
    ci = f"[{_num(f.ci_low, signed)}, {_num(f.ci_high, signed)}]" if f.ci_low is not None else "[–]"
    return f"{_num(f.value, signed)}  {ci}  n={f.n}"


def show_agreement(a: Agreement, confidence: float) -> None:
    kind = "1–5 ratings" if a.kind == "rating" else "pass/fail"
    people = ", ".join(a.labellers[:4]) + (f" +{len(a.labellers) - 4}" if len(a.labellers) > 4 else "")
    console.print(
        f"[bold]{escape(a.score)}[/] vs people ({kind}): {a.labels} labels on {a.outputs} outputs, "
        f"by {escape(people)}",
        highlight=False,
    )
    kappa = "κ (quadratic)" if a.kappa_weights else "Cohen's κ"
    rows = [("accuracy", figure(a.accuracy)), (kappa, figure(a.kappa))]
    if a.alpha_people is not None:
        rows.append(("α people", figure(a.alpha_people)))
    if a.alpha_with_scorer is not None:
        rows.append(("α with scorer", figure(a.alpha_with_scorer)))
    what = "pass rate" if a.kind == "pass_fail" else "mean rating"
    rows.append(("leniency", figure(a.leniency, signed=True) + f"  ({what}: scorer − people)"))
    for name, text in rows:
        console.print(f"  {name:<14}{escape(text)}", highlight=False)
    console.print(f"  confusion (rows people, columns scorer; {confidence:.0%} CIs above):", highlight=False)
    console.print("  " + " " * 8 + "".join(f"{c:>6}" for c in a.categories), highlight=False)
    for category, row in zip(a.categories, a.confusion, strict=True):
        console.print(f"  {category:>8}" + "".join(f"{v:>6}" for v in row), highlight=False)
    for w in a.warnings:
        console.print(f"  [yellow]warning:[/] {escape(w)}", highlight=False)
    for d in a.disagreements[:3]:
        text = f"{d.suite}/{d.case}/{d.variant}#{d.repeat}: scorer {d.scorer}; " + "; ".join(d.people)
        console.print(f"  [yellow]≠[/] {escape(text[:74])}", highlight=False)


def show_calibration(cal: Calibration, path: str) -> None:
    if not cal.agreements:
        console.print("no labelled output carries a judge or pass/fail score to compare", highlight=False)
    for a in cal.agreements:
        show_agreement(a, cal.confidence)
    for c in cal.consistency:
        what = "self-agreement" if c.check == "self_agreement" else "order-swap agreement"
        console.print(
            f"[bold]{escape(c.judge)}[/] {what}: {c.mean:.3f} over {c.n} outputs · "
            f"{len(c.flaky)} judge-flaky",
            highlight=False,
        )
        for key in c.flaky[:3]:
            console.print(f"  [yellow]~[/] {escape(key[:74])}", highlight=False)
    console.print(f"wrote {path}", highlight=False)
