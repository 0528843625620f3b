"""Issue 29.4: causes in plain sight. Requests that all fail the same way stop the run early and
say why on the terminal, in summary.md and in the report; a judge whose replies cannot be parsed
is named as a judge error."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

from tests.conftest import write


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed when the block ends: connections are refused


def suite(workdir: Path, n: int, scorers: str = "[contains]") -> None:
    cases = "\n".join(f"  - {{id: c{i:02d}, vars: {{n: {i}}}, reference: Paris}}" for i in range(n))
    write(
        workdir / "s.yaml", f"name: s\nprompt: 'Capital {{{{ n }}}}?'\nscorers: {scorers}\ncases:\n{cases}\n"
    )


def test_a_refused_connection_stops_the_run_and_says_why(workdir: Path, cli: Any) -> None:
    port = closed_port()
    write(
        workdir / "evalkit.yaml",
        f"providers:\n  api: {{type: openai, base_url: 'http://127.0.0.1:{port}/v1', model: m, max_attempts: 2,"
        " concurrency: 1}\ncache: {enabled: false}\nhistory: {enabled: false}\n",
    )
    suite(workdir, 40)
    result = cli("run", "s.yaml", "-o", "out", "--no-baseline")
    said = " ".join(result.output.split())
    assert result.exit_code == 3, result.output
    assert "stopped early: the first 5 requests to provider 'api' all failed: connection refused" in said
    rows = (workdir / "out" / "results.jsonl").read_text().splitlines()
    assert 5 <= len(rows) < 40  # not every case was retried
    line = f"{len(rows)} errors: connection refused ({len(rows)})"
    assert line in said  # the terminal
    assert (
        f"**{len(rows)} errors**: connection refused ({len(rows)})"
        in (workdir / "out" / "summary.md").read_text()
    )
    assert line in (workdir / "out" / "report.html").read_text()
    summary = json.loads((workdir / "out" / "summary.json").read_text())
    assert summary["groups"][0]["error_causes"] == {"connection refused": len(rows)}


def test_the_breaker_can_be_turned_off(workdir: Path, cli: Any) -> None:
    port = closed_port()
    write(
        workdir / "evalkit.yaml",
        f"providers:\n  api: {{type: openai, base_url: 'http://127.0.0.1:{port}/v1', model: m, max_attempts: 1}}\n"
        "cache: {enabled: false}\nhistory: {enabled: false}\nrun: {stop_after_failures: 0}\n",
    )
    suite(workdir, 8)
    result = cli("run", "s.yaml", "-o", "out", "--no-baseline")
    assert result.exit_code == 3 and "stopped early" not in result.output
    assert len((workdir / "out" / "results.jsonl").read_text().splitlines()) == 8


def test_unparseable_judge_replies_are_named_judge_errors(workdir: Path, cli: Any) -> None:
    write(
        workdir / "evalkit.yaml",
        "providers:\n  api: {type: scripted, default: Paris}\n  grader: {type: scripted, default: 'Hmm, hard to say.'}\n"
        "history: {enabled: false}\n",
    )
    suite(
        workdir,
        6,
        "[{type: judge, provider: grader, mode: pass_fail, name: correct, criteria: Names Paris.}]",
    )
    result = cli("run", "s.yaml", "-o", "out", "--no-baseline")
    said = " ".join(result.output.split())
    assert result.exit_code == 3, result.output
    assert "6 unmeasured scores: correct: judge error: reply not parseable (6)" in said
    md = (workdir / "out" / "summary.md").read_text()
    assert "**6 unmeasured scores**: correct: judge error: reply not parseable (6)" in md
