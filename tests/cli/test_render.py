"""The terminal output through fixed-width consoles: tables fit, nothing is cut or written in
scientific notation, quiet groups take one line, and the gate follows the summary's order."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console

from evalkit.cli import console as terminal
from evalkit.cli import render
from tests.comparison import LONG_WARNING, VARIANTS, make_comparison
from tests.conftest import scientific


def shown(monkeypatch: pytest.MonkeyPatch, width: int) -> str:
    out = Console(width=width, file=io.StringIO(), record=True, color_system=None)
    for module in (render, terminal):  # the tables, and the warnings (evalkit.cli.console)
        monkeypatch.setattr(module, "console", out)
        monkeypatch.setattr(module, "err_console", out)
    summary, diff, _ = make_comparison()
    render.show_summary(summary, "reports/x", diff)
    return out.export_text()


@pytest.mark.parametrize("width", [80, 120])
def test_tables_fit_and_numbers_are_readable(monkeypatch: pytest.MonkeyPatch, width: int) -> None:
    text = shown(monkeypatch, width)
    lines = text.splitlines()
    assert max(len(line.rstrip()) for line in lines) <= width
    assert "…" not in text.replace("case-13 …", "")  # the one intended ellipsis: more cases follow
    assert not scientific(text), [line for line in lines if scientific(line)]
    # latency in tens of seconds: with thousands separators; costs in dollars
    assert re.search(r"\d\d,\d{3} / \d\d,\d{3}", text) and "$0.0" in text
    for variant in VARIANTS:  # variant names whole, never folded
        assert variant in text
    table_rows = [line for line in lines if line.startswith("│")]
    assert any("✗ regressed" in row for row in table_rows)


@pytest.mark.parametrize("width", [80, 120])
def test_quiet_groups_collapse_and_order_follows_the_summary(
    monkeypatch: pytest.MonkeyPatch, width: int
) -> None:
    text = shown(monkeypatch, width)
    quiet = [line for line in text.splitlines() if VARIANTS[0] in line and "vs baseline" in line]
    assert len(quiet) == 1 and "no significant change" in quiet[0] and "4 metrics" in " ".join(text.split())
    # the diff lists v3, v2, v1; the terminal shows them as the summary does: v1, v2, v3
    positions = [text.index(f"capitals · {v}") for v in VARIANTS]
    assert positions == sorted(positions)


def test_wide_gate_table_keeps_every_column(monkeypatch: pytest.MonkeyPatch) -> None:
    wide = shown(monkeypatch, 160)  # the verdict words ("no detectable change") need the room
    narrow = shown(monkeypatch, 80)
    assert "MDE" in wide and "baseline ┃" in wide
    assert "MDE" not in narrow and "95% CI" in narrow  # dropped by priority, the interval kept


def test_warnings_wrap_between_words(monkeypatch: pytest.MonkeyPatch) -> None:
    text = shown(monkeypatch, 120)
    start = text.index("warning:")
    words = text[start:].split()
    for word in LONG_WARNING.split():
        assert word in words, word  # no word broken across lines


def test_control_characters_in_data_never_reach_the_terminal(workdir, cli) -> None:
    """ESC/OSC sequences in a case id (retitle the window, hide text, write the clipboard) reached
    the terminal; they are shown as escapes. Through the real CLI, as a user's terminal gets it."""
    import subprocess
    import sys

    from tests.conftest import write

    hostile = "c\x1b]0;pwned\x07\x1b[2J\x9b31m\u202egnp.exe"
    write(workdir / "evalkit.yaml", "providers:\n  api: {type: scripted, default: ok}\n")
    write(
        workdir / "s.yaml",
        f'name: s\nprompt: "q"\nscorers: [exact]\ncases:\n  - {{id: "{hostile.encode("unicode_escape").decode()}"}}\n',
    )
    proc = subprocess.run(
        [sys.executable, "-m", "evalkit", "run", "s.yaml", "-o", "out"],
        cwd=workdir,
        capture_output=True,
        timeout=120,
    )
    shown_bytes = proc.stdout + proc.stderr
    assert proc.returncode == 2 and b"has no reference" in shown_bytes  # the case is named ...
    assert b"\x1b]" not in shown_bytes and b"\x1b[2J" not in shown_bytes and b"\x07" not in shown_bytes
    assert "\u202e".encode() not in shown_bytes and "\x9b".encode() not in shown_bytes
    assert b"c\\x1b]0;pwned\\x07\\x1b[2J\\x9b31m\\u202egnp.exe" in shown_bytes  # ... as escapes


def test_a_newline_in_a_case_id_or_suite_name_cannot_print_a_line_of_its_own(workdir, cli) -> None:
    """A case id or suite name holding a newline printed a second line that read as evalkit's own
    (`PASSED ...`) in a failing run's log: shown as an escape, on the line it belongs to."""
    import subprocess
    import sys

    from tests.conftest import write

    forged = "PASSED  2 results, 0 errors"
    write(workdir / "evalkit.yaml", "providers:\n  api: {type: scripted, default: ok}\n")
    cases = '  - {id: "c\\nPASSED  2 results, 0 errors", reference: ok}\n  - {id: d, reference: ok}\n'
    write(workdir / "s.yaml", f'name: "s\\n{forged}"\nprompt: "q"\nscorers: [exact]\ncases:\n{cases}')
    assert cli("run", "s.yaml", "-o", "good", "--no-history").exit_code == 0
    assert cli("baseline", "save", "good", "--to", "bl").exit_code == 0
    write(workdir / "evalkit.yaml", "providers:\n  api: {type: scripted, default: bad}\n")
    proc = subprocess.run(
        [sys.executable, "-m", "evalkit", "run", "s.yaml", "-o", "bad", "--baseline", "bl", "--no-history"],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=120,
        env={**__import__("os").environ, "COLUMNS": "200"},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr  # 2 cases pass → fail: not significant
    lines = (proc.stdout + proc.stderr).splitlines()
    assert [line for line in lines if line.startswith("PASSED")] == [f"{forged} · max_error_rate=0.1"]
    assert any("c\\x0aPASSED" in line for line in lines) and any("s\\x0aPASSED" in line for line in lines)


def test_tokens_not_reported_show_as_missing_not_zero(workdir, cli) -> None:
    """A provider that counts no tokens (scripted, Python) showed `0 / 0`, as if the model had read
    nothing; the terminal and the report show `– / –`, and summary.json keeps the counts unset."""
    import json

    from tests.conftest import write

    write(workdir / "evalkit.yaml", "providers:\n  api: {type: scripted, default: ok}\n")
    write(workdir / "s.yaml", 'name: s\nprompt: "q"\nscorers: [exact]\ncases:\n  - {id: a, reference: ok}\n')
    result = cli("run", "s.yaml", "-o", "out", "--no-history")
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if "tokens in / out" in line)
    assert "– / –" in row and "0 / 0" not in row
    tokens = json.loads((workdir / "out" / "summary.json").read_text())["groups"][0]["tokens"]
    assert tokens["mean_input_per_case"] is None and tokens["input"] == 0
    html = (workdir / "out" / "report.html").read_text()
    assert re.search(r"tokens in / out</[^>]+>\s*<[^>]+>– / –<", html), "report row"
