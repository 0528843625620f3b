"""junit.xml: a testcase per suite × variant × gate (metric diff, threshold), and per failing case."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from pathlib import Path

from evalkit._util.numbers import figure, figure_delta, figure_interval, metric_label, p_value, plain
from evalkit._util.textsafe import xml_text
from evalkit.compare.aggregate import Summary
from evalkit.compare.gate import DiffReport, MetricDiff, verdict_label
from evalkit.rundir.files import write_text
from evalkit.types import CaseResult

CASE_TEXT_LIMIT = 2_000  # characters of a case's output or error embedded per test case
MESSAGE_LIMIT = 200  # characters of a failure's one-line message


def metric_line(m: MetricDiff) -> str:
    name = m.metric
    ci = f" 95% CI {figure_interval(name, m.ci_low, m.ci_high)}" if m.ci_low is not None else ""
    p = ""
    if m.p_value is not None:
        p = (
            f", p_adj = {p_value(m.p_adjusted)}"
            if m.p_adjusted is not None
            else f", p = {p_value(m.p_value)}"
        )
    return (
        f"{metric_label(name)}: {figure(name, m.baseline)} → {figure(name, m.candidate)} "
        f"(Δ {figure_delta(name, m.delta)}{ci}{p}) {verdict_label(m)}"
    )


def render(summary: Summary, diff: DiffReport | None, results: Iterable[CaseResult]) -> str:
    root = ET.Element("testsuites", name="evalkit", id=summary.run_id)
    diffs = {(g.suite, g.variant): g for g in diff.groups} if diff else {}
    failing: dict[tuple[str, str], list[CaseResult]] = {}
    deciding = {(g.suite, g.variant): g.pass_metrics for g in summary.groups}  # the suite's pass rule
    for r in results:
        if r.error is not None or r.passed(deciding.get((r.suite, r.variant))) is False:
            failing.setdefault((r.suite, r.variant), []).append(r)
    total = failures = errors = 0
    for group in summary.groups:
        key = (group.suite, group.variant)
        suite_el = ET.SubElement(root, "testsuite", name=xml_text(f"{group.suite} · {group.variant}"))
        classname = xml_text(f"evalkit.{group.suite}.{group.variant}")
        s_tests = s_fail = s_err = 0
        gd = diffs.get(key)
        changes = "".join(
            f"\nchanged since the baseline: {p.what} {p.baseline} → {p.candidate}"
            for p in (gd.provenance if gd else [])
        )
        for m in gd.metrics if gd else []:
            if not m.gated:
                continue
            case = ET.SubElement(
                suite_el, "testcase", classname=classname, name=f"gate {m.metric} vs baseline"
            )
            s_tests += 1
            ET.SubElement(case, "system-out").text = metric_line(m) + changes
            if m.verdict == "regressed":
                s_fail += 1
                failure = ET.SubElement(case, "failure", message=metric_line(m), type="regression")
                failure.text = metric_line(m)
        for t in group.thresholds:
            # the test's name stays what the suite says (CI tools track tests by name)
            bounds = " ".join(f"{k} {plain(v)}" for k, v in (("min", t.min), ("max", t.max)) if v is not None)
            case = ET.SubElement(
                suite_el, "testcase", classname=classname, name=f"threshold {t.metric} {bounds}"
            )
            s_tests += 1
            if not t.passed:
                s_fail += 1
                reason = xml_text(t.reason, CASE_TEXT_LIMIT)
                ET.SubElement(case, "failure", message=reason, type="threshold").text = reason
        for r in sorted(failing.get(key, []), key=lambda x: (x.case_id, x.repeat)):
            name = xml_text(f"case {r.case_id}" + (f" repeat {r.repeat}" if r.repeat else ""), MESSAGE_LIMIT)
            case = ET.SubElement(suite_el, "testcase", classname=classname, name=name)
            s_tests += 1
            if r.error is not None:
                s_err += 1
                error_el = ET.SubElement(
                    case, "error", message=xml_text(r.error[:MESSAGE_LIMIT]), type="generation"
                )
                error_el.text = xml_text(r.error, CASE_TEXT_LIMIT)
            else:
                s_fail += 1
                among = deciding.get(key)
                reasons = [
                    f"{n}: {s.reason or figure(n, s.value)}"
                    for n, s in r.scores.items()
                    if s.passed is False and (among is None or n in among)
                ]
                detail = xml_text("\n".join(reasons), CASE_TEXT_LIMIT)
                detail += "\n\noutput:\n" + xml_text(r.output or "", CASE_TEXT_LIMIT)
                message = xml_text("; ".join(reasons)[:MESSAGE_LIMIT])
                ET.SubElement(case, "failure", message=message, type="case").text = detail
        suite_el.set("tests", str(s_tests))
        suite_el.set("failures", str(s_fail))
        suite_el.set("errors", str(s_err))
        total, failures, errors = total + s_tests, failures + s_fail, errors + s_err
    root.set("tests", str(total))
    root.set("failures", str(failures))
    root.set("errors", str(errors))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def write(path: Path, summary: Summary, diff: DiffReport | None, results: Iterable[CaseResult]) -> None:
    write_text(path, render(summary, diff, results))
