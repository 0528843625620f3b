"""What the report says about the run itself reads as a person writes it (issue 24): the start as
`2026-12-07 07:09 UTC`, the duration as `2 min 25 s`, the baselines folder relative to where the
run started - no ISO timestamps with microseconds, no absolute paths of the machine that ran it."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import qa_suite_yaml, write


def test_report_shows_human_times_and_relative_paths(workdir: Path, cli) -> None:
    write(workdir / "suites" / "qa.yaml", qa_suite_yaml(scorers="[exact]"))
    write(workdir / "evalkit.yaml", "providers:\n  local: {type: scripted, default: Paris}\n")
    assert cli("run", "-o", "first").exit_code == 1
    assert cli("baseline", "save", "first").exit_code == 0
    result = cli("run", "-o", "second")
    assert result.exit_code == 1, result.output
    assert "Results in second" in result.output
    page = (workdir / "second" / "report.html").read_text()
    header = page[page.index("<header>") : page.index("</header>")]
    assert re.search(
        r"<dt>started</dt><dd><time datetime=\"[^\"]+\">\d{4}-\d\d-\d\d \d\d:\d\d UTC</time>", header
    )
    assert re.search(r"<dt>took</dt><dd>(\d+\.\d s|\d+ s|\d+ min \d+ s)</dd>", header), header
    assert "gated against baselines" in page
    assert str(workdir) not in page.replace(str(workdir / "second"), "")  # no absolute path shown
