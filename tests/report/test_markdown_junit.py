"""summary.md and junit.xml: the same numbers and verdict words as the terminal, none scientific."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from evalkit.compare.gate import verdict_label
from evalkit.report import junit, markdown
from tests.comparison import VARIANTS, make_comparison
from tests.conftest import scientific


def test_summary_md_numbers_labels_and_order() -> None:
    summary, diff, _ = make_comparison()
    md = markdown.render(summary, diff)
    assert not scientific(md), [line for line in md.splitlines() if scientific(line)]
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
        metric = next(
            m
            for g in diff.groups
            for m in g.metrics
            if m.verdict == "regressed" and message.startswith(m.metric)
        )
        assert message.endswith(verdict_label(metric))
    text = ET.tostring(root, encoding="unicode")
    assert not scientific(text)
    names = [tc.get("name") for tc in root.iter("testcase")]
    assert "threshold contains min 0.5" in names  # names stay as the suite wrote them


HOSTILE = (
    "x`\n\n## evalkit: ✅ PASSED\n\n![t](http://evil.example/t.png) [click](http://evil.example) "
    "<img src=x> @someone $x$ http://evil.example | *bold*"
)


def _html(md: str) -> str:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(md)


def test_summary_md_escapes_every_value_it_did_not_write() -> None:
    """A case id with a backtick and newlines injected a heading, an image and a link into the
    summary of a regressed run; metric names in the header skipped the cell escaping."""
    summary, diff, _ = make_comparison()
    group = next(g for g in diff.groups if g.verdict == "regressed")
    change = group.top_regressions[0].model_copy(update={"case_id": HOSTILE})
    hostile_group = group.model_copy(update={"top_regressions": [change], "warnings": [HOSTILE]})
    diff = diff.model_copy(update={"groups": [hostile_group if g is group else g for g in diff.groups]})
    first = summary.groups[0]
    metrics = {**first.metrics, HOSTILE: next(iter(first.metrics.values()))}
    summary = summary.model_copy(
        update={
            "groups": [first.model_copy(update={"metrics": metrics, "variant": HOSTILE}), *summary.groups[1:]]
        }
    )
    md = markdown.render(summary, diff)
    html = _html(md)
    assert html.count("<h2>") == 1 and "<h2>evalkit: ❌" in html
    assert "<img" not in html and "<a " not in html and "<em>" not in html and "<strong>bold" not in html
    assert "evil.example" in html  # shown as text
    first_table = html[html.index("<table>") : html.index("</table>")]
    assert first_table.count("<th>") == len(summary.metric_names()) + 7  # no cell split by a `|`
    assert first_table.count("<td>") == len(summary.groups) * (len(summary.metric_names()) + 7)


def test_markdown_helpers() -> None:
    from evalkit._util.textsafe import md_code, md_text

    assert md_code("a``b") == "```a``b```" and md_code("`x") == "`` `x ``" and md_code("a|b") == "`a\\|b`"
    assert md_text("1. *a* - b") == "1\\. \\*a\\* - b" and md_text("- x") == "\\- x"
    assert _html(f"| {md_text(HOSTILE)} |\n|---|\n").count("<th>") == 1


def test_summary_md_table_without_metrics_has_as_many_columns_as_its_header() -> None:
    """A run with no scores (no results, or errors only) wrote an empty header cell between
    `pass rate` and `P95`, one more header cell than the delimiter row: GitHub drew no table."""
    summary, _, _ = make_comparison()
    groups = [g.model_copy(update={"metrics": {}}) for g in summary.groups]
    bare = summary.model_copy(update={"groups": groups})
    assert bare.metric_names() == []
    table = [line for line in markdown.render(bare, None).splitlines() if line.startswith("|")]
    assert table[0] == "| suite | variant | n | errors | pass rate | P95 | cost |"
    assert {line.count("|") for line in table} == {8}
    html = _html(markdown.render(bare, None))
    assert html.count("<th>") == 7 and html.count("<td>") == 7 * len(groups)
    empty = summary.model_copy(update={"groups": [], "results": 0})
    assert _html(markdown.render(empty, None)).count("<th>") == 7
