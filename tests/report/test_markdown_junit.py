"""summary.md and junit.xml: the same numbers and verdict words as the terminal, none scientific."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from evalkit.compare.gate import verdict_label
from evalkit.report import junit, markdown
from tests.comparison import VARIANTS, make_comparison

SCIENTIFIC = re.compile(r"\d[eE][+-]?\d")


def test_summary_md_numbers_labels_and_order() -> None:
    summary, diff, _ = make_comparison()
    md = markdown.render(summary, diff)
    assert not SCIENTIFIC.search(md), [line for line in md.splitlines() if SCIENTIFIC.search(line)]
    assert re.search(r"\| \d\d,\d{3} ms \|", md)  # P95 with separators and its unit
    regressed = next(m for g in diff.groups for m in g.metrics if m.verdict == "regressed")
    assert f"❌ {verdict_label(regressed)} |" in md
    assert "`cost per 1k cases`" in md and "`latency P95 ms`" in md
    gate = md[md.index("### Against the baseline") :]
    rows = [line for line in gate.splitlines() if line.startswith("| capitals")]
    variants = [row.split(" | ")[0].split(" · ")[1] for row in rows]
    assert list(dict.fromkeys(variants)) == list(VARIANTS)  # the summary's order, not the diff's


def test_junit_messages_are_readable() -> None:
    summary, diff, results = make_comparison()
    root = ET.fromstring(junit.render(summary, diff, results).split("?>", 1)[1])
    failures = [f for f in root.iter("failure") if f.get("type") == "regression"]
    assert failures
    for failure in failures:
        message = failure.get("message", "")
        assert "→" in message and "95% CI [" in message and "p_adj = " in message
        assert message.endswith(
            verdict_label(next(m for g in diff.groups for m in g.metrics if m.verdict == "regressed"))
        )
    text = ET.tostring(root, encoding="unicode")
    assert not SCIENTIFIC.search(text)
    names = [tc.get("name") for tc in root.iter("testcase")]
    assert "threshold contains min 0.5" in names  # names stay as the suite wrote them
