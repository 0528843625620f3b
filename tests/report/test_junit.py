"""junit.xml and summary.md from a real run whose outputs are hostile: lone surrogates,
control characters, megabyte answers."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from tests.conftest import write
from tests.fake_openai import FakeOpenAI


def hostile(body: dict) -> str:
    q = body["messages"][-1]["content"]
    if q.endswith("0"):
        return "lone \ud800 surrogate"  # sent as the JSON escape \ud800, which is valid JSON
    if q.endswith("1"):
        return "bell \x07 escape \x1b[31m nul \x00 end"
    return "x" * 1_000_000


def test_hostile_outputs_give_valid_small_ci_files(workdir: Path, cli) -> None:
    cases = "\n".join(f"  - {{id: c{i}, vars: {{q: 'question {i}'}}}}" for i in range(5))
    write(
        workdir / "s.yaml",
        f'name: s\nprompt: "{{{{ q }}}}"\nscorers:\n  - {{type: contains, text: Paris}}\ncases:\n{cases}\n',
    )
    with FakeOpenAI(responder=hostile) as server:
        write(
            workdir / "evalkit.yaml",
            f"providers:\n  api: {{type: openai, base_url: '{server.url}', model: m}}\n",
        )
        result = cli("run", "s.yaml", "--out", "out", "--no-baseline", "--no-cache")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (workdir / "out" / "results.jsonl").read_text("utf-8").splitlines()]
    assert {r["case_id"]: r["output"] for r in rows}["c0"] == "lone \ufffd surrogate"
    junit = workdir / "out" / "junit.xml"
    root = ET.parse(junit).getroot()  # valid XML: control characters replaced
    texts = [f.text or "" for f in root.iter("skipped")]  # failing cases that gate nothing: skipped
    assert len(texts) == 5 and any("bell \ufffd escape \ufffd[31m nul \ufffd end" in t for t in texts)
    assert junit.stat().st_size < 50_000  # three 1 MB answers are not embedded whole
    assert any("more characters not shown" in t for t in texts)
    assert (workdir / "out" / "summary.md").stat().st_size < 20_000


HOSTILE_XML = [
    "a&b<c>\"d'e",
    "line1\nline2\r\nx\ty\rz",
    "]]><!-- &amp; &#10;",
    "é ü 😀",
    "  spaced  ",
]


def test_the_heads_are_written_exactly_as_elementtree_writes_them() -> None:
    """The file's declaration and the <testsuites> / <testsuite> heads are written as text too
    (evalkit does not import xml.etree): as `ET.tostring` writes them, whatever the names."""
    from evalkit.report.junit import DECLARATION, _empty_element, _Suite

    for text in HOSTILE_XML:
        attrs = {"name": "evalkit", "id": text, "tests": "3", "failures": "0"}
        root = ET.Element("testsuites", **attrs)
        assert DECLARATION + _empty_element("testsuites", list(attrs.items())) == ET.tostring(
            root, encoding="unicode", xml_declaration=True
        )
        empty = ET.Element("testsuite", name=text, tests="0", failures="0", errors="0", skipped="0")
        assert "".join(_Suite(text, "c").pieces()) == "\n  " + ET.tostring(empty, encoding="unicode")


def test_test_cases_are_written_exactly_as_elementtree_writes_them() -> None:
    """junit.xml's test cases are written as text, not through ElementTree: every attribute
    and text is escaped as ElementTree escapes it, indented as `ET.indent` indents, and parses
    back to the very strings given ("\\r" and tabs included)."""
    from evalkit.report.junit import _Suite

    for text in HOSTILE_XML:
        suite = _Suite("s", f"evalkit.{text}")
        bare = suite.case(f"case {text}")
        suite.flush()
        case = suite.case(f"case {text}", out=text)
        suite.outcome(case, "skipped", text, f"kind {text}", detail=text)
        suite.outcome(case, "failure", text, "k")
        suite.flush()
        assert bare.children == []
        written = "".join(suite.pieces())
        expected = ET.Element("testsuite", name="s", tests="2", failures="1", errors="0", skipped="1")
        ET.SubElement(expected, "testcase", classname=f"evalkit.{text}", name=f"case {text}")
        full = ET.SubElement(expected, "testcase", classname=f"evalkit.{text}", name=f"case {text}")
        ET.SubElement(full, "system-out").text = text
        ET.SubElement(full, "skipped", message=text, type=f"kind {text}").text = text
        ET.SubElement(full, "failure", message=text, type="k")
        ET.indent(expected, space="  ", level=1)
        assert written == "\n  " + ET.tostring(expected, encoding="unicode").removesuffix("\n  ")
        parsed = ET.fromstring(written)
        assert parsed[1].get("name") == f"case {text}"
        assert parsed[1][0].text == text.replace("\r\n", "\n").replace("\r", "\n")  # XML's line ends
        assert parsed[1][1].get("message") == text  # attributes keep \r, \n and \t (as entities)
